"""What the reference cells share: activations, the gradient record, and input checks.

Everything here is plain NumPy in float64, so the reference never borrows torch's autograd
or kernels and can serve as an independent check on them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
"""A float64 NumPy array; every reference computation runs in this precision."""

Params = Mapping[str, ArrayLike]
"""Parameters by torch.nn's cell names (``weight_ih``, ``bias_hh``, ``weight_ci``, ...)."""

BIAS_NAMES = ("bias_ih", "bias_hh")

# A layer's parameter name: base name, layer index, optional reverse direction.
_LAYER_SUFFIX = re.compile(r"(?P<base>.+)_l(?P<layer>\d+)(?P<reverse>_reverse)?")


# --- activations ----------------------------------------------------------------------
def sigmoid(a: Array) -> Array:
    """The logistic function 1 / (1 + exp(-a)).

    Written as 0.5 * (1 + tanh(a / 2)), the same function, because exp(-a) overflows for
    very negative ``a`` while tanh never does. Its derivative is s * (1 - s).
    """
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def tanh(a: Array) -> Array:
    """The hyperbolic tangent; its derivative is 1 - tanh(a)**2."""
    return np.tanh(a)


def relu(a: Array) -> Array:
    """max(a, 0); its derivative is taken as 1 where a > 0 and 0 elsewhere (torch's choice)."""
    return np.maximum(a, 0.0)


def split_gates(stacked: Array, gates: int) -> list[Array]:
    """Split the last axis of ``(..., gates * hidden)`` into ``gates`` blocks of ``hidden``."""
    return np.split(stacked, gates, axis=-1)


# --- results --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Gradients:
    """Gradients of a scalar loss with respect to everything a forward pass consumed.

    Attributes:
        params: one array per parameter, same names and shapes as the ``params`` given.
        x:  (batch, time, input_size), the gradient for the input sequence.
        h0: (batch, hidden), the gradient for the initial hidden state.
        c0: (batch, hidden) for the LSTM's initial cell state, None for the other cells.
    """

    params: dict[str, Array]
    x: Array
    h0: Array
    c0: Array | None = None


# --- parameters from rnnkit modules ---------------------------------------------------
def params_from_cell(module: Any) -> dict[str, Array]:
    """An rnnkit (or torch.nn) cell's parameters as float64 NumPy copies, by cell name.

    Accepts a cell (``rnnkit.LSTMCell`` ...), whose names are already ``weight_ih`` etc.,
    or a one-layer, one-direction layer (``rnnkit.LSTM`` ...), whose ``_l0`` suffix is
    dropped. The copies are detached: changing them does not change the module.
    """
    if not hasattr(module, "named_parameters"):
        raise TypeError(
            f"params_from_cell expected a cell or layer module, got {type(module).__name__}"
        )
    params = {}
    for name, tensor in module.named_parameters():
        match = _LAYER_SUFFIX.fullmatch(name)
        if match is not None and (match["layer"] != "0" or match["reverse"]):
            # weight_ih_l1 or weight_ih_l0_reverse: several cells share this module.
            raise ValueError("params_from_cell expected a single-layer, single-direction "
                             f"module, found parameter {name!r}")
        base = name if match is None else match["base"]
        params[base] = tensor.detach().cpu().double().numpy().copy()
    return params


