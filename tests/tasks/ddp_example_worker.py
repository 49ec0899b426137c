"""Run by test_every_task_on_two_processes.py, alone or under torchrun: train an example task
a few steps with nothing drawn at random (no dropout, full teacher forcing), so that two
processes can be held to one.

Usage: ``[torchrun --nproc_per_node N] ddp_example_worker.py TASK OUT_DIR STEPS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DETERMINISTIC = {"classify": {"word_dropout": 0.0}, "tag": {}, "forecast": {},
                 "g2p": {"teacher_forcing": 1.0}, "translation": {"teacher_forcing": 1.0},
                 "adding": {}, "copy": {}, "digits": {}}


def main(task: str, out_dir: str, steps: str) -> None:
    from shared_runs import add_task_test_folders

    add_task_test_folders()
    from test_every_task_resumes import TASKS

    run, _ = TASKS[task]
    run(Path(out_dir), dropout=0.0, max_steps=int(steps), **DETERMINISTIC[task])


if __name__ == "__main__":
    main(*sys.argv[1:])
