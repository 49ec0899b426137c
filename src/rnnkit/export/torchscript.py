"""TorchScript by tracing: exact for layers on torch's fused kernels, refused otherwise.

A fused kernel (``torch.lstm``, ``torch.gru``, ``torch.rnn_*``) takes the whole sequence in
one call, and packing by lengths is traced as operators too, so the traced graph keeps batch,
time and lengths free. rnnkit's own kernels (peephole, layer norm, reset-before GRU) loop
over time in Python, and a trace would fix that loop to the example's length: those
configurations are refused with a pointer to ONNX, which expresses them (except layer
norm). TorchScript is deprecated in torch 2.13 in favour of ``torch.export``; it is offered
because deployments built on libtorch still load it.
"""

from __future__ import annotations

import io
import warnings

import torch

from rnnkit.export.signature import Exported
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.dispatch import BACKEND_FUSED


def torchscript_blocker(exported: Exported) -> str | None:
    """Why a trace of this model would not be exact for every shape, or None."""
    layer = exported.recurrent
    if not isinstance(layer, RecurrentLayer):
        return (f"its {layer.cell} blocks run rnnkit's scan, whose loop over time a trace "
                "would fix to one length; export it with --format onnx")
    was_training = layer.training
    layer.eval()
    try:
        backend = layer.backend_for(torch.device("cpu"))
        reason = layer.fused_blocker()
    finally:
        layer.train(was_training)
    if backend == BACKEND_FUSED:
        return None
    return (f"it runs on rnnkit's own kernels ({reason}), whose loop over time a trace "
            "would fix to one length; export it with --format onnx")


def build_torchscript(exported: Exported) -> bytes:
    """The traced module, serialized (what ``torch.jit.save`` writes)."""
    blocker = torchscript_blocker(exported)
    if blocker is not None:
        raise ValueError(f"TorchScript cannot express this {type(exported.recurrent).__name__}:"
                         f" {blocker}")
    exported = exported.eval()
    generator = torch.Generator().manual_seed(0)
    # Ragged lengths, so the trace records the packing path (which also serves full rows).
    example = exported.example_inputs(3, 5, [5, 2, 4], generator)
    with warnings.catch_warnings():
        # The tracer warns at every Python-level check on tensors (argument validation);
        # the exported file is instead checked by running it on other shapes.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(exported, example, check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()
