"""Checkpoints that are safe to load from strangers and survive a crash mid-save.

Tensors go to safetensors and everything else to strict JSON; nothing is ever unpickled.
A checkpoint is a directory the user names; each save is a complete folder, and a small
pointer file per tag names the current one::

    runs/shakespeare/
        latest.json           {"kind": "rnnkit-checkpoint", "tag": "latest",
                               "folder": "save-0000042", "format_version": 1}
        best.json             names the folder of the best save
        save-0000041/         the save ``best`` names (kept while it does)
        save-0000042/         model.safetensors  config.json  vocab.json
                              trainer.safetensors  trainer.json

Why a crash cannot leave a tag half-written: a save writes a fresh folder, each file
through ``rnnkit.atomic`` (temp file, fsync, rename) and then fsyncs the folder; only then
is ``<tag>.json`` replaced, atomically, to name it. Until that rename the pointer names
the previous folder, untouched; after it, the new folder is complete. Folders no pointer
names (older saves, or the remains of a killed save) are deleted after the switch. One
writer per directory; a reader racing a save retries when its folder was pruned.

Loading treats every file as a stranger's: :mod:`rnnkit.training.checkpoint_files` reads
regular files inside the directory only, with size caps, and checks safetensors headers
before their data; :func:`load_model` builds the model on the meta device and compares
its tensors with the header before building it for real
(:mod:`rnnkit.training.model_shapes`), and reads no trainer file.

Tied weights share storage and ``safetensors`` refuses shared tensors:
:func:`model_state_for_saving` keeps one copy and returns the aliases, and
:func:`restore_model_state` loads into a module that ties them the same way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor, nn

from rnnkit.atomic import atomic_write_bytes, atomic_write_text
from rnnkit.training.checkpoint_files import (
    CONFIG_LIMIT,
    DOCUMENT_LIMIT,
    POINTER_LIMIT,
    CheckpointError,
    Shapes,
    read_json,
    read_tensors,
)
from rnnkit.training.model_shapes import ModelBuilder, check_model_fits, tied_names
from rnnkit.training.state import from_json_safe, to_json_safe

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1
POINTER_KIND = "rnnkit-checkpoint"
MODEL_FILE = "model.safetensors"
TRAINER_TENSORS_FILE = "trainer.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
TRAINER_STATE_FILE = "trainer.json"
_FOLDER_NAME = re.compile(r"save-(\d{7,})")
_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LOAD_ATTEMPTS = 3
# Tests only: seconds a save sleeps between writing its folder and switching its pointer,
# so that a crash test can kill a process inside a save (tests/training/test_crash.py).
SAVE_PAUSE_VARIABLE = "RNNKIT_TEST_SAVE_PAUSE"


@dataclass(frozen=True)
class Checkpoint:
    """One loaded save. ``path`` is its folder; ``trainer_tensors`` is ``{}`` if none."""

    model_state: dict[str, Tensor]
    config: dict[str, Any]
    vocab: dict[str, Any]
    trainer_tensors: dict[str, Tensor]
    trainer_state: dict[str, Any] | None
    path: Path


# --- saving ------------------------------------------------------------------------------
def save_checkpoint(
    directory: str | Path,
    *,
    model_state: dict[str, Tensor],
    config: dict[str, Any],
    vocab: dict[str, Any],
    trainer_tensors: dict[str, Tensor] | None = None,
    trainer_state: dict[str, Any] | None = None,
    tag: str = "latest",
) -> Path:
    """Write one complete save and point ``tag`` at it; returns the save's folder.

    ``config``, ``vocab`` and ``trainer_state`` are written as strict JSON in the tagged
    form of :mod:`rnnkit.training.state` (``inf``, tuples and int keys read back unchanged);
    a tensor among them is a ``TypeError`` raised before anything is written. Tensors that
    share memory are stored as separate copies (use :func:`model_state_for_saving` to keep
    tied weights tied). If anything fails, the previous save of ``tag`` stays current.
    """
    directory = Path(directory)
    check_tag(tag)
    documents = _json_documents(config, vocab, trainer_state)
    tensor_files = {MODEL_FILE: _standalone(model_state),
                    TRAINER_TENSORS_FILE: _standalone(trainer_tensors or {})}
    directory.mkdir(parents=True, exist_ok=True)
    folder = _new_folder(directory)
    try:
        _write_folder(folder, tensor_files, documents)
        _pause_for_tests()
        _write_pointer(directory, tag, folder.name)
    except BaseException:
        _discard_unless_named(directory, folder)
        raise
    _fsync_directory(directory)
    _prune(directory)
    log.info("saved checkpoint %s (tag %r)", folder, tag)
    return folder


def judged_tag(directory: str | Path) -> str:
    """The checkpoint to read from a run folder when no tag is named: ``best``, the lowest
    validation error the run reached (the trainer saves it at every validation that
    improves), or ``latest`` where the run saved no ``best`` (it stopped before its first
    validation)."""
    return "best" if os.path.lexists(Path(directory) / "best.json") else "latest"


def check_tag(tag: str) -> None:
    """A tag names a file ``<tag>.json``: letters, digits, ``_ . -``, 64 characters at most."""
    if not isinstance(tag, str) or not _TAG_NAME.fullmatch(tag):
        raise ValueError(f"checkpoint tag must be letters, digits, '_', '.' or '-' (not "
                         f"starting with a dot, 64 characters at most), got {tag!r}")


def _json_documents(
    config: dict[str, Any], vocab: dict[str, Any], trainer_state: dict[str, Any] | None
) -> dict[str, str]:
    if not isinstance(config, dict):
        raise TypeError(f"save_checkpoint expected config as a dict, got {type(config).__name__}")
    if "format_version" in config:
        raise ValueError("save_checkpoint: config may not hold the key 'format_version'; the "
                         "checkpoint writes its own format version there")
    config_document = {"format_version": CHECKPOINT_FORMAT_VERSION, **to_json_safe(config)}
    return {CONFIG_FILE: _dumps(config_document), VOCAB_FILE: _dumps(to_json_safe(vocab)),
            TRAINER_STATE_FILE: _dumps(to_json_safe(trainer_state))}


def _dumps(document: Any) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _standalone(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Detached, contiguous tensors, none sharing memory (as safetensors requires)."""
    result, storages = {}, set()
    for name, tensor in tensors.items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"expected a tensor for {name!r}, got {type(tensor).__name__}")
        tensor = tensor.detach()
        storage = tensor.untyped_storage().data_ptr() if tensor.numel() else None
        if storage in storages or not tensor.is_contiguous():
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        elif storage is not None:
            storages.add(storage)
        result[name] = tensor
    return result


