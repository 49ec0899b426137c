"""Training: configuration, the loop, schedules, checkpoints and resumable state."""
