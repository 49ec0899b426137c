"""Training state as tensors plus strict JSON: optimizer, learning-rate scheduler, RNG.

A checkpoint must be safe to load from a stranger, so nothing here is pickled: tensors go
to safetensors and everything else to JSON. Plain JSON loses information that an exact
resume needs, so values are written in a small tagged form that reads back unchanged:

==========================  ====================================================
Python value                JSON
==========================  ====================================================
``inf``, ``-inf``, ``nan``  ``{"__float__": "inf"}`` (strict JSON has no such numbers)
``(0.9, 0.999)``            ``{"__tuple__": [0.9, 0.999]}`` (Adam's ``betas``)
``{0: {...}}``              ``{"__items__": [[0, {...}]]}`` (keys that are not strings)
a tensor                    ``{"__tensor__": "state.0.exp_avg"}``, the tensor stored apart
==========================  ====================================================

Ints stay ints and floats stay floats (JSON keeps ``0`` and ``0.0`` apart). Trap: a dict
whose only key is one of the four marker names reads back as the value it marks.
Encoding is idempotent (already encoded parts pass through), and so is decoding, so
encoded state may be nested inside other state that is encoded again.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any

import numpy as np
import torch
from torch import Tensor

log = logging.getLogger(__name__)

FLOAT_MARKER = "__float__"
TUPLE_MARKER = "__tuple__"
ITEMS_MARKER = "__items__"
TENSOR_MARKER = "__tensor__"
MARKERS = (FLOAT_MARKER, TUPLE_MARKER, ITEMS_MARKER, TENSOR_MARKER)
STATE_FORMAT_VERSION = 1
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


# --- the JSON codec ----------------------------------------------------------------------
def to_json_safe(value: Any) -> Any:
    """``value`` in the tagged form above, writable with ``json.dumps(allow_nan=False)``.

    Raises ``TypeError`` naming the place of a tensor or of a type JSON cannot hold.
    NumPy scalars become Python numbers.
    """
    return _Encoder(tensors=None).encode(value, "")


def from_json_safe(value: Any) -> Any:
    """Inverse of :func:`to_json_safe`; tensor references are left as they are."""
    return _decode(value, None)


def state_to_safe(state: Any) -> tuple[dict[str, Tensor], Any]:
    """Split ``state`` into tensors (named by where they sit) and a JSON-safe skeleton.

    The tensors share memory with ``state``, as ``state_dict()`` tensors do; a tensor that
    appears twice is stored once and both places refer to it.
    """
    encoder = _Encoder(tensors={})
    meta = encoder.encode(state, "")
    return encoder.tensors, meta


def state_from_safe(tensors: dict[str, Tensor], meta: Any) -> Any:
    """Inverse of :func:`state_to_safe`."""
    return _decode(meta, tensors)


class _Encoder:
    """Walks a value; collects tensors into ``tensors`` unless that is ``None``."""

    def __init__(self, tensors: dict[str, Tensor] | None) -> None:
        self.tensors = tensors
        self._names_by_id: dict[int, str] = {}

    def encode(self, value: Any, path: str) -> Any:
        if isinstance(value, Tensor):
            return {TENSOR_MARKER: self._store(value, path)}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {FLOAT_MARKER: repr(value)}
        if isinstance(value, tuple):
            return {TUPLE_MARKER: self._encode_list(value, path)}
        if isinstance(value, list):
            return self._encode_list(value, path)
        if isinstance(value, dict):
            return self._encode_dict(value, path)
        raise TypeError(f"cannot store {_where(path)} in JSON: {type(value).__name__} "
                        f"is not one of None, bool, int, float, str, list, tuple, dict")

    def _encode_list(self, values: list | tuple, path: str) -> list:
        return [self.encode(item, _join(path, index)) for index, item in enumerate(values)]

    def _encode_dict(self, mapping: dict, path: str) -> dict:
        if len(mapping) == 1 and next(iter(mapping)) in MARKERS:  # already encoded
            (marker, payload), = mapping.items()
            return {marker: self.encode(payload, path)}
        if all(isinstance(key, str) for key in mapping):
            return {key: self.encode(item, _join(path, key)) for key, item in mapping.items()}
        return {ITEMS_MARKER: [[self.encode(key, path), self.encode(item, _join(path, key))]
                               for key, item in mapping.items()]}

    def _store(self, tensor: Tensor, path: str) -> str:
        if self.tensors is None:
            raise TypeError(f"cannot store {_where(path)} in JSON: it is a tensor "
                            f"(pass tensors separately, e.g. as trainer_tensors)")
        if id(tensor) in self._names_by_id:
            return self._names_by_id[id(tensor)]
        name, suffix = path or "tensor", 1
        while name in self.tensors:
            suffix += 1
            name = f"{path or 'tensor'}#{suffix}"
        self.tensors[name] = tensor.detach()
        self._names_by_id[id(tensor)] = name
        return name


def _decode(value: Any, tensors: dict[str, Tensor] | None) -> Any:
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    if isinstance(value, tuple):
        return tuple(_decode(item, tensors) for item in value)
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in MARKERS:
        (marker, payload), = value.items()
        return _decode_marked(marker, payload, tensors)
    return {key: _decode(item, tensors) for key, item in value.items()}


def _decode_marked(marker: str, payload: Any, tensors: dict[str, Tensor] | None) -> Any:
    if marker == FLOAT_MARKER:
        if payload not in _NON_FINITE:
            raise ValueError(f"{{{FLOAT_MARKER!r}: {payload!r}}}: expected 'inf', '-inf' or 'nan'")
        return _NON_FINITE[payload]
    if marker == TUPLE_MARKER:
        return tuple(_decode(item, tensors) for item in payload)
    if marker == ITEMS_MARKER:
        return {_decode(key, tensors): _decode(item, tensors) for key, item in payload}
    if tensors is None:  # a tensor reference, resolved by state_from_safe later
        return {TENSOR_MARKER: payload}
    if payload not in tensors:
        raise ValueError(f"the state refers to tensor {payload!r}, which is not among the "
                         f"{len(tensors)} tensors given")
    return tensors[payload]


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _where(path: str) -> str:
    return f"the value at {path!r}" if path else "the value"


# --- optimizer and scheduler -------------------------------------------------------------
def optimizer_state_to_safe(opt_state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict]:
    """``optimizer.state_dict()`` as (tensors, JSON-safe meta), lossless.

    Works for every ``torch.optim`` optimizer (tested: SGD with momentum, Adam, AdamW,
    ``amsgrad``): ``step`` tensors, buffers, and every ``param_groups`` hyperparameter keep
    their type (int, float, tuple, tensor, ``inf``). Tensors are named like
    ``state.0.exp_avg``.
    """
    if not isinstance(opt_state_dict, dict) or "param_groups" not in opt_state_dict:
        raise ValueError("optimizer_state_to_safe expected optimizer.state_dict(), a dict with "
                         f"'state' and 'param_groups', got {type(opt_state_dict).__name__}")
    return _wrap("optimizer", opt_state_dict)


def optimizer_state_from_safe(tensors: dict[str, Tensor], meta: dict) -> dict[str, Any]:
    """Inverse of :func:`optimizer_state_to_safe`: a dict for ``optimizer.load_state_dict``."""
    return _unwrap("optimizer", tensors, meta)


def scheduler_state_to_safe(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict]:
    """A ``torch.optim.lr_scheduler`` state dict as (tensors, JSON-safe meta), lossless.

    Covers StepLR, LambdaLR, ReduceLROnPlateau (its ``best`` starts at ``inf``),
    CosineAnnealingLR, LinearLR and SequentialLR (nested scheduler states), and tensors
    (``base_lrs`` are tensors when the optimizer's ``lr`` is). Trap: LambdaLR saves no
    lambda functions (torch writes ``None``; only callable objects' ``__dict__``), so
    rebuild the scheduler with the same lambdas, then load the state.
    """
    if not isinstance(state_dict, dict):
        raise ValueError("scheduler_state_to_safe expected scheduler.state_dict(), a dict, "
                         f"got {type(state_dict).__name__}")
    return _wrap("lr_scheduler", state_dict)


def scheduler_state_from_safe(tensors: dict[str, Tensor], meta: dict) -> dict[str, Any]:
    """Inverse of :func:`scheduler_state_to_safe`: a dict for ``scheduler.load_state_dict``."""
    return _unwrap("lr_scheduler", tensors, meta)


def _wrap(kind: str, state: dict[str, Any]) -> tuple[dict[str, Tensor], dict]:
    tensors, encoded = state_to_safe(state)
    return tensors, {"kind": kind, "format_version": STATE_FORMAT_VERSION, "state": encoded}


def _unwrap(kind: str, tensors: dict[str, Tensor], meta: dict) -> dict[str, Any]:
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        found = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"expected {kind} state meta (kind={kind!r}), got {found!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > STATE_FORMAT_VERSION:
        raise ValueError(f"{kind} state has format_version {version!r}; this rnnkit reads "
                         f"up to {STATE_FORMAT_VERSION}: upgrade rnnkit")
    return state_from_safe(tensors, meta["state"])


# --- random number generators ------------------------------------------------------------
def capture_rng_state() -> tuple[dict[str, Tensor], dict]:
    """Every global RNG a training run draws from, as (tensors, JSON-safe meta).

    Tensors: ``torch.cpu`` (uint8), ``torch.cuda.<i>`` per device, ``python`` (Python
    ``random``'s 625 state words) and ``numpy`` (NumPy's legacy global MT19937 key).
    Trap: CUDA generators are captured only once CUDA is initialized, so capturing never
    starts CUDA; NumPy ``default_rng`` generators are not global and not captured.
    """
    tensors = {"torch.cpu": torch.get_rng_state()}
    cuda_devices = 0
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch.cuda.{index}"] = state
            cuda_devices += 1
    version, words, gauss_next = random.getstate()
    tensors["python"] = torch.tensor(words, dtype=torch.int64)
    algorithm, key, position, has_gauss, cached_gaussian = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(key.astype(np.int64))
    meta = {
        "kind": "rng", "format_version": STATE_FORMAT_VERSION, "cuda_devices": cuda_devices,
        "python": {"version": version, "gauss_next": to_json_safe(gauss_next)},
        "numpy": {"algorithm": algorithm, "position": int(position), "has_gauss": int(has_gauss),
                  "cached_gaussian": to_json_safe(float(cached_gaussian))},
    }
    return tensors, meta


def restore_rng_state(tensors: dict[str, Tensor], meta: dict) -> None:
    """Put every generator back as :func:`capture_rng_state` found it.

    CUDA states are restored for the devices present (a warning is logged when the count
    differs, e.g. resuming a GPU run on CPU).
    """
    if not isinstance(meta, dict) or meta.get("kind") != "rng":
        raise ValueError(f"expected RNG state meta (kind='rng'), got {meta!r:.80}")
    torch.set_rng_state(tensors["torch.cpu"].cpu())
    _restore_cuda(tensors, int(meta["cuda_devices"]))
    python = meta["python"]
    words = tuple(int(word) for word in tensors["python"].tolist())
    random.setstate((python["version"], words, from_json_safe(python["gauss_next"])))
    numpy = meta["numpy"]
    key = tensors["numpy"].cpu().numpy().astype(np.uint32)
    np.random.set_state((numpy["algorithm"], key, numpy["position"], numpy["has_gauss"],
                         from_json_safe(numpy["cached_gaussian"])))


def _restore_cuda(tensors: dict[str, Tensor], saved_devices: int) -> None:
    present = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if saved_devices != present and saved_devices:
        log.warning("RNG state holds %d CUDA generator(s) and %d device(s) are present; "
                    "restoring %d", saved_devices, present, min(saved_devices, present))
    states = [tensors[f"torch.cuda.{index}"].cpu()
              for index in range(min(saved_devices, present))]
    for index, state in enumerate(states):
        torch.cuda.set_rng_state(state, device=index)

