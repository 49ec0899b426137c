"""A recurrent layer's state: ``h`` alone or ``(h, c)``, each (layers * directions, batch,
size). The zeros a forward starts from, the check of a given one, the form handed back to
the caller, and what a carried state needs between windows (detach, map)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnnkit.cells.base import State
from rnnkit.validation import check_state, check_tensor

#: What a layer takes and returns as ``hx``: ``h``, or ``(h, c)`` for an LSTM.
RecurrentState = Tensor | tuple[Tensor, Tensor]


def state_names(sizes: tuple[int, ...]) -> tuple[str, ...]:
    """The names the errors use for the state's tensors, as torch.nn's: ``hx`` or
    ``(h_0, c_0)``."""
    return ("hx",) if len(sizes) == 1 else ("h_0", "c_0")


def initial_state(owner: str, hx: object, sizes: tuple[int, ...], stacked: int, batch: int,
                  batched: bool, input: Tensor) -> State:
    """The state a forward starts from: zeros when ``hx`` is ``None``, else ``hx`` checked
    (one tensor per size in ``sizes``, shaped (stacked, batch, size), or (stacked, size)
    for an unbatched input, in the input's dtype and device) and given a batch axis."""
    if hx is None:
        return tuple(input.new_zeros(stacked, batch, size) for size in sizes)
    checked = []
    names = state_names(sizes)
    for name, tensor, size in zip(names, _state_parts(owner, hx, names), sizes, strict=True):
        expected = (stacked, batch, size) if batched else (stacked, size)
        tensor = check_state(owner, name, tensor, expected, input.dtype, input.device)
        checked.append(tensor if batched else tensor.unsqueeze(1))
    return tuple(checked)


def _state_parts(owner: str, hx: object, names: tuple[str, ...]) -> tuple[object, ...]:
    if len(names) == 1:
        return (check_tensor(owner, "hx", hx),)
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{owner} expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
    return tuple(hx)


def public_state(state: State) -> RecurrentState:
    """The state as a layer hands it back: ``h``, or the tuple ``(h, c)``."""
    return state[0] if len(state) == 1 else (state[0], state[1])


def map_state(state: RecurrentState | None,
              function: Callable[[Tensor], Tensor]) -> RecurrentState | None:
    """``function`` applied to every tensor of a state (a tensor, or a tuple ``(h, c)``);
    ``None`` (no state yet) stays ``None``."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(function(part) for part in state)  # type: ignore[return-value]
    return function(state)


def from_autocast(value: object, dtype: torch.dtype) -> object:
    """``value`` (a tensor, a PackedSequence, or a tuple or list of them) with every tensor
    in the autocast type active on its device brought to ``dtype`` (the parameters'); anything
    else as is.

    Under autocast torch.nn's layers take an input or state in the low-precision type (a
    bf16 encoder state handed to a decoder, say), since autocast casts for the fused kernel
    anyway. rnnkit's layers take them too: in the parameters' dtype they suit both torch's
    kernels (autocast casts them down again, losslessly) and rnnkit's own, which run in the
    parameters' dtype with autocast off.
    """
    if isinstance(value, PackedSequence):
        return value._replace(data=from_autocast(value.data, dtype))
    if type(value) in (tuple, list):
        return type(value)(from_autocast(part, dtype) for part in value)  # type: ignore[call-arg]
    if (isinstance(value, Tensor) and value.is_floating_point()
            and torch.is_autocast_enabled(value.device.type)
            and value.dtype == torch.get_autocast_dtype(value.device.type)):
        return value.to(dtype)
    return value


def detach_state(state: RecurrentState | None) -> RecurrentState | None:
    """Cut the graph behind a carried state, so backpropagation stops at the window edge."""
    return map_state(state, Tensor.detach)
