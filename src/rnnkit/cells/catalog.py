"""THE list of recurrent cells rnnkit offers by name, and the one place a name becomes a cell.

Every command and config that names a cell takes these names (``lstm``, ``gru``,
``rnn_tanh``, ``rnn_relu``, ``irnn``, ``mingru``, ``minlstm``);
:func:`rnnkit.layers.factory.build_layer` turns one into a layer and :func:`build_cell` into
a one-step cell, with the same options, so a gradient probe and a trained model that name
the same cell get the same recurrence.

A variant is a cell kind (``rnn``, ``lstm``, ``gru``, ``mingru``, ``minlstm``) plus the
options that make it that variant: ``irnn`` is the ReLU RNN with an identity recurrent
matrix and zero bias (Le et al. 2015, "A Simple Way to Initialize Recurrent Networks of
Rectified Linear Units").
Adding a variant is one entry here (plus its step function if its kind is new).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.validation import check_choice, check_positive_int

CELL_CLASSES: dict[str, type[nn.Module]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell,
                                            "mingru": MinGRUCell, "minlstm": MinLSTMCell}
# Kinds whose gates read the input only, so a whole sequence is one scan (Feng et al. 2024).
MINIMAL_KINDS = ("mingru", "minlstm")


@dataclass(frozen=True)
class CellVariant:
    """A named cell: its kind and the constructor options that make it this variant
    (fixed: a caller may not ask for other values of them)."""

    kind: str
    fixed: dict[str, Any] = field(default_factory=dict)


CATALOG: dict[str, CellVariant] = {
    "lstm": CellVariant("lstm"),  # gates i f g o, forget-gate bias 1
    "gru": CellVariant("gru"),  # gates r z n, torch.nn's form
    "rnn_tanh": CellVariant("rnn", {"nonlinearity": "tanh"}),  # Elman RNN
    "rnn_relu": CellVariant("rnn", {"nonlinearity": "relu"}),
    # ReLU RNN from an identity recurrent matrix and zero bias (Le et al. 2015)
    "irnn": CellVariant("rnn", {"nonlinearity": "relu", "init": "identity"}),
    # No state in the gates: h_t = a_t h_(t-1) + b_t, trained as a scan (Feng et al. 2024)
    "mingru": CellVariant("mingru"),
    "minlstm": CellVariant("minlstm"),
}
CELL_NAMES: tuple[str, ...] = tuple(CATALOG)


def variant_options(name: str, options: dict[str, Any], owner: str) -> tuple[str, dict[str, Any]]:
    """The kind of cell ``name`` and ``options`` with the variant's fixed ones added.

    ``owner`` names the caller in the errors: an unknown name, or an option the variant
    fixes asked for with another value.

    Example:
        >>> variant_options("irnn", {"bias": True}, "example")
        ('rnn', {'bias': True, 'nonlinearity': 'relu', 'init': 'identity'})
    """
    check_choice(owner, "cell", name, CELL_NAMES)
    variant = CATALOG[name]
    for key, value in variant.fixed.items():
        if key in options and options[key] != value:
            raise ValueError(f"{owner}: cell={name!r} fixes {key}={value!r}, got "
                             f"{key}={options[key]!r}")
    return variant.kind, {**options, **variant.fixed}


def build_cell(name: str, input_size: int, hidden_size: int, *,
               dtype: torch.dtype | None = None, **options: Any) -> nn.Module:
    """A freshly initialised one-step cell by catalogue name.

    ``options`` go to the cell's constructor (e.g. ``forget_bias=1.0`` for ``lstm``).

    Example:
        >>> cell = build_cell("irnn", 3, 4)
        >>> bool((cell.weight_hh == torch.eye(4)).all()), cell.nonlinearity
        (True, 'relu')
    """
    kind, options = variant_options(name, options, "build_cell")
    check_positive_int("build_cell", "input_size", input_size)
    check_positive_int("build_cell", "hidden_size", hidden_size)
    return CELL_CLASSES[kind](input_size, hidden_size, dtype=dtype, **options)
