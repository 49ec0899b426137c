"""One-step recurrent cells: the math of a single time step."""

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.cells.rnn import RNNCell

__all__ = ["GRUCell", "LSTMCell", "MinGRUCell", "MinLSTMCell", "RNNCell", "RecurrentCell",
           "State"]
