"""One writer per run folder, and a run folder that is never overwritten by accident.

Every trainer that writes a run folder (checkpoints, ``log.csv``, results) opens it with
:func:`claim_run_folder` and keeps it for the whole run::

    with claim_run_folder(out_dir, resume=False, overwrite=False):
        ...train, save, log...

On entry, in this order:

1. the folder is created and locked (``filelock``, non-blocking): a second process that
   claims it is refused with the holder's pid, host, command and start time, which the
   holder writes next to the lock (``.rnnkit.lock.json``). Without the lock two trainings
   on one folder interleave their saves and their ``log.csv`` rows;
2. a folder that already holds a run (a checkpoint pointer, a ``save-*`` folder or a
   ``log.csv``) is refused unless ``resume`` (continue it) or ``overwrite`` (start afresh)
   is given. ``overwrite`` deletes only the files rnnkit writes (:data:`RUN_FILES`, the
   checkpoints, TensorBoard events); a user's own files stay;
3. what a killed process left behind is pruned: temporary files of interrupted atomic
   writes (``.<name>.<random>.tmp``, :mod:`rnnkit.atomic`) and ``save-*`` folders that no
   pointer names (a save killed before its pointer switched).

Under ``torchrun`` only rank 0 claims the folder: it alone writes there.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import filelock

from rnnkit.atomic import TEMPORARY_NAME, atomic_write_json
from rnnkit.training.checkpoint import is_checkpoint_pointer, prune_unnamed_saves
from rnnkit.training.distributed import process_rank

log = logging.getLogger(__name__)

LOCK_FILE = ".rnnkit.lock"
HOLDER_FILE = ".rnnkit.lock.json"
LOG_FILE = "log.csv"
SAVE_FOLDER = re.compile(r"save-\d{7,}")
# Files a trainer or a task writes into its run folder; --overwrite removes these alone.
RUN_FILES = ("log.csv", "learning_curve.png", "results.json", "confusion.png", "forecast.png",
             "result.json", "curve.png")
TENSORBOARD_FOLDER = "tensorboard"
TENSORBOARD_EVENTS = re.compile(r"events\.out\.tfevents\..+")
POINTER_MAX_BYTES = 64 * 1024
HOLDER_WAIT_S = 2.0  # how long a refused process waits for the holder's record


Trained = TypeVar("Trained")


class RunFolderError(RuntimeError):
    """A run folder cannot be used as asked; the message names the folder and the way out."""


@contextlib.contextmanager
def claim_run_folder(out_dir: str | os.PathLike, *, resume: bool, overwrite: bool,
                     main_process: bool = True) -> Iterator[Path]:
    """Lock ``out_dir`` for this process, check it may be written, tidy it; yields it.

    Raises :class:`RunFolderError` when another process holds the folder, or when it holds
    a run and neither ``resume`` nor ``overwrite`` is given; ``ValueError`` when both are.
    ``main_process=False`` (ranks other than 0) claims nothing.
    """
    folder = Path(out_dir)
    if resume and overwrite:
        raise ValueError(f"resume and overwrite exclude each other (run folder {folder}): "
                         f"resume continues the run there, overwrite starts afresh")
    if not main_process:
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = _acquire(folder)
    try:
        _write_holder(folder)
        _check_not_clobbered(folder, resume=resume, overwrite=overwrite)
        prune_leftovers(folder)
        yield folder
    finally:
        (folder / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()


def claims_run_folder(train: Callable[..., Trained]) -> Callable[..., Trained]:
    """Make a task's ``train(config, ...)`` claim ``config.out_dir`` while it runs.

    For the tasks trained on examples (:mod:`rnnkit.training.example_training`): a
    folder holding a run needs ``config.resume`` or ``config.overwrite``.
    """
    @functools.wraps(train)
    def claimed(config: Any, *args: Any, **kwargs: Any) -> Trained:
        with claim_run_folder(config.out_dir, resume=getattr(config, "resume", False),
                              overwrite=config.overwrite, main_process=process_rank() == 0):
            return train(config, *args, **kwargs)

    return claimed


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds a run: a checkpoint pointer, a save folder or a log."""
    if not folder.is_dir():
        return False
    return any(_is_run_entry(entry) for entry in os.scandir(folder))


