"""What may change when a run is resumed, and what may not.

A resumed run restores the model's weights, the optimizer's moments, the data position and
the carried hidden state from its checkpoint; a setting they depend on cannot change (a
new hidden size does not fit the weights, another optimizer does not fit the moments,
another batch size does not fit the carried state, another text or vocabulary makes the
data position meaningless). Settings that only steer what comes next (the rate, the bounds,
how often to validate, where to run) may change; they are logged and kept in the run's
history of resumes.

The rule is a list of what may change (:data:`CHANGEABLE`): a setting not on it refuses the
resume, so a new setting is safe until someone decides it may change. A run saved with the
table of a task on top of the language model (``task``: ``rnnkit music``'s) resumes only
with one, and a run saved without only without: the task reads its data its own way.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rnnkit.training.config import upgrade_saved_config

log = logging.getLogger(__name__)

# Keys filled in from the data, never set by hand: compared through the data settings.
DERIVED = {"model.vocab_size", "model.condition_sizes"}
CHANGEABLE = {
    *(f"train.{name}" for name in (
        "lr", "momentum", "weight_decay", "warmup_steps", "decay_start_epoch", "decay_factor",
        "plateau_patience", "min_lr", "decay_steps", "clip_norm", "clip_value", "max_steps",
        "max_epochs", "max_time", "eval_every", "eval_every_epochs",
        "plateau_threshold", "eval_batch_size", "eval_window", "eval_max_tokens",
        "early_stop_patience", "target_error", "target", "explode_factor", "log_every",
        "sample_length", "seed", "out_dir", "resume", "overwrite", "device", "threads",
        "progress", "tensorboard", "compile", "compile_backend", "flush_denormals")),
    "model.dropout",  # no weights depend on it
}


class ResumeMismatchError(ValueError):
    """The new settings cannot continue the saved run; the message lists each key."""


def check_resumable(saved: dict[str, Any], new: dict[str, Any], where: str) -> dict[str, list]:
    """Compare the settings of a saved run with the new ones; returns the accepted changes
    as ``{"section.key": [old, new]}``.

    Raises :class:`ResumeMismatchError` naming every key that cannot change, with its old
    and new value. A key the saved run did not record (an older rnnkit) is not compared;
    keys an older rnnkit saved elsewhere are read where they are now
    (:func:`~rnnkit.training.config.upgrade_saved_config`).
    """
    saved = upgrade_saved_config(saved)
    old_values, new_values = _flatten(saved), _flatten(new)
    changed = {key: [old_values[key], value] for key, value in new_values.items()
               if key in old_values and key not in DERIVED and old_values[key] != value}
    if ("task" in saved) != ("task" in new):  # one side has no keys there to compare
        changed["task"] = [saved.get("task"), new.get("task")]
    refused = {key: values for key, values in changed.items() if not _changeable(key)}
    if refused:
        listed = "; ".join(f"{key}: saved {old!r}, now {now!r}"
                           for key, (old, now) in sorted(refused.items()))
        raise ResumeMismatchError(
            f"cannot resume the run in {where} with these settings changed ({listed}); "
            f"resume with the saved values, or start a new run (another out_dir, or overwrite)")
    accepted = {key: values for key, values in changed.items()
                if key.rsplit(".", 1)[-1] not in ("resume", "overwrite")}
    for key, (old, now) in sorted(accepted.items()):
        log.info("resume: %s changed from %r to %r", key, old, now)
    return accepted


def _changeable(key: str) -> bool:
    """On :data:`CHANGEABLE`; a task whose settings share one table (``classify.lr``) may
    change there what ``[train]`` may."""
    section, _, name = key.partition(".")
    if section in ("model", "data"):
        return key in CHANGEABLE
    return f"train.{name}" in CHANGEABLE


def resume_record(step: int, changes: dict[str, list]) -> dict[str, Any]:
    """One entry of a run's history of resumes: when, at which step, what changed."""
    return {"step": step, "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "changed": changes}


def _flatten(sections: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``; tuples and lists compare alike."""
    flat = {}
    for section, values in sections.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            flat[f"{section}.{key}"] = list(value) if isinstance(value, tuple) else value
    return flat
