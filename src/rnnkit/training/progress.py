"""Where a run is: the counters saved with every checkpoint and read back on resume."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint.

    ``batch`` is the place within the epoch (a window of the language model's streams, a
    batch of examples); ``tokens`` adds up what the task's losses averaged over, on all
    processes; ``elapsed_s`` is training time, validation excluded; ``best_error`` the
    lowest validation error so far; ``validated_step`` the step of the last validation.
    """

    step: int = 0
    epoch: int = 0
    batch: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_error: float = math.inf
    evals_since_best: int = 0
    validated_step: int = -1

    # Keys a checkpoint of an older rnnkit holds under another name, and today's name.
    RENAMED: ClassVar[dict[str, str]] = {"window": "batch", "best_val_loss": "best_error"}

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> Self:
        """The progress a checkpoint saved, its renamed keys read under today's names."""
        known = {field.name for field in fields(cls)}
        renamed = {cls.RENAMED.get(key, key): value for key, value in values.items()}
        unknown = sorted(set(renamed) - known)
        if unknown:
            raise ValueError(f"checkpoint progress has unknown key(s) {unknown}; "
                             f"known: {sorted(known)}")
        return cls(**renamed)
