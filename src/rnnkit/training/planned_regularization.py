"""Dropout from the planned number of passes over the training text (``dropout = "auto"``).

A run that reads its text once has nothing to regularize yet: dropout only slows it (the
10-minute Shakespeare recipe, 1.2 passes over the complete works, trains best without).
The same recipe given a text a fifth the size makes six passes and overfits without it.
So a recipe that says ``dropout = "auto"`` gets its dropout from the passes its bounds
plan, before the model is built; the number it got is saved in the run's config.
"""

from __future__ import annotations

import math

from rnnkit.training.config import TrainConfig

#: (fewer passes than this, dropout): the first row that holds applies. Up to 2 passes, none;
#: about 6 (the 30-minute recipe on the complete works, the 10-minute one on 1 MB), 0.2,
#: which is what the plain 2x512 loop and the 30-minute recipe were measured with; many
#: passes, up to char-rnn's 0.5.
PASS_DROPOUT = ((2.0, 0.0), (4.0, 0.1), (10.0, 0.2), (30.0, 0.3), (math.inf, 0.5))


def planned_passes(settings: TrainConfig, train_tokens: int, steps_per_epoch: int) -> float:
    """Passes over ``train_tokens`` that the run's step and epoch bounds plan: the fewer
    of ``max_steps`` and ``max_epochs`` epochs, at ``batch_size * seq_len`` tokens a step.
    A run bounded by ``max_time`` alone plans nothing and is refused (``max_steps = "auto"``
    turns its minutes into steps first: :mod:`rnnkit.training.step_horizon`)."""
    bounds = [bound for bound in (settings.max_steps, settings.max_epochs and
                                  settings.max_epochs * steps_per_epoch) if bound]
    if not bounds:
        raise ValueError(f"dropout = 'auto' sets dropout from the passes a run plans, which "
                         f"needs max_steps or max_epochs; this run has only max_time = "
                         f"{settings.max_time} (give one, max_steps = 'auto' to plan the "
                         f"steps max_time holds, or a number for dropout)")
    return min(bounds) * settings.batch_size * settings.seq_len / train_tokens


def dropout_for_passes(passes: float) -> float:
    """The dropout :data:`PASS_DROPOUT` gives a run of ``passes`` passes."""
    return next(dropout for below, dropout in PASS_DROPOUT if passes < below)
