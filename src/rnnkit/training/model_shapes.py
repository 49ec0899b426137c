"""Checking a checkpoint's config against its tensors before the model is built for real.

A hostile ``config.json`` can ask for ``hidden_size: 12000`` next to small tensors:
building that model first and loading second allocates gigabytes before any shape is
compared. Here the model is built on the ``meta`` device (shapes without memory), its
``state_dict`` names and shapes are compared with those in the safetensors header, and
only a config that fits its tensors goes on to a real build.

Two guards keep the meta build itself cheap: it is stopped once it has registered far more
parameters, buffers and submodules than the checkpoint has tensors (``num_layers: 10**9``
would otherwise spend hours making empty layers), and the model's total size must stay
within reach of the bytes the file holds (non-persistent buffers are not in the header).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules import module as module_hooks
from torch.overrides import TorchFunctionMode

from rnnkit.training.checkpoint_files import MIB, CheckpointError, Shapes, size_text

ModelBuilder = Callable[[dict[str, Any]], nn.Module]
# A registration is a parameter, buffer or submodule; real models make at most a few per
# tensor they save (weight tying registers a parameter twice).
_REGISTRATIONS_PER_TENSOR = 8
_REGISTRATIONS_SLACK = 256
_BUFFER_SLACK = 64 * MIB  # non-persistent buffers a model may add to the tensors it saves


def check_model_fits(build: ModelBuilder, config: dict[str, Any], config_path: Path,
                     shapes: Shapes, tensor_path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``build(config)`` makes a model whose tensors
    are named and shaped as ``shapes`` (the safetensors header of ``tensor_path``) says.

    A tensor the model ties to another (``decoder.weight`` to ``embedding.weight``) may be
    absent from the file; it is filled from the one it is tied to.
    """
    model = build_on_meta(build, config, config_path, limit=_registration_limit(shapes))
    state = model.state_dict(keep_vars=True)
    ties = tied_names(model)
    for name in shapes:
        if name not in state:
            raise CheckpointError(f"{tensor_path} holds tensor {name!r}, which the model "
                                  f"{config_path} describes does not have")
    for name, tensor in state.items():
        expected = tuple(tensor.shape)
        if name not in shapes and ties.get(name) not in shapes:
            raise CheckpointError(f"{tensor_path} lacks tensor {name!r} of shape {expected}, "
                                  f"which the model {config_path} describes needs")
        found = shapes.get(name, expected)
        if found != expected:
            raise CheckpointError(f"{tensor_path}: tensor {name!r} has shape {found} but the "
                                  f"model {config_path} describes needs {expected}")
    _check_total_size(model, shapes, config_path, tensor_path)


def build_on_meta(build: ModelBuilder, config: dict[str, Any], config_path: Path, *,
                  limit: int) -> nn.Module:
    """``build(config)`` on the meta device, stopped past ``limit`` registrations; a config
    it cannot build from is a :class:`CheckpointError` naming ``config_path`` (one that
    ``build`` raises itself, e.g. for another task's checkpoint, gets the path in front)."""
    try:
        with _registrations_at_most(limit), torch.device("meta"), _MetaFills():
            return build(config)
    except CheckpointError as error:  # the builder's own words on the config: say where
        raise CheckpointError(f"{config_path}: {error}") from None
    except Exception as error:  # anything a config from a stranger makes the build raise
        raise CheckpointError(f"{config_path} describes a model that cannot be built: "
                              f"{type(error).__name__}: {error}") from error


def tied_names(model: nn.Module) -> dict[str, str]:
    """``{alias: name}`` for entries of ``model.state_dict()`` that are the same tensor
    object as an earlier one (weight tying); works on the meta device, where storage
    addresses cannot tell tensors apart."""
    first: dict[int, str] = {}
    ties = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in first:
            ties[name] = first[id(tensor)]
        else:
            first[id(tensor)] = name
    return ties


def _registration_limit(shapes: Shapes) -> int:
    return _REGISTRATIONS_PER_TENSOR * len(shapes) + _REGISTRATIONS_SLACK


@contextmanager
def _registrations_at_most(limit: int) -> Iterator[None]:
    """Stop a build that registers more than ``limit`` parameters, buffers and modules."""
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1
        if count > limit:
            raise CheckpointError(f"the model it describes registers more than {limit} "
                                  f"parameters, buffers and modules, far more than its "
                                  f"checkpoint holds tensors: refusing to build it")

    handles = [module_hooks.register_module_parameter_registration_hook(counted),
               module_hooks.register_module_buffer_registration_hook(counted),
               module_hooks.register_module_module_registration_hook(counted)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class _MetaFills(TorchFunctionMode):
    """Skip value fills on meta tensors: torch.nn.init's initializers, ``Tensor.normal_``
    and functions writing into a meta ``out=`` (``init.eye_`` calls ``torch.eye``). There
    are no values to fill, and the meta versions of some import ``torch._dynamo``: seconds
    of startup for nothing."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        filled = kwargs.get("out") if "out" in kwargs else (
            args[0] if args else kwargs.get("tensor"))  # torch.nn.init passes it by name
        if isinstance(filled, Tensor) and filled.is_meta and (
                "out" in kwargs or _is_fill(func)):
            return filled
        return func(*args, **kwargs)


def _is_fill(func: Any) -> bool:
    """An in-place initializer of ``torch.nn.init`` (all end in ``_``), or ``normal_``."""
    name = getattr(func, "__name__", "")
    return func is Tensor.normal_ or (getattr(func, "__module__", None) == "torch.nn.init"
                                      and name.endswith("_") and not name.startswith("_"))


def _check_total_size(model: nn.Module, shapes: Shapes, config_path: Path,
                      tensor_path: Path) -> None:
    """The real build may take at most twice what the file's tensors hold, plus buffers."""
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}.values()
    needed = sum(t.numel() * t.element_size() for t in tensors)
    held = sum(math.prod(shape) for shape in shapes.values()) * 4  # as float32
    if needed > 2 * held + _BUFFER_SLACK:
        raise CheckpointError(f"{config_path} describes a model of {size_text(needed)} but "
                              f"{tensor_path} holds tensors for {size_text(held)}: refusing "
                              f"to build it")
