"""The named cell variants that the gradient-flow probes and the long-range tasks compare.

A variant is a cell kind plus the options that make it that variant: ``rnn_tanh`` and
``rnn_relu`` (torch.nn's uniform init), ``irnn`` (ReLU with an identity recurrent matrix and
zero bias, Le et al. 2015), ``lstm`` (with a forget-gate bias) and ``gru`` (torch.nn's form).
The same options build a one-step cell or a layer, so a probe and a task that name the same
variant get the same cell.
"""

from __future__ import annotations

from typing import Any

CELL_VARIANTS = ("rnn_tanh", "rnn_relu", "irnn", "lstm", "gru")


def variant_options(name: str, *, forget_bias: float = 1.0) -> tuple[str, dict[str, Any]]:
    """The cell kind (``"rnn"``, ``"lstm"`` or ``"gru"``) and constructor options of ``name``.

    ``name`` must be one of :data:`CELL_VARIANTS` (callers check it, naming themselves).

    Example:
        >>> variant_options("irnn")
        ('rnn', {'nonlinearity': 'relu', 'init': 'identity'})
    """
    if name == "lstm":
        return "lstm", {"forget_bias": forget_bias}
    if name == "gru":
        return "gru", {}
    if name == "irnn":
        return "rnn", {"nonlinearity": "relu", "init": "identity"}
    return "rnn", {"nonlinearity": name.removeprefix("rnn_")}
