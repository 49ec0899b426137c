"""Every task under torchrun (the example tasks and the long-range ones: adding, copy,
digits): 2 gloo processes, each on its block of every batch's rows, end with the weights
one process reaches on the whole batches: to 1e-6 for all but translation, whose attention
weights come within 1.5e-6 (the ranks' gradients are summed in another order, and Adam
divides each by its own small running scale), so the bound is 2e-6.

The runs draw nothing at random (no dropout, full teacher forcing: each rank would draw
its own), keep a plateau schedule and a weight average, and stop in the middle of an epoch.
One launch of each kind trains every task in turn in the same processes, so every run after
the first must reuse the process group the first joined (as a script that trains, then
fine-tunes, does); a mismatch names the task and the tensor. The language
model's own check is in test_distributed.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from ddp_example_worker import DETERMINISTIC
from processes import child_environment, failure_output

from rnnkit.training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("ddp_example_worker.py")
STEPS = 5


def _train_every_task(out_root: Path, processes: int) -> None:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable])
    finished = subprocess.run([*launcher, str(WORKER), str(out_root), str(STEPS)],
                              cwd=WORKER.parent, env=child_environment(), capture_output=True,
                              text=True, timeout=600)
    assert finished.returncode == 0, failure_output(finished)


def _differences(one_dir: Path, two_dir: Path) -> list[str]:
    """What keeps the two-process run of one task from equalling the one-process run."""
    one, two = load_checkpoint(one_dir), load_checkpoint(two_dir)
    if two.trainer_state["progress"]["step"] != STEPS:
        return [f"stopped at step {two.trainer_state['progress']['step']}, not {STEPS}"]
    if sorted(one.model_state) != sorted(two.model_state):
        return [f"other tensors: {sorted(one.model_state)} != {sorted(two.model_state)}"]
    differences = []
    for name, tensor in one.model_state.items():
        try:
            torch.testing.assert_close(two.model_state[name], tensor, rtol=1e-5, atol=2e-6)
        except AssertionError as error:
            differences.append(f"{name}: {str(error).splitlines()[-1]}")
    return differences


def test_two_processes_equal_one_on_the_whole_batches_of_every_task(tmp_path: Path) -> None:
    _train_every_task(tmp_path / "one", processes=1)
    _train_every_task(tmp_path / "two", processes=2)
    failures = {task: found for task in DETERMINISTIC
                if (found := _differences(tmp_path / "one" / task, tmp_path / "two" / task))}
    assert not failures, "\n".join(f"{task}: {len(found)} tensor(s) differ, e.g. {found[0]}"
                                   for task, found in failures.items())