# --- input checks ---------------------------------------------------------------------
def as_float64(owner: str, name: str, value: object) -> Array:
    """``value`` as a float64 array, or a ValueError naming what could not be converted."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{owner} expected {name} to be a numeric array, got {type(value).__name__}"
        ) from error


def check_params(
    owner: str, params: object, gates: int, extra_names: Iterable[str] = ()
) -> tuple[dict[str, Array], int, int]:
    """Check a cell's parameters; return them as float64 with ``(input_size, hidden)``.

    ``weight_ih`` (gates * hidden, input_size) and ``weight_hh`` (gates * hidden, hidden)
    are required; ``bias_ih`` and ``bias_hh`` (gates * hidden,) come together or not at all;
    ``extra_names`` (the LSTM's peepholes) are allowed with shape (hidden,). Anything else is
    an error, so a parameter the reference would silently ignore cannot slip through.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"{owner} expected params to be a dict of arrays, "
                         f"got {type(params).__name__}")
    extra_names = tuple(extra_names)
    unknown = sorted(set(params) - {"weight_ih", "weight_hh", *BIAS_NAMES, *extra_names})
    if unknown:
        hint = " (projection, proj_size > 0, is not supported)" if "weight_hr" in unknown else ""
        raise ValueError(f"{owner} got unexpected parameters {unknown}{hint}")
    for name in ("weight_ih", "weight_hh"):
        if name not in params:
            raise ValueError(f"{owner} expected params to contain {name!r}")
    if (BIAS_NAMES[0] in params) != (BIAS_NAMES[1] in params):
        raise ValueError(f"{owner} expected both bias_ih and bias_hh or neither, "
                         f"got only {[n for n in BIAS_NAMES if n in params]}")
    arrays = {name: as_float64(owner, name, value) for name, value in params.items()}
    weight_hh = arrays["weight_hh"]
    if weight_hh.ndim != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1]:
        rows = "hidden" if gates == 1 else f"{gates} * hidden"
        raise ValueError(f"{owner} expected weight_hh of shape ({rows}, hidden), "
                         f"got {weight_hh.shape}")
    hidden = weight_hh.shape[1]
    if hidden < 1:
        raise ValueError(f"{owner} expected hidden size of at least 1, got weight_hh of shape "
                         f"{weight_hh.shape}")
    weight_ih = arrays["weight_ih"]
    if weight_ih.ndim != 2 or weight_ih.shape[0] != gates * hidden:
        raise ValueError(f"{owner} expected weight_ih of shape ({gates * hidden}, input_size) "
                         f"to match weight_hh {weight_hh.shape}, got {weight_ih.shape}")
    expected = {name: (gates * hidden,) for name in BIAS_NAMES}
    expected.update({name: (hidden,) for name in extra_names})
    for name, shape in expected.items():
        if name in arrays and arrays[name].shape != shape:
            raise ValueError(f"{owner} expected {name} of shape {shape}, "
                             f"got {arrays[name].shape}")
    return arrays, weight_ih.shape[1], hidden


def check_sequence(owner: str, x: object, input_size: int) -> Array:
    """Check the input sequence: 3-D (batch, time, input_size) with batch, time >= 1."""
    x = as_float64(owner, "x", x)
    if x.ndim != 3:
        raise ValueError(f"{owner} expected x to be 3-D (batch, time, input_size), "
                         f"got shape {x.shape}")
    batch, time, features = x.shape
    if features != input_size:
        raise ValueError(f"{owner} expected x with input_size={input_size} features (the "
                         f"second dimension of weight_ih), got shape {x.shape}")
    if time < 1:
        raise ValueError(f"{owner} expected at least one time step, got x of shape {x.shape}")
    if batch < 1:
        raise ValueError(f"{owner} expected a batch of at least one sequence, "
                         f"got x of shape {x.shape}")
    return x


def check_array(owner: str, name: str, value: object, shape: tuple[int, ...]) -> Array:
    """``value`` as float64 of exactly ``shape``; None stands for zeros of that shape.

    Used for initial states and for the incoming gradients, where None means "this
    quantity does not enter the loss".
    """
    if value is None:
        return np.zeros(shape)
    array = as_float64(owner, name, value)
    if array.shape != shape:
        raise ValueError(f"{owner} expected {name} of shape {shape}, got {array.shape}")
    return array


def check_cache_sizes(
    owner: str, params: Mapping[str, Array], gates: int, x: Array, states: Array
) -> None:
    """Refuse parameters of other sizes than those the forward pass (the cache) used."""
    expected = (gates * states.shape[2], x.shape[2])
    if params["weight_ih"].shape != expected:
        raise ValueError(f"{owner} expected weight_ih of shape {expected} to match the cache "
                         f"from forward, got {params['weight_ih'].shape}")


def bias_or_zeros(params: Mapping[str, Array], name: str, size: int) -> Array:
    """A bias, or zeros when the cell has none, so the equations read the same either way."""
    return params[name] if name in params else np.zeros(size)


def parameter_gradients(
    params: Mapping[str, Array], found: Mapping[str, Array]
) -> dict[str, Array]:
    """Keep only the gradients of parameters that exist, in the order ``params`` lists them."""
    return {name: found[name] for name in params}
