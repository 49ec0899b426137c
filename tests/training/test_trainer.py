"""Truncated BPTT carry, exact resume, and the divergence guard of the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.data.batching import get_window, make_streams, num_windows
from rnnkit.metrics.language import cross_entropy, stateful_loss
from rnnkit.models import LanguageModel, ModelConfig, detach_state
from rnnkit.tasks.language_model.training import prepare_run, train
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.trainer import TrainingDivergedError


def tiny_config(text_file: Path, out_dir: Path, cell: str = "lstm", **train_values
                ) -> RunConfig:
    train_settings = dict(batch_size=4, seq_len=16, lr=3e-3, eval_every=4, log_every=2,
                          eval_batch_size=2, eval_window=32, sample_length=10, seed=7,
                          out_dir=str(out_dir), progress=False, tensorboard=False)
    train_settings.update(train_values)
    return RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file)),
        model=ModelConfig(cell=cell, embedding_size=8, hidden_size=16, num_layers=2,
                          dropout=0.1),
        train=TrainConfig(**train_settings),
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "mingru", "minlstm"])
def test_windows_with_carried_state_equal_the_unsplit_loss(cell: str) -> None:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=11, cell=cell, embedding_size=6,
                                      hidden_size=8, dropout=0.0)).double().eval()
    ids = torch.randint(0, 11, (3 * 40 + 1,))
    streams = make_streams(ids, 3)
    whole_inputs, whole_targets = streams[:, :-1], streams[:, 1:]
    whole_loss = cross_entropy(model(whole_inputs)[0], whole_targets)
    total, count, state = 0.0, 0, None
    for index in range(num_windows(streams, 7)):
        inputs, targets = get_window(streams, index, 7)
        logits, state = model(inputs, detach_state(state))
        total += cross_entropy(logits, targets) * targets.numel()
        count += targets.numel()
    torch.testing.assert_close(total / count, whole_loss, rtol=0, atol=1e-12)


@torch.no_grad()
def test_without_the_carry_the_windowed_loss_differs() -> None:
    """The check above can fail: dropping the state between windows changes the loss."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=11, embedding_size=6, hidden_size=8,
                                      dropout=0.0)).double().eval()
    streams = make_streams(torch.randint(0, 11, (3 * 40 + 1,)), 3)
    whole = cross_entropy(model(streams[:, :-1])[0], streams[:, 1:])
    windows = [get_window(streams, i, 7) for i in range(num_windows(streams, 7))]
    reset = sum(cross_entropy(model(x)[0], y) * y.numel() for x, y in windows)
    assert abs(float(reset / (streams.shape[1] - 1) / 3) - float(whole)) > 1e-6


def test_detach_state_cuts_the_graph() -> None:
    h = torch.ones(2, 3, requires_grad=True) * 2
    c = torch.ones(2, 3, requires_grad=True) * 3
    detached = detach_state((h, c))
    assert all(part.grad_fn is None and not part.requires_grad for part in detached)


@pytest.mark.parametrize("cell", ["lstm", "mingru"])
def test_resume_continues_exactly(text_file: Path, tmp_path: Path, cell: str) -> None:
    steps = 12
    straight = tiny_config(text_file, tmp_path / "straight", cell, max_steps=steps,
                           schedule="cosine", warmup_steps=3, decay_steps=steps)
    train(straight)
    split = tiny_config(text_file, tmp_path / "split", cell, max_steps=steps // 2,
                        schedule="cosine", warmup_steps=3, decay_steps=steps)
    train(split)
    resumed = tiny_config(text_file, tmp_path / "split", cell, max_steps=steps, resume=True,
                          schedule="cosine", warmup_steps=3, decay_steps=steps)
    result = train(resumed)
    assert result.steps == steps
    one_go = load_checkpoint(tmp_path / "straight").model_state
    two_parts = load_checkpoint(tmp_path / "split").model_state
    assert one_go.keys() == two_parts.keys()
    for name in one_go:
        assert torch.equal(one_go[name], two_parts[name]), name


