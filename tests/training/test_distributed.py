"""Data-parallel training with torchrun: 2 gloo processes on CPU against one process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from processes import child_environment, failure_output
from safetensors.torch import load_file

from rnnkit.models import ModelConfig
from rnnkit.tasks.language_model.training import prepare_run
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.distributed import Distributed, check_divides
from rnnkit.training.records import QuietRecords
from rnnkit.training.trainer import training_loop

WORKER = Path(__file__).with_name("ddp_worker.py")




def small_config(text_file: Path, out_dir: Path, **train_values) -> RunConfig:
    settings = dict(batch_size=4, seq_len=16, max_steps=5, lr=3e-3, eval_every=3,
                    eval_batch_size=4, eval_window=32, sample_length=10, seed=11,
                    out_dir=str(out_dir), progress=False, tensorboard=False)
    settings.update(train_values)
    return RunConfig(data=DataConfig(dataset=None, text_file=str(text_file)),
                     model=ModelConfig(embedding_size=8, hidden_size=16, num_layers=2,
                                       dropout=0.0),
                     train=TrainConfig(**settings))


def torchrun(nproc: int, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = child_environment()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", *arguments]
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


def single_process_weights(config: RunConfig) -> dict[str, torch.Tensor]:
    run = prepare_run(config)
    training_loop(run, QuietRecords())
    return {name: value.detach().clone() for name, value in run.model.state_dict().items()}


@pytest.mark.parametrize(("model_options", "train_options"), [
    ({}, {}),
    # rnnkit's own LSTM scan kernel, and under torch.compile
    ({"peephole": True}, {"compile": True, "compile_backend": "aot_eager"}),
    # rnnkit's minimal-recurrence kernel inside residual blocks (RMSNorm, feed-forward)
    ({"cell": "mingru"}, {}),
    # the adaptive softmax trains through next_token_loss: the loop averages the gradients
    ({"output_layer": "adaptive", "adaptive_cutoffs": (4, 12)}, {}),
], ids=["fused", "scan-compiled", "mingru-blocks", "adaptive-softmax"])
def test_two_gloo_processes_equal_one_process_on_the_combined_batch(
        text_file: Path, tmp_path: Path, model_options: dict, train_options: dict) -> None:
    config = small_config(text_file, tmp_path / "run", **train_options)
    config = replace(config, model=replace(config.model, **model_options))
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    result = torchrun(2, str(WORKER), str(config_path), str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, failure_output(result)
    rank0 = load_file(tmp_path / "rank0.safetensors")
    rank1 = load_file(tmp_path / "rank1.safetensors")
    reference = single_process_weights(replace(config, train=replace(
        config.train, out_dir=str(tmp_path / "single"), compile=False)))
    for name, value in reference.items():
        assert torch.equal(rank0[name], rank1[name]), f"ranks differ in {name}"
        torch.testing.assert_close(rank0[name], value, rtol=0, atol=1e-6, msg=name)
    # The run moved the weights: equality is not the trivial one of untouched parameters.
    assert not torch.equal(reference["embedding.weight"],
                           prepare_run(config).model.state_dict()["embedding.weight"])


def test_every_rank_trains_to_rank_zeros_planned_steps(text_file: Path, tmp_path: Path) -> None:
    # max_steps "auto": each process times its own steps, and they would plan apart (and
    # stop at different steps, one waiting on the other) without one shared plan; with
    # precision "auto" each also chooses for itself, and all train in rank 0's choice
    config = small_config(text_file, tmp_path / "run", max_steps="auto", max_time=0.01,
                          eval_every=10_000, precision="auto")
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    result = torchrun(2, str(WORKER), str(config_path), str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, failure_output(result)
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0] == ranks[1] and isinstance(ranks[0]["max_steps"], int)
    rank0 = load_file(tmp_path / "rank0.safetensors")
    for name, value in load_file(tmp_path / "rank1.safetensors").items():
        assert torch.equal(rank0[name], value), f"ranks differ in {name}"


def rnnkit_train(nproc: int, text_file: Path, out_dir: Path, cwd: Path,
                 *flags: str) -> subprocess.CompletedProcess:
    arguments = ["--text-file", str(text_file), "--batch-size", "4", "--seq-len", "16",
                 "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "2",
                 "--dropout", "0", "--eval-every", "2", "--eval-batch-size", "4",
                 "--eval-window", "32", "--sample-length", "10", "--seed", "5",
                 "--out-dir", str(out_dir), "--no-progress", "--no-tensorboard", *flags]
    environment = child_environment()
    return subprocess.run([sys.executable, "-m", "rnnkit", "train", "--nproc", str(nproc),
                           *arguments], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=300)


def test_resume_under_ddp_continues_exactly(text_file: Path, tmp_path: Path) -> None:
    """4 steps in one go equal 2 + resume 2, both with 2 processes; the carried state, the
    step count and each rank's dropout generator come back, and only rank 0 wrote (one
    log, one set of checkpoints)."""
    dropout = ("--dropout", "0.1")  # each rank draws its own masks from its own generator
    whole = rnnkit_train(2, text_file, tmp_path / "whole", tmp_path, "--max-steps", "4",
                         *dropout)
    assert whole.returncode == 0, whole.stderr[-3000:]
    first = rnnkit_train(2, text_file, tmp_path / "split", tmp_path, "--max-steps", "2",
                         *dropout)
    assert first.returncode == 0, first.stderr[-3000:]
    second = rnnkit_train(2, text_file, tmp_path / "split", tmp_path, "--max-steps", "4",
                          "--resume", *dropout)
    assert second.returncode == 0, second.stderr[-3000:]
    assert whole.stdout.count('"stop_reason"') == 1  # the result line comes from rank 0 only
    expected = load_checkpoint(tmp_path / "whole")
    resumed = load_checkpoint(tmp_path / "split")
    assert resumed.trainer_state["progress"]["step"] == 4
    for name, value in expected.model_state.items():
        torch.testing.assert_close(resumed.model_state[name], value, rtol=0, atol=0, msg=name)
    hidden = expected.trainer_tensors["hidden.0"]
    assert hidden.shape[1] == 4  # the whole batch's carried state, gathered from both ranks


def test_a_two_process_checkpoint_resumes_in_one_process(text_file: Path,
                                                         tmp_path: Path) -> None:
    """The saved carried state holds every stream, so the world size may change on resume."""
    run = rnnkit_train(2, text_file, tmp_path / "ddp", tmp_path, "--max-steps", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    two = rnnkit_train(2, text_file, tmp_path / "two", tmp_path, "--max-steps", "4")
    assert two.returncode == 0, two.stderr[-3000:]
    resumed = rnnkit_train(1, text_file, tmp_path / "ddp", tmp_path, "--max-steps", "4",
                           "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = load_checkpoint(tmp_path / "two").model_state
    for name, value in load_checkpoint(tmp_path / "ddp").model_state.items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=1e-6, msg=name)


def test_a_world_size_that_does_not_divide_the_batch_is_refused(text_file: Path,
                                                                tmp_path: Path) -> None:
    result = rnnkit_train(2, text_file, tmp_path / "bad", tmp_path, "--max-steps", "2",
                          "--batch-size", "5")
    assert result.returncode != 0
    assert "batch_size=5 does not divide over 2 processes" in result.stderr


def test_check_divides_names_the_batch_and_the_world() -> None:
    check_divides("batch_size", 8, Distributed(rank=1, world_size=4))
    with pytest.raises(ValueError, match="batch_size=6 does not divide over 4 processes"):
        check_divides("batch_size", 6, Distributed(rank=0, world_size=4))


def test_each_rank_takes_its_contiguous_block_of_streams() -> None:
    blocks = [Distributed(rank, 3).row_slice(12) for rank in range(3)]
    assert blocks == [slice(0, 4), slice(4, 8), slice(8, 12)]
    assert Distributed().row_slice(5) == slice(0, 5)


def test_alone_the_collectives_return_their_input() -> None:
    alone = Distributed()
    assert not alone.enabled and alone.is_main
    assert alone.mean([1.0, 3.0], torch.device("cpu")) == [1.0, 3.0]
    tensor = torch.arange(6.0).view(2, 3)
    assert alone.gather_rows(tensor, dim=1) is tensor
    assert alone.gather_objects({"a": 1}) == [{"a": 1}]
