"""Every task under torchrun (the example tasks and the long-range ones: adding, copy,
digits): 2 gloo processes, each on its block of every batch's rows, end with the weights
one process reaches on the whole batches: to 1e-6 for all but translation, whose attention
weights come within 1.5e-6 (the ranks' gradients are summed in another order, and Adam
divides each by its own small running scale), so the bound is 2e-6.

The runs draw nothing at random (no dropout, full teacher forcing: each rank would draw
its own), keep a plateau schedule and a weight average, and stop in the middle of an epoch.
The language model's own check is in test_distributed.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_example_worker import DETERMINISTIC
from processes import child_environment

from rnnkit.training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("ddp_example_worker.py")
STEPS = 5


def _train(tmp_path: Path, task: str, out_dir: Path, processes: int) -> None:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable])
    finished = subprocess.run([*launcher, str(WORKER), task, str(out_dir), str(STEPS)],
                              cwd=WORKER.parent, env=child_environment(), capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]


@pytest.mark.parametrize("task", sorted(DETERMINISTIC))
def test_two_processes_equal_one_on_the_whole_batches(task: str, tmp_path: Path) -> None:
    _train(tmp_path, task, tmp_path / "one", processes=1)
    _train(tmp_path, task, tmp_path / "two", processes=2)
    one, two = load_checkpoint(tmp_path / "one"), load_checkpoint(tmp_path / "two")
    assert two.trainer_state["progress"]["step"] == STEPS
    assert sorted(one.model_state) == sorted(two.model_state)
    for name, tensor in one.model_state.items():
        torch.testing.assert_close(two.model_state[name], tensor, rtol=1e-5, atol=2e-6,
                                   msg=name)
