"""Weight initialization schemes shared by cells and layers.

Every scheme works gate block by gate block: a weight of shape ``(gates * hidden, fan_in)``
is treated as ``gates`` separate matrices, so an orthogonal or identity recurrent matrix is
orthogonal (identity) for each gate, not for the stacked matrix as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

INIT_SCHEMES = ("uniform", "orthogonal", "xavier", "identity")

# Le, Jaitly & Hinton (2015), "A Simple Way to Initialize Recurrent Networks of Rectified
# Linear Units": input weights drawn from N(0, 0.001^2), recurrent weights the identity.
IRNN_INPUT_STD = 1e-3


def check_init(init: str) -> str:
    """Return ``init`` if it names a known scheme, else raise a ``ValueError`` naming it."""
    if init not in INIT_SCHEMES:
        raise ValueError(
            f"init must be one of {', '.join(repr(s) for s in INIT_SCHEMES)}, got {init!r}"
        )
    return init


@torch.no_grad()
def initialize_parameters(
    parameters: Mapping[str, Tensor], scheme: str, hidden_size: int, gates: int
) -> None:
    """Initialize one cell's parameters in place.

    ``parameters`` maps base names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``,
    ``weight_hr``, ``weight_ci`` ...) to tensors. Schemes:

    - ``uniform``: every parameter from U(-k, k), k = 1 / sqrt(hidden_size) (torch.nn's init).
    - ``xavier``: weight matrices Glorot-uniform per gate block, biases and peepholes zero.
    - ``orthogonal``: input weights Glorot-uniform, recurrent and projection weights
      orthogonal per gate block, biases and peepholes zero (Keras' default for RNNs).
    - ``identity``: recurrent weights the identity per gate block, input weights
      N(0, 0.001^2), biases and peepholes zero (the IRNN of Le et al. 2015).
    """
    check_init(scheme)
    if scheme == "uniform":
        bound = 1.0 / math.sqrt(hidden_size)
        for tensor in parameters.values():
            nn.init.uniform_(tensor, -bound, bound)
        return
    for name, tensor in parameters.items():
        if tensor.dim() == 1:
            nn.init.zeros_(tensor)
        elif name == "weight_ih":
            _init_input_weight(tensor, scheme, gates)
        else:
            blocks = gates if name == "weight_hh" else 1
            _init_recurrent_weight(tensor, scheme, blocks)


def _gate_blocks(weight: Tensor, gates: int) -> tuple[Tensor, ...]:
    return weight.chunk(gates, dim=0)


def _init_input_weight(weight: Tensor, scheme: str, gates: int) -> None:
    for block in _gate_blocks(weight, gates):
        if scheme == "identity":
            nn.init.normal_(block, 0.0, IRNN_INPUT_STD)
        else:
            nn.init.xavier_uniform_(block)


def _init_recurrent_weight(weight: Tensor, scheme: str, gates: int) -> None:
    for block in _gate_blocks(weight, gates):
        if scheme == "identity":
            nn.init.eye_(block)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(block)
        else:
            nn.init.xavier_uniform_(block)
