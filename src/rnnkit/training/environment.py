"""Where a run computes: seeds, the device, and the record of what computed it."""

from __future__ import annotations

import platform
import random
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.engine.denormals import denormal_handling


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but torch sees no CUDA device")
    return torch.device(name)


def run_environment(precision: str, device: torch.device) -> dict[str, Any]:
    """What a result depends on besides its configuration and seed, saved with every
    checkpoint: torch's thread count, the precision trained in (``auto``'s choice, not
    ``auto``), how the CPU threads treat denormal floats now
    (:func:`~rnnkit.engine.denormals.denormal_handling`), the device, the versions of
    Python and the libraries, and the git commit of the rnnkit checkout (``None`` for an
    installed copy; ``+dirty`` when files differ from it)."""
    return {"threads": torch.get_num_threads(), "precision": precision,
            "denormals": denormal_handling(),
            "device": str(device), "cpu": platform.processor() or platform.machine(),
            "versions": library_versions(), "git_commit": git_commit()}


@cache
def library_versions() -> dict[str, str]:
    """Python's version and those of rnnkit and the libraries its figures depend on."""
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__}
    try:
        versions["rnnkit"] = metadata.version("rnnkit")
    except metadata.PackageNotFoundError:  # a source tree on the path, not installed
        versions["rnnkit"] = "not installed"
    return versions


@cache
def git_commit() -> str | None:
    """The commit of the git checkout rnnkit runs from, ``+dirty`` if its tracked files
    differ from it; None outside a checkout (or without git)."""
    root = Path(__file__).resolve().parents[3]  # src/rnnkit/training/ -> the checkout
    try:
        if Path(_git(root, "rev-parse", "--show-toplevel")).resolve() != root:
            return None  # an installed copy inside some other repository
        commit = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _git(root: Path, *arguments: str) -> str:
    return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True,
                          text=True, check=True, timeout=10).stdout.strip()
