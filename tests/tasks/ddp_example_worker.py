"""Run by test_every_task_on_two_processes.py, alone or under torchrun: train every example
task a few steps with nothing drawn at random (no dropout, full teacher forcing), so that two
processes can be held to one. One launch trains them all, one after another, each into its
own folder: a launch (torch and the task modules imported, the process group joined) costs
more than a task's few steps.

Usage: ``[torchrun --nproc_per_node N] ddp_example_worker.py OUT_ROOT STEPS``; the runs go to
``OUT_ROOT/<task>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DETERMINISTIC = {"classify": {"word_dropout": 0.0}, "tag": {}, "forecast": {},
                 "g2p": {"teacher_forcing": 1.0}, "translation": {"teacher_forcing": 1.0},
                 "adding": {}, "copy": {}, "digits": {}}


def main(out_root: str, steps: str) -> None:
    from shared_runs import add_task_test_folders

    add_task_test_folders()
    from test_every_task_resumes import TASKS

    for task, settings in DETERMINISTIC.items():
        run, _ = TASKS[task]
        run(Path(out_root) / task, dropout=0.0, max_steps=int(steps), **settings)


if __name__ == "__main__":
    main(*sys.argv[1:])
