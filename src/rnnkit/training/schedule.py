"""Learning-rate schedules: constant, step decay (Zaremba et al.), plateau, cosine with warm-up."""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from rnnkit.training.config import TrainConfig


class LearningRateSchedule:
    """Sets the optimizer's learning rate after every step and every validation.

    - ``constant``: ``lr`` throughout (after the optional linear warm-up).
    - ``step``: ``lr * decay_factor ** max(0, epoch + 1 - decay_start_epoch)``, the schedule
      of Zaremba et al. (2014): full rate for ``decay_start_epoch`` epochs, then decay.
    - ``cosine``: linear warm-up over ``warmup_steps``, then cosine from ``lr`` to ``min_lr``
      at ``decay_steps`` (default ``total_steps``, the run's bound).
    - ``plateau``: multiply by ``decay_factor`` when validation loss has not improved for
      ``plateau_patience`` evaluations, an improvement counting when it is better by
      ``plateau_threshold`` of the best (relative; torch's ``ReduceLROnPlateau``).
    """

    def __init__(
        self, optimizer: Optimizer, config: TrainConfig, steps_per_epoch: int,
        total_steps: int | None,
    ) -> None:
        total_steps = config.decay_steps or total_steps
        if config.schedule == "cosine" and total_steps is None:
            raise ValueError("schedule='cosine' needs decay_steps, max_steps or max_epochs to "
                             "know its end")
        self.optimizer = optimizer
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.step_count = 0
        self.plateau = None
        if config.schedule == "plateau":
            self.plateau = ReduceLROnPlateau(optimizer, factor=config.decay_factor,
                                             patience=config.plateau_patience,
                                             threshold=config.plateau_threshold,
                                             min_lr=config.min_lr)
        self._apply(self.factor(0))

    def factor(self, step: int) -> float:
        """Multiplier of the base rate at ``step`` (plateau reductions aside)."""
        config = self.config
        warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
        if config.schedule == "step":
            epoch = step // self.steps_per_epoch
            return warmup * config.decay_factor ** max(0, epoch + 1 - config.decay_start_epoch)
        if config.schedule == "cosine":
            span = max(1, self.total_steps - config.warmup_steps)
            progress = min(1.0, max(0, step - config.warmup_steps) / span)
            floor = config.min_lr / config.lr
            return warmup * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
        return warmup

    def _apply(self, factor: float) -> None:
        if self.plateau is not None and self.step_count >= self.config.warmup_steps:
            return  # after warm-up the plateau scheduler owns the rate
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * factor

    def after_step(self) -> None:
        """Call once after every optimizer step."""
        self.step_count += 1
        self._apply(self.factor(self.step_count))

    def after_validation(self, loss: float) -> None:
        """Call with each scheduled validation loss."""
        if self.plateau is not None:
            self.plateau.step(loss)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step_count": self.step_count}
        if self.plateau is not None:
            state["plateau"] = self.plateau.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])