def prune_leftovers(folder: Path) -> list[str]:
    """Delete the temporary files of interrupted atomic writes in ``folder`` (and in its
    save folders) and the save folders no pointer names; returns the names removed.

    Only safe while holding the folder's lock: another writer's temporary file is its
    save in progress.
    """
    removed = []
    for directory in [folder, *(folder / name for name in _save_folders(folder))]:
        for entry in os.scandir(directory):
            if entry.is_file(follow_symlinks=False) and TEMPORARY_NAME.fullmatch(entry.name):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(str(Path(entry.path).relative_to(folder)))
    before = set(_save_folders(folder))
    prune_unnamed_saves(folder)
    removed += sorted(before - set(_save_folders(folder)))
    if removed:
        log.info("removed what an interrupted run left in %s: %s", folder, ", ".join(removed))
    return removed


# --- the lock ------------------------------------------------------------------------------
def _acquire(folder: Path) -> filelock.BaseFileLock:
    """The folder's lock, taken without waiting, or the error that names its holder."""
    lock = filelock.FileLock(folder / LOCK_FILE)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        raise RunFolderError(f"run folder {folder} is in use by {_holder(folder)}; wait for "
                             f"that run to end or choose another out_dir") from None
    return lock


def _write_holder(folder: Path) -> None:
    atomic_write_json(folder / HOLDER_FILE, {
        "pid": os.getpid(), "host": socket.gethostname(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})


def _holder(folder: Path) -> str:
    """Who holds the lock, in words, from the record it writes next to the lock.

    The holder writes its record just after taking the lock, so a process refused at that
    moment waits a little for it; a record left by a killed process (its pid gone from this
    host) is not taken for the holder's.
    """
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        holder = _read_holder(folder)
        if holder is not None and not _is_stale(holder):
            return (f"process {holder['pid']} on {holder['host']} (command: "
                    f"{holder['command']}, started at {holder['started_at']})")
        if time.monotonic() >= deadline:
            return "another process (it has not recorded its details)"
        time.sleep(0.02)


def _read_holder(folder: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fields = ("pid", "host", "command", "started_at")
    if not isinstance(holder, dict) or not all(key in holder for key in fields):
        return None
    return holder


def _is_stale(holder: dict[str, Any]) -> bool:
    """True when the record names a process of this host that no longer runs."""
    if holder["host"] != socket.gethostname() or not isinstance(holder["pid"], int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs, as another user
        return False
    return False


# --- overwrite guard -----------------------------------------------------------------------
def _check_not_clobbered(folder: Path, *, resume: bool, overwrite: bool) -> None:
    if resume or not holds_run(folder):
        return
    if not overwrite:
        raise RunFolderError(f"run folder {folder} already holds a run (checkpoints or "
                             f"log.csv); give resume to continue it or overwrite to replace "
                             f"it, or choose another out_dir")
    removed = _remove_run_files(folder)
    log.info("overwrite: removed the previous run's %s from %s", ", ".join(removed), folder)


def _remove_run_files(folder: Path) -> list[str]:
    """Delete what rnnkit wrote in ``folder``; files it does not know stay."""
    removed = []
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and SAVE_FOLDER.fullmatch(entry.name):
            shutil.rmtree(path)
        elif entry.is_file(follow_symlinks=False) and (
                entry.name in RUN_FILES or TEMPORARY_NAME.fullmatch(entry.name)
                or _is_pointer_file(path)):
            path.unlink()
        elif entry.is_dir(follow_symlinks=False) and entry.name == TENSORBOARD_FOLDER:
            _remove_tensorboard_events(path)
        else:
            continue
        removed.append(entry.name)
    return removed


def _remove_tensorboard_events(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file() and TENSORBOARD_EVENTS.fullmatch(path.name):
            path.unlink()
    with contextlib.suppress(OSError):  # not empty: the user keeps something there
        folder.rmdir()


def _is_run_entry(entry: os.DirEntry) -> bool:
    if entry.is_dir(follow_symlinks=False):
        return SAVE_FOLDER.fullmatch(entry.name) is not None
    return entry.name == LOG_FILE or _is_pointer_file(Path(entry.path))


def _is_pointer_file(path: Path) -> bool:
    if path.suffix != ".json" or path.name.startswith("."):
        return False
    try:
        # A pointer is a small regular file; anything else (a link to /dev/zero, a large
        # record of the user's) is not read at all.
        if path.is_symlink() or not path.is_file() or path.stat().st_size > POINTER_MAX_BYTES:
            return False
        return is_checkpoint_pointer(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False  # not ours: other records may sit next to the checkpoints


def _save_folders(folder: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(folder)
                  if entry.is_dir(follow_symlinks=False) and SAVE_FOLDER.fullmatch(entry.name))