def _new_folder(directory: Path) -> Path:
    numbers = [int(match.group(1)) for match in map(_FOLDER_NAME.fullmatch, _entries(directory))
               if match]
    folder = directory / f"save-{max(numbers, default=0) + 1:07d}"
    folder.mkdir()
    return folder


def _write_folder(folder: Path, tensor_files: dict[str, dict], documents: dict[str, str]) -> None:
    for name, tensors in tensor_files.items():
        atomic_write_bytes(folder / name, safetensors.torch.save(tensors, {"format": "pt"}))
    for name, text in documents.items():
        atomic_write_text(folder / name, text)
    _fsync_directory(folder)
    _fsync_directory(folder.parent)


def _pause_for_tests() -> None:
    pause = os.environ.get(SAVE_PAUSE_VARIABLE)
    if pause:
        time.sleep(float(pause))


def _write_pointer(directory: Path, tag: str, folder_name: str) -> None:
    pointer = {"kind": POINTER_KIND, "tag": tag, "folder": folder_name,
               "format_version": CHECKPOINT_FORMAT_VERSION}
    atomic_write_text(directory / f"{tag}.json", _dumps(pointer))


def _discard_unless_named(directory: Path, folder: Path) -> None:
    """After a failed save: delete its folder, unless the pointer switch did happen."""
    try:
        named = set(_pointers(directory).values())
    except OSError:
        return  # cannot tell; the next successful save prunes it
    if folder.name not in named:
        shutil.rmtree(folder, ignore_errors=True)


