"""Run configuration: frozen dataclasses, read from TOML, saved as JSON with every checkpoint.

Precedence is defaults < config file < command-line flags. A TOML file has one table per
section::

    [data]
    dataset = "shakespeare"
    [model]
    hidden_size = 256
    [train]
    max_steps = 2000
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from rnnkit.models.language_model import ModelConfig
from rnnkit.training.precision import PRECISION_SETTINGS
from rnnkit.validation import (
    MAX_BATCH,
    MAX_LENGTH,
    MAX_SEED,
    ConfigValueError,
    Rule,
    check_fields,
    unknown_key,
    unknown_table,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LEVELS = ("char", "word")
DEFAULT_MAX_STEPS = 1000  # the bound of a run that names none
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "plateau", "cosine")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DataConfig:
    """Where the text comes from and how it becomes tokens.

    A text without its own splits is split into training and validation parts: the last
    ``valid_fraction`` of it validates. A task that reads the text in units of its own
    splits it its own way, with ``split_seed`` where it draws them at random (``rnnkit
    music`` puts whole tunes into each part).
    """

    dataset: str | None = "shakespeare"
    text_file: str | None = None
    level: str = "char"
    max_vocab: int | None = None
    valid_fraction: float = 0.1
    split_seed: int = 0

    RANGES: ClassVar[dict[str, Rule]] = {
        "level": LEVELS, "max_vocab": ">= 2", "valid_fraction": "(0, 1)",
        "split_seed": f"[0, {MAX_SEED}]"}
    # Keys a run of an older rnnkit saved in [data] that a task's own table holds now, each
    # with the value that meant plain text (see upgrade_saved_config).
    MOVED_TO_TASK: ClassVar[dict[str, Any]] = {"format": "text", "condition": None}

    def __post_init__(self) -> None:
        check_fields(self)


def upgrade_saved_config(sections: dict[str, Any]) -> dict[str, Any]:
    """The config document a run saved, in today's layout.

    An older rnnkit kept a task's own settings in ``[data]``
    (:attr:`DataConfig.MOVED_TO_TASK`). Where they all say plain text they are dropped;
    otherwise they move, all of them, to the run's ``task`` table, where the task that
    wrote the run reads them (and a resume compares them). Other documents come back as
    they are.
    """
    data = sections.get("data")
    if not isinstance(data, dict) or not set(data) & set(DataConfig.MOVED_TO_TASK):
        return sections
    moved = {key: data[key] for key in DataConfig.MOVED_TO_TASK if key in data}
    upgraded = {**sections, "data": {k: v for k, v in data.items() if k not in moved}}
    if any(DataConfig.MOVED_TO_TASK[key] != value for key, value in moved.items()):
        upgraded["task"] = {**moved, **sections.get("task", {})}
    return upgraded


@dataclass(frozen=True)
class TrainConfig:
    """The optimization: batches, truncated BPTT, optimizer, schedule, stopping, records.

    Bounds: ``max_steps``, ``max_epochs``, ``max_time`` (minutes of training, validation
    excluded); the first reached ends the run. ``max_steps = "auto"`` (with ``max_time``):
    the steps ``max_time`` holds on this machine, measured before the first step and saved
    in the run's config (:mod:`rnnkit.training.step_horizon`), so that a cosine schedule
    and ``dropout = "auto"`` plan by the host's speed. Every ``eval_every`` steps the model is
    validated (stateful, on the first ``eval_max_tokens`` validation tokens if set) and
    checkpointed; the end of a run validates on the whole split. ``explode_factor``: a
    window loss above ``explode_factor * ln(vocab)`` (or a non-finite loss or gradient)
    stops the run before the update reaches the weights. ``precision``: ``"fp32"``, or
    ``"bf16"``/``"fp16"`` mixed precision (:mod:`rnnkit.training.precision`). ``compile``:
    train through ``torch.compile`` with ``compile_backend`` (evaluation and generation stay
    eager). Under torchrun,
    ``batch_size`` is the number of streams over all processes
    (:mod:`rnnkit.training.distributed`). ``decay_steps``: the step at which
    the cosine schedule reaches ``min_lr`` (default: the run's bound in steps); set it when a
    run is split into parts with ``resume`` so that every part follows the same curve.
    ``target_error``: stop at the first validation whose error (the task's figure to
    minimize, e.g. the validation loss) is at or below it. ``eval_every_epochs``: also
    validate at the end of every this many epochs (set
    ``eval_every`` to none to validate by epochs only); a run validates where it stops
    too. ``average_decay`` d > 0 keeps an exponential moving average of the weights,
    ``average = d * average + (1 - d) * weights`` after every step (Polyak averaging,
    Keras' ``use_ema``), and validates and saves the average. ``flush_denormals``: float
    values below 1.18e-38 count as zero in every CPU thread while the run trains
    (:mod:`rnnkit.engine.denormals`): a vanishing recurrence's backward pass runs several
    times faster on a CPU that pays for denormals; the run records how it treated them
    (``environment``).
    """

    batch_size: int = 64
    seq_len: int = 100
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    decay_start_epoch: int = 4
    decay_factor: float = 0.5
    plateau_patience: int = 1
    plateau_threshold: float = 1e-4  # a validation this much better (relative) counts
    min_lr: float = 0.0
    decay_steps: int | None = None
    clip_norm: float | None = 5.0
    clip_value: float | None = None
    max_steps: int | Literal["auto"] | None = None
    max_epochs: int | None = None
    max_time: float | None = None
    eval_every: int | None = 200
    eval_every_epochs: int | None = None
    eval_batch_size: int = 16
    eval_window: int = 256
    eval_max_tokens: int | None = None
    early_stop_patience: int | None = None
    target_error: float | None = None
    explode_factor: float = 1e3
    average_decay: float = 0.0
    log_every: int = 10
    sample_length: int = 200
    seed: int = 1337
    out_dir: str = "runs/default"
    resume: bool = False
    overwrite: bool = False  # replace the run in out_dir (rnnkit.training.run_folder)
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    tensorboard: bool = True
    precision: str = "fp32"
    compile: bool = False
    compile_backend: str = "inductor"
    flush_denormals: bool = True

    RANGES: ClassVar[dict[str, Rule]] = {
        "batch_size": f"[1, {MAX_BATCH}]", "seq_len": f"[1, {MAX_LENGTH}]",
        "optimizer": OPTIMIZERS, "lr": "> 0", "momentum": "[0, 1)", "weight_decay": ">= 0",
        "schedule": SCHEDULES, "warmup_steps": ">= 0", "decay_start_epoch": ">= 0",
        "decay_factor": "(0, 1]", "plateau_patience": ">= 0", "plateau_threshold": ">= 0",
        "min_lr": ">= 0",
        "decay_steps": ">= 1", "clip_norm": "> 0", "clip_value": "> 0", "max_steps": ">= 1",
        "max_epochs": ">= 1", "max_time": "> 0", "eval_every": ">= 1",
        "eval_every_epochs": ">= 1", "average_decay": "[0, 1)",
        "eval_batch_size": f"[1, {MAX_BATCH}]", "eval_window": f"[1, {MAX_LENGTH}]",
        "eval_max_tokens": ">= 1", "early_stop_patience": ">= 1", "explode_factor": "> 0",
        "log_every": ">= 1", "sample_length": f"[0, {MAX_LENGTH}]", "seed": f"[0, {MAX_SEED}]",
        "device": DEVICES, "threads": "[1, 4096]", "precision": PRECISION_SETTINGS}

    def __post_init__(self) -> None:
        owner = "TrainConfig"
        check_fields(self)
        if self.min_lr > self.lr:
            raise ValueError(f"{owner}: min_lr must be at most lr, got min_lr {self.min_lr} "
                             f"and lr {self.lr}")
        if self.clip_norm is not None and self.clip_value is not None:
            raise ValueError(f"{owner}: choose clip_norm or clip_value, not both (clip_norm "
                             f"is {self.clip_norm}; set it to none to clip by value), got "
                             f"clip_norm {self.clip_norm} and clip_value {self.clip_value}")
        if self.max_steps is None and self.max_epochs is None and self.max_time is None:
            raise ValueError(f"{owner} needs a bound: max_steps, max_epochs or max_time")
        if self.max_steps == "auto" and self.max_time is None:
            raise ValueError(f"{owner}: max_steps = 'auto' plans the steps that max_time "
                             f"minutes hold on this machine, so it needs max_time; got "
                             f"max_time None (give max_time, or a number for max_steps)")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs; ``rnnkit.train(RunConfig(...))`` runs it."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=DEFAULT_MAX_STEPS))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with one entry per section."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, sections: dict[str, Any]) -> RunConfig:
        """Build from ``{"data": {...}, "model": {...}, "train": {...}}``; unknown keys fail."""
        return apply_overrides(cls(), sections)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
BOUNDS = ("max_steps", "max_epochs", "max_time")


def apply_overrides(config: RunConfig, sections: dict[str, Any],
                    path: str | Path | None = None, *,
                    other_tables: Sequence[str] = ()) -> RunConfig:
    """Return ``config`` with the given per-section values replaced (read from the config
    file at ``path``, if given: errors name it). ``other_tables`` are the recipe's tables
    the caller has taken out and read itself (a task's ``[task]``): an unknown table's
    error lists them too."""
    where = f"config file {path}: " if path is not None else ""
    for table in sections:
        if table not in SECTIONS:
            raise ValueError(where + unknown_table(table, [*SECTIONS, *other_tables]))
    updated = {}
    for section, values in sections.items():
        current = getattr(config, section)
        known = {f.name for f in fields(current)}
        if not isinstance(values, dict):
            raise ValueError(f"{where}[{section}] must be a table of keys, got "
                             f"{type(values).__name__}")
        for key in values:
            if key not in known:
                raise ValueError(where + unknown_key(key, section, known))
        if section == "train":
            values = _without_default_bound(current, values)
        updated[section] = replace_section(current, values, section, path)
    return replace(config, **updated)


def replace_section(current: Any, values: dict[str, Any], section: str,
                    path: str | Path | None = None) -> Any:
    """``current`` with ``values`` replaced; a bad value is named with its ``[section]``
    (and the config file at ``path``, when the values came from one)."""
    try:
        return replace(current, **values)
    except ConfigValueError as error:
        if path is None:
            raise
        raise ValueError(error.for_file(path, section)) from None
    except ValueError as error:  # a rule between fields
        if path is None:
            raise
        raise ValueError(f"config file {path}: [{section}] {error}") from None


def _without_default_bound(current: TrainConfig, values: dict[str, Any]) -> dict[str, Any]:
    """The default ``max_steps`` only applies when nothing names a bound.

    Without this, a file that says ``max_time = 2`` would also stop at the default step
    count, whichever came first. Only the bounds are compared: a base that differs from the
    defaults elsewhere (``rnnkit music train`` starts from its own data and folder) still
    holds the default bound.
    """
    default_bounds = (DEFAULT_MAX_STEPS, None, None)
    if tuple(getattr(current, name) for name in BOUNDS) != default_bounds or not (
            set(values) & set(BOUNDS)):
        return values
    return {**dict.fromkeys(BOUNDS), **values}


def load_config_file(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a TOML config file over ``base`` (defaults when omitted); a bad value is named
    with the file, its ``[section]`` and its key."""
    return apply_overrides(base or RunConfig(), read_toml(path), path)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML config file, or of the shipped recipe ``path`` names (see
    :func:`rnnkit.recipes.config_path`); a missing file or bad TOML is named."""
    from rnnkit.data.text import read_utf8
    from rnnkit.recipes import config_path

    path = config_path(path)
    text = read_utf8(path, "config file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {path} is not valid TOML: {error}") from error