def test_a_resume_reads_the_saved_tensors_once(text_file: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The vocabulary is read before the model exists, the weights and the trainer's state
    when the run is restored: each tensor file once (a 650-wide model's are 100 MB)."""
    from rnnkit.training import checkpoint

    train(tiny_config(text_file, tmp_path / "run", max_steps=4))
    files_read = []
    real_read = checkpoint.read_tensors

    def counted(path: Path, *args, **kwargs):
        files_read.append(Path(path).name)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "read_tensors", counted)
    prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=8, resume=True))
    assert sorted(files_read) == ["model.safetensors", "trainer.safetensors"]


def test_resume_crosses_an_epoch_boundary_exactly(text_file: Path, tmp_path: Path) -> None:
    config = tiny_config(text_file, tmp_path / "probe", max_steps=1)
    per_epoch = num_windows(prepare_run(config).task.streams, config.train.seq_len)
    stop = per_epoch + 3
    train(tiny_config(text_file, tmp_path / "a", max_steps=stop, eval_every=1000))
    train(tiny_config(text_file, tmp_path / "b", max_steps=per_epoch, eval_every=1000))
    result = train(tiny_config(text_file, tmp_path / "b", max_steps=stop, resume=True,
                               eval_every=1000))
    assert result.epochs == 1
    first, second = (load_checkpoint(tmp_path / d).model_state for d in "ab")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_divergence_stops_with_a_message_and_keeps_the_last_checkpoint(
    text_file: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=4))
    before = load_checkpoint(out_dir)
    # A threshold below any real loss makes the very next step count as an explosion.
    exploding = tiny_config(text_file, out_dir, max_steps=8, resume=True, explode_factor=1e-6)
    with pytest.raises(TrainingDivergedError,
                       match=r"diverged at step 5: loss .*last good checkpoint"):
        train(exploding)
    after = load_checkpoint(out_dir)
    assert after.trainer_state["progress"]["step"] == 4
    assert all(torch.equal(before.model_state[k], after.model_state[k])
               for k in before.model_state)


def test_training_lowers_the_validation_loss(text_file: Path, tmp_path: Path) -> None:
    config = tiny_config(text_file, tmp_path / "run", max_steps=60, eval_every=30, lr=1e-2)
    run = prepare_run(config)
    before = stateful_loss(run.model, run.task.corpus.splits["valid"], batch_size=2,
                                    seq_len=32)
    result = train(config)
    assert result.val_loss < before - 0.5
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 1000
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert header.startswith("step,epoch,tokens,elapsed_s,lr,train_loss")


def test_the_trainer_trains_a_transformer_and_resumes_it_exactly(text_file: Path,
                                                                 tmp_path: Path,
                                                                 capsys) -> None:
    """The same loop, checkpoints and sampling serve ``architecture="transformer"``: it
    learns, its carried state (the cache) survives a resume, and it samples text."""
    from dataclasses import replace

    from rnnkit.inference import load_language_model, sample

    def config(out_dir: Path, **values) -> RunConfig:
        base = tiny_config(text_file, out_dir, lr=1e-2, eval_every=6, **values)
        return replace(base, model=ModelConfig(architecture="transformer", hidden_size=16,
                                               num_layers=2, num_heads=2, context=24,
                                               dropout=0.0))

    run = prepare_run(config(tmp_path / "probe", max_steps=1))
    before = stateful_loss(run.model, run.task.corpus.splits["valid"],
                                                      batch_size=2, seq_len=16)
    result = train(config(tmp_path / "one_go", max_steps=12))
    assert result.val_loss < before - 0.5
    train(config(tmp_path / "split", max_steps=6))
    train(config(tmp_path / "split", max_steps=12, resume=True))
    one_go = load_checkpoint(tmp_path / "one_go").model_state
    two_parts = load_checkpoint(tmp_path / "split").model_state
    assert all(torch.equal(one_go[k], two_parts[k]) for k in one_go)
    loaded = load_language_model(tmp_path / "one_go", device="cpu")
    assert loaded.model.config.architecture == "transformer"
    text = sample(tmp_path / "one_go", "th", 60, seed=1)  # past the context of 24
    assert len(text) >= 60
    from rnnkit.cli import main

    assert main(["export", "--checkpoint", str(tmp_path / "one_go"), "--format", "onnx",
                 "--out", str(tmp_path / "lm.onnx")]) == 1
    assert "writes recurrent models only" in capsys.readouterr().err