def prune_unnamed_saves(directory: str | Path) -> None:
    """Delete the save folders in ``directory`` that no pointer names (older saves, or the
    remains of a save killed before its pointer switched). Only for the directory's one
    writer: another writer's save in progress is not named yet."""
    _prune(Path(directory))


def _prune(directory: Path) -> None:
    """Delete save folders that no pointer names; never fails the save that called it."""
    try:
        named = set(_pointers(directory).values())
        for name in _entries(directory):
            if _FOLDER_NAME.fullmatch(name) and name not in named:
                shutil.rmtree(directory / name)
    except (OSError, CheckpointError) as error:
        log.warning("could not remove old checkpoint folders in %s: %s", directory, error)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory; its renames are durable
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _entries(directory: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(directory))


# --- loading -----------------------------------------------------------------------------
def load_checkpoint(
    directory: str | Path,
    *,
    tag: str = "latest",
    map_location: str | torch.device = "cpu",
    trainer: bool = True,
    model: ModelBuilder | None = None,
) -> Checkpoint:
    """Load the save that ``tag`` names in ``directory``; tensors go to ``map_location``.

    Every file is read as untrusted input (:mod:`rnnkit.training.checkpoint_files`): inside
    ``directory``, a regular file, within a size limit. ``trainer=False`` reads the model,
    config and vocabulary only (what sampling and evaluation need: the trainer files may be
    absent), and leaves ``trainer_tensors`` empty and ``trainer_state`` ``None``. With
    ``model``, a function that builds the checkpoint's model from its config, that model is
    built on the meta device and its tensor names and shapes compared with those in
    ``model.safetensors``' header before any tensor is read (see :func:`load_model`).

    Raises :class:`CheckpointError` naming the path when the directory is missing, holds
    no checkpoint with that tag, a file is missing, outside the directory, not a regular
    file or too large, a safetensors file is corrupt, truncated or lies about its sizes, a
    JSON file is invalid (with line and column), the config does not fit the tensors, or
    the checkpoint was written by a newer rnnkit.
    """
    directory = _checkpoint_directory(directory, tag)
    parts = _Parts(torch.device(map_location), trainer, model)
    for _ in range(_LOAD_ATTEMPTS):
        folder = _read_pointer(directory, tag)
        try:
            return _load_folder(directory, folder, parts)
        except CheckpointError:
            if _read_pointer(directory, tag) == folder:
                raise
            log.info("checkpoint %r moved on while loading %s; loading again", tag, folder)
    raise CheckpointError(f"checkpoint {tag!r} in {directory} kept changing while loading")


def load_model(
    directory: str | Path, build: ModelBuilder, *, tag: str = "latest"
) -> tuple[nn.Module, Checkpoint]:
    """The model a checkpoint holds, in eval mode on the CPU, with the checkpoint it came
    from (config and vocabulary; its trainer files are not read).

    ``build(config)`` makes the model from the checkpoint's config. It is called twice:
    first on the meta device, where the model's tensor names and shapes are checked
    against ``model.safetensors``' header without allocating anything, then for real, once
    they fit. Weights the model ties are filled from the one tensor saved for them.
    Errors as :func:`load_checkpoint`'s; an exception ``build`` raises on the config comes
    back as a :class:`CheckpointError` naming ``config.json`` (raise ``CheckpointError``
    to refuse a checkpoint of another kind: its message gets the path in front).
    """
    saved = load_checkpoint(directory, tag=tag, trainer=False, model=build)
    module = build(saved.config)
    restore_model_state(module, saved.model_state)
    return module.eval(), saved


def load_checkpoint_config(directory: str | Path, *, tag: str = "latest") -> dict[str, Any]:
    """The config document of the save that ``tag`` names, without reading any tensor
    (to learn what kind of run a folder holds before loading it); errors as
    :func:`load_checkpoint`'s."""
    directory = _checkpoint_directory(directory, tag)
    return _read_config(directory, _read_pointer(directory, tag))


