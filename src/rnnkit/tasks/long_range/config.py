"""The settings of one long-range run (adding problem, copy task, sequential digits)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rnnkit.cells.catalog import CELL_NAMES
from rnnkit.data.digits import PIXEL_ORDERS, PIXELS
from rnnkit.training.config import TrainConfig
from rnnkit.training.precision import PRECISION_SETTINGS
from rnnkit.validation import (
    MAX_BATCH,
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SEED,
    MAX_SIZE,
    Rule,
    check_fields,
)

TASKS = ("adding", "copy", "digits")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEFAULT_LENGTH = 100


@dataclass(frozen=True)
class LongRangeConfig:
    """One long-range run.

    ``length`` is T for the adding problem and the delay for copy (default 100); digits are
    always read as 64 pixels, so for them it must be 64 or left out. ``test_size`` sizes the
    synthetic test sets; digits are scored on their held-out split (300 images).
    ``clip_value`` clips every gradient entry to [-v, v], ``clip_norm`` the total norm (one
    of them: set ``clip_norm`` to none to clip by value). ``target`` stops training at the
    first evaluation that reaches it (test MSE at or below it; accuracy at or above it).
    ``out_dir`` keeps the run (checkpoints, ``log.csv``, ``result.json``, ``curve.png``)
    so that it can be resumed; none trains in a temporary folder and keeps nothing.
    """

    task: str
    cell: str = "lstm"
    length: int | None = None
    hidden_size: int = 128
    num_layers: int = 1
    max_steps: int = 2000
    batch_size: int = 50
    optimizer: str = "adam"
    lr: float = 1e-3
    clip_norm: float | None = 1.0
    clip_value: float | None = None
    forget_bias: float = 1.0
    test_size: int = 1000
    eval_every: int = 100
    target: float | None = None
    seed: int = 0
    copy_length: int = 10
    num_symbols: int = 8
    pixel_order: str = "rows"
    out_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"
    threads: int | None = None
    precision: str = "fp32"
    tensorboard: bool = False
    progress: bool = True
    flush_denormals: bool = True

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest, and
    # the recipe's [task] name is the task.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"length", "test_size", "copy_length", "num_symbols", "pixel_order"}),
        "model": frozenset({"cell", "hidden_size", "num_layers", "forget_bias"}),
        "task": frozenset({"target"})}
    HELP: ClassVar[dict[str, str]] = {
        "length": "T for the adding problem, the delay for copy; none: 100",
        "max_steps": "training steps (fewer when --target is reached)",
        "clip_norm": "clip the total gradient norm; 'none' turns it off",
        "clip_value": "clip every gradient entry to [-v, v] (with --clip-norm none)",
        "num_layers": "recurrent layers stacked, the read-out on the top one",
        "forget_bias": "for the LSTM",
        "test_size": "test sequences of the synthetic tasks (digits use their split)",
        "target": "stop at the first evaluation that reaches this score",
        "copy_length": "symbols to recall", "num_symbols": "symbol alphabet",
        "pixel_order": "row-major, or one fixed random permutation",
        "out_dir": "keep the run here (checkpoints, log.csv, result.json, curve.png); "
                   "none keeps nothing",
        "resume": "continue the run in --out-dir from its latest checkpoint",
        "overwrite": "replace the run in --out-dir",
        "flush_denormals": "values below 1.18e-38 count as zero in every CPU thread "
                           "(faster where gradients vanish, on CPUs that pay for denormals)"}
    RANGES: ClassVar[dict[str, Rule]] = {
        "task": TASKS, "cell": CELL_NAMES, "length": f"[1, {MAX_LENGTH}]",
        "hidden_size": f"[1, {MAX_SIZE}]", "num_layers": f"[1, {MAX_LAYERS}]",
        "max_steps": ">= 1", "batch_size": f"[1, {MAX_BATCH}]",
        "optimizer": OPTIMIZERS, "lr": "> 0", "clip_norm": "> 0", "clip_value": "> 0",
        "test_size": f"[1, {MAX_BATCH}]", "eval_every": ">= 1", "seed": f"[0, {MAX_SEED}]",
        "copy_length": "[1, 4096]", "num_symbols": "[1, 4096]", "pixel_order": PIXEL_ORDERS,
        "device": ("auto", "cpu", "cuda"), "threads": "[1, 4096]", "precision": PRECISION_SETTINGS}

    def __post_init__(self) -> None:
        owner = "LongRangeConfig"
        check_fields(self)
        if self.length is None:
            object.__setattr__(self, "length", PIXELS if self.task == "digits"
                               else DEFAULT_LENGTH)
        self._check_length(owner)
        ceiling = 1.0 if self.higher_is_better else math.inf
        if self.target is not None and not 0 <= self.target <= ceiling:
            raise ValueError(f"{owner} expected target in [0, {ceiling:g}] for task "
                             f"{self.task!r}, got {self.target}")
        if self.resume and self.out_dir is None:
            raise ValueError(f"{owner}: resume continues the run in out_dir; set out_dir")
        if self.clip_norm is not None and self.clip_value is not None:
            raise ValueError(f"{owner}: choose clip_norm or clip_value, not both (set "
                             f"clip_norm to none to clip by value), got clip_norm "
                             f"{self.clip_norm} and clip_value {self.clip_value}")

    def _check_length(self, owner: str) -> None:
        length = self.length
        if isinstance(length, bool) or not isinstance(length, int):
            raise ValueError(f"{owner} expected length to be an int, got {length!r}")
        if self.task == "digits" and length != PIXELS:
            raise ValueError(f"{owner}: the digits are read one pixel per step, so their "
                             f"length is {PIXELS}; got length {length}")
        minimum = 2 if self.task == "adding" else 1
        if length < minimum:
            what = "length" if self.task == "adding" else "length (the delay)"
            raise ValueError(f"{owner} needs {what} >= {minimum} for task {self.task!r}, "
                             f"got {length!r}")

    @property
    def higher_is_better(self) -> bool:
        """Whether the task's metric is an accuracy (else an error)."""
        return self.task != "adding"

    def error(self, score: float) -> float:
        """The score as a figure to minimize: the MSE itself, an accuracy negated (exactly,
        so that ``target`` is reached at the same evaluation either way)."""
        return -score if self.higher_is_better else score

    def train_settings(self, out_dir: str) -> TrainConfig:
        """These settings as the one loop's, with its run folder ``out_dir``: a constant
        rate, a validation every ``eval_every`` steps (and where the run stops), every
        step's loss and gradient norms logged."""
        return TrainConfig(
            batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr,
            clip_norm=self.clip_norm, clip_value=self.clip_value, max_steps=self.max_steps,
            eval_every=self.eval_every, log_every=1,
            target_error=None if self.target is None else self.error(self.target),
            seed=self.seed, out_dir=out_dir, resume=self.resume, overwrite=self.overwrite,
            device=self.device, threads=self.threads, progress=self.progress,
            tensorboard=self.tensorboard, precision=self.precision,
            flush_denormals=self.flush_denormals)
