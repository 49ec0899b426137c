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
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rnnkit.models.language_model import ModelConfig
from rnnkit.training.precision import PRECISIONS
from rnnkit.validation import check_choice

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LEVELS = ("char", "word")
FORMATS = ("text", "abc")
CONDITIONS = ("key_meter",)
DEFAULT_MAX_STEPS = 1000  # the bound of a run that names none
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "plateau", "cosine")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DataConfig:
    """Where the text comes from and how it becomes tokens.

    A text without its own splits is split into training and validation parts: ``format =
    "text"`` takes the last ``valid_fraction`` of it; ``format = "abc"`` reads it as ABC
    tunes and puts whole tunes, drawn with ``split_seed``, into each part
    (:func:`rnnkit.data.abc_tunes.split_abc_text`). ``condition = "key_meter"`` (ABC only)
    gives every character its tune's key and meter class, for a conditional model
    (:mod:`rnnkit.data.abc_conditions`).
    """

    dataset: str | None = "shakespeare"
    text_file: str | None = None
    level: str = "char"
    max_vocab: int | None = None
    valid_fraction: float = 0.1
    format: str = "text"
    split_seed: int = 0
    condition: str | None = None

    def __post_init__(self) -> None:
        check_choice("DataConfig", "level", self.level, LEVELS)
        check_choice("DataConfig", "format", self.format, FORMATS)
        if self.condition is not None:
            check_choice("DataConfig", "condition", self.condition, CONDITIONS)
            if self.format != "abc" or self.level != "char":
                raise ValueError(f"DataConfig: condition={self.condition!r} needs "
                                 f"format='abc' and level='char', got format={self.format!r} "
                                 f"and level={self.level!r}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"DataConfig expected valid_fraction in (0, 1), "
                             f"got {self.valid_fraction}")


@dataclass(frozen=True)
class TrainConfig:
    """The optimization: batches, truncated BPTT, optimizer, schedule, stopping, records.

    Bounds: ``max_steps``, ``max_epochs``, ``max_time`` (minutes of training, validation
    excluded); the first reached ends the run. Every ``eval_every`` steps the model is
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
    min_lr: float = 0.0
    decay_steps: int | None = None
    clip_norm: float | None = 5.0
    clip_value: float | None = None
    max_steps: int | None = None
    max_epochs: int | None = None
    max_time: float | None = None
    eval_every: int = 200
    eval_batch_size: int = 16
    eval_window: int = 256
    eval_max_tokens: int | None = None
    early_stop_patience: int | None = None
    explode_factor: float = 1e3
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

    def __post_init__(self) -> None:
        owner = "TrainConfig"
        check_choice(owner, "precision", self.precision, PRECISIONS)
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        check_choice(owner, "schedule", self.schedule, SCHEDULES)
        check_choice(owner, "device", self.device, DEVICES)
        for name in ("batch_size", "seq_len", "eval_every", "log_every", "eval_batch_size",
                     "eval_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{owner} expected {name} >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"{owner} expected lr > 0, got {self.lr}")
        if self.clip_norm is not None and self.clip_value is not None:
            raise ValueError(f"{owner}: choose clip_norm or clip_value, not both")
        if self.max_steps is None and self.max_epochs is None and self.max_time is None:
            raise ValueError(f"{owner} needs a bound: max_steps, max_epochs or max_time")


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


def apply_overrides(config: RunConfig, sections: dict[str, Any]) -> RunConfig:
    """Return ``config`` with the given per-section values replaced."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; "
                         f"expected {sorted(SECTIONS)}")
    updated = {}
    for section, values in sections.items():
        current = getattr(config, section)
        known = {f.name for f in fields(current)}
        bad = set(values) - known
        if bad:
            raise ValueError(f"unknown key(s) {sorted(bad)} in [{section}]; "
                             f"known keys: {', '.join(sorted(known))}")
        if section == "train":
            values = _without_default_bound(current, values)
        updated[section] = replace(current, **values)
    return replace(config, **updated)


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
    """Read a TOML config file over ``base`` (defaults when omitted)."""
    return apply_overrides(base or RunConfig(), read_toml(path))


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML config file; a missing file or bad TOML is named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {path} is not valid TOML: {error}") from error