def load_checkpoint_vocab(directory: str | Path, *, tag: str = "latest") -> Any:
    """The vocabulary document of the save that ``tag`` names, without reading any tensor
    (a resumed run encodes its text with it before its model exists); errors as
    :func:`load_checkpoint`'s."""
    directory = _checkpoint_directory(directory, tag)
    folder = _read_pointer(directory, tag)
    _read_config(directory, folder)  # a newer rnnkit's save is refused here too
    return from_json_safe(read_json(folder / VOCAB_FILE, directory, DOCUMENT_LIMIT))


@dataclass(frozen=True)
class _Parts:
    """What a load reads: tensors to ``device``, the trainer files or not, and the model
    builder to check ``model.safetensors`` against (``None``: no check)."""

    device: torch.device
    trainer: bool
    model: ModelBuilder | None


def _checkpoint_directory(directory: str | Path, tag: str) -> Path:
    """``directory`` as a path, once it is one and ``tag`` is a valid tag."""
    directory = Path(directory)
    check_tag(tag)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist"
                              if not directory.exists() else f"{directory} is not a directory")
    return directory


def _read_pointer(directory: Path, tag: str) -> Path:
    path = directory / f"{tag}.json"
    if not os.path.lexists(path):
        present = sorted(_pointers(directory))
        found = (f"tags present: {', '.join(present)}" if present
                 else "the directory holds no checkpoint")
        raise CheckpointError(f"no checkpoint tagged {tag!r} in {directory} ({path.name} is "
                              f"missing; {found})")
    pointer = read_json(path, directory, POINTER_LIMIT)
    if not is_checkpoint_pointer(pointer):
        raise CheckpointError(f"{path} is not an rnnkit checkpoint pointer (expected kind "
                              f"{POINTER_KIND!r} and a folder named save-NNNNNNN)")
    _check_version(path, pointer)
    return directory / pointer["folder"]


def _pointers(directory: Path) -> dict[str, str]:
    """``{tag: folder name}`` for every pointer file in ``directory``."""
    pointers = {}
    for path in sorted(directory.glob("*.json")):
        try:
            pointer = read_json(path, directory, POINTER_LIMIT)
        except CheckpointError:
            continue  # not ours: other run records may sit next to the checkpoints
        if is_checkpoint_pointer(pointer):
            pointers[path.stem] = pointer["folder"]
    return pointers


def is_checkpoint_pointer(pointer: Any) -> bool:
    """True when the parsed JSON ``pointer`` is a checkpoint tag's pointer document."""
    return (isinstance(pointer, dict) and pointer.get("kind") == POINTER_KIND
            and isinstance(pointer.get("folder"), str)
            and _FOLDER_NAME.fullmatch(pointer["folder"]) is not None)


def _load_folder(directory: Path, folder: Path, parts: _Parts) -> Checkpoint:
    config = _read_config(directory, folder)
    vocab = from_json_safe(read_json(folder / VOCAB_FILE, directory, DOCUMENT_LIMIT))
    check = None
    if parts.model is not None:
        def check(shapes: Shapes) -> None:
            check_model_fits(parts.model, config, folder / CONFIG_FILE, shapes,
                             folder / MODEL_FILE)
    model_state = read_tensors(folder / MODEL_FILE, directory, parts.device, check)
    trainer_tensors, trainer_state = (_read_trainer(directory, folder, parts.device)
                                      if parts.trainer else ({}, None))
    return Checkpoint(model_state=model_state, config=config, vocab=vocab,
                      trainer_tensors=trainer_tensors, trainer_state=trainer_state,
                      path=folder)


def _read_trainer(directory: Path, folder: Path,
                  device: torch.device) -> tuple[dict[str, Tensor], Any]:
    """The trainer's tensors and state, which only resuming needs: say so when missing."""
    for name in (TRAINER_TENSORS_FILE, TRAINER_STATE_FILE):
        if not os.path.lexists(folder / name):
            raise CheckpointError(f"checkpoint file {folder / name} is missing: resuming "
                                  f"needs the trainer's state (optimizer, schedule, random "
                                  f"generators); sampling and evaluating do not")
    tensors = read_tensors(folder / TRAINER_TENSORS_FILE, directory, device)
    state = read_json(folder / TRAINER_STATE_FILE, directory, DOCUMENT_LIMIT)
    return tensors, from_json_safe(state)


def _read_config(directory: Path, folder: Path) -> dict[str, Any]:
    """The config document of a save folder, version checked, ``format_version`` dropped."""
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} is missing")
    config = read_json(folder / CONFIG_FILE, directory, CONFIG_LIMIT)
    if not isinstance(config, dict):
        raise CheckpointError(f"{folder / CONFIG_FILE} should hold a JSON object, got "
                              f"{type(config).__name__}")
    _check_version(folder / CONFIG_FILE, config)
    return from_json_safe({key: value for key, value in config.items()
                           if key != "format_version"})


def _check_version(path: Path, document: dict) -> None:
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path} has no integer format_version (got {version!r})")
    if version > CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {version}, newer than this rnnkit "
                              f"reads ({CHECKPOINT_FORMAT_VERSION}): upgrade rnnkit")


# --- tied weights ------------------------------------------------------------------------
def model_state_for_saving(module: nn.Module) -> tuple[dict[str, Tensor], dict[str, str]]:
    """``module``'s state dict with one copy per shared tensor, and the aliases dropped.

    Returns ``(tensors, aliases)``, e.g. ``aliases == {"decoder.weight": "embedding.weight"}``
    for a language model whose decoder reuses the embedding matrix (Press & Wolf, 2017);
    the name kept is the first in ``state_dict()`` order. Store the aliases as JSON.
    """
    tensors, aliases = _split_aliases(module.state_dict())
    return _standalone(tensors), aliases


def restore_model_state(
    module: nn.Module, tensors: dict[str, Tensor], aliases: dict[str, str] | None = None
) -> None:
    """Load ``tensors`` strictly into ``module``, filling each alias from its target.

    Loading copies into the existing parameters, so weights ``module`` ties stay the same
    ``Parameter`` object. Without ``aliases``, the weights ``module`` itself ties fill
    those missing from ``tensors`` (the config that built it says what is tied). Raises
    ``ValueError`` when the checkpoint ties weights that ``module`` holds separately
    (build it with the same tying), or stores two different tensors for weights that
    ``module`` ties.
    """
    if aliases is None:
        aliases = {alias: target for alias, target in tied_names(module).items()
                   if alias not in tensors}
    full = dict(tensors)
    for alias, target in aliases.items():
        if alias in full or target not in full:
            raise ValueError(f"alias {alias!r} -> {target!r} does not fit the saved tensors: "
                             f"the alias must be absent and its target present")
        full[alias] = full[target]
    _check_ties(module, tensors, aliases)
    module.load_state_dict(full, strict=True)


def _split_aliases(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    kept, aliases, first_name = {}, {}, {}
    for name, tensor in state.items():
        view = _view_key(tensor)
        if view is not None and view in first_name:
            aliases[name] = first_name[view]
            continue
        if view is not None:
            first_name[view] = name
        kept[name] = tensor
    return kept, aliases


def _view_key(tensor: Tensor) -> tuple | None:
    """What makes two tensors the same values in memory; ``None`` for empty tensors."""
    if tensor.numel() == 0:
        return None
    return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
            tensor.stride(), tensor.dtype, tensor.device)


def _check_ties(module: nn.Module, tensors: dict[str, Tensor], aliases: dict[str, str]) -> None:
    _, module_aliases = _split_aliases(module.state_dict())
    for alias, target in aliases.items():
        if _root(module_aliases, alias) != _root(module_aliases, target):
            raise ValueError(f"the checkpoint ties {alias!r} to {target!r} but the module holds "
                             f"them as separate tensors; build it with the same weight tying")
    for alias, target in module_aliases.items():
        if alias in tensors and target in tensors and not torch.equal(
                tensors[alias], tensors[target].to(tensors[alias].device)):
            raise ValueError(f"the module ties {alias!r} to {target!r} but the checkpoint "
                             f"holds different values for them")


def _root(aliases: dict[str, str], name: str) -> str:
    return aliases.get(name, name)
