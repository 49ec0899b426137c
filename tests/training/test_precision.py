"""Mixed precision: bf16 autocast on CPU, the fp32 carried state, and refused combinations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit import GRU, LSTM, explain
from rnnkit.layers.fused import cpu_bf16_unavailable
from rnnkit.models import ModelConfig
from rnnkit.tasks.language_model.training import prepare_run, train
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.precision import (
    MixedPrecision,
    carried_state,
    check_precision_supported,
)
from rnnkit.training.records import QuietRecords
from rnnkit.training.trainer import training_loop


def config_for(text_file: Path, out_dir: Path, **train_values) -> RunConfig:
    settings = dict(batch_size=4, seq_len=16, max_steps=6, lr=3e-3, eval_every=3,
                    eval_batch_size=2, eval_window=32, sample_length=10, seed=2,
                    out_dir=str(out_dir), progress=False, tensorboard=False)
    settings.update(train_values)
    return RunConfig(data=DataConfig(dataset=None, text_file=str(text_file)),
                     model=ModelConfig(embedding_size=8, hidden_size=32, num_layers=2,
                                       dropout=0.0),
                     train=TrainConfig(**settings))


def test_fp16_on_cpu_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="precision='fp16' is not supported on cpu"):
        check_precision_supported("fp16", torch.device("cpu"))
    check_precision_supported("fp32", torch.device("cpu"))
    check_precision_supported("bf16", torch.device("cpu"))  # on every CPU (module docstring)


def test_a_run_asking_for_fp16_on_cpu_stops_before_training(text_file: Path,
                                                            tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use precision='bf16' on CPU"):
        prepare_run(config_for(text_file, tmp_path, precision="fp16", device="cpu"))


def test_an_unknown_precision_is_named() -> None:
    with pytest.raises(ValueError, match='precision must be one of "auto", "fp32", "bf16", "fp16"'):
        TrainConfig(max_steps=1, precision="int8")


def test_a_bf16_run_says_when_it_is_slower_than_fp32_on_this_cpu(
        text_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        prepare_run(config_for(text_file, tmp_path / "bf16", precision="bf16", device="cpu"))
        prepare_run(config_for(text_file, tmp_path / "fp32", device="cpu"))
    notes = [r.getMessage() for r in caplog.records if "precision='bf16'" in r.getMessage()]
    if cpu_bf16_unavailable() is None:
        assert notes == []
    else:
        assert len(notes) == 1 and "slower than precision='fp32'" in notes[0]


def test_bf16_training_keeps_weights_and_carried_state_in_float32(text_file: Path,
                                                                 tmp_path: Path) -> None:
    run = prepare_run(config_for(text_file, tmp_path, precision="bf16", device="cpu"))
    before = run.model.decoder.weight.detach().clone()
    training_loop(run, QuietRecords())
    assert all(p.dtype == torch.float32 for p in run.model.parameters())
    assert all(part.dtype == torch.float32 for part in run.state)
    assert not torch.equal(before, run.model.decoder.weight)


def test_bf16_learns_as_fp32_does(text_file: Path, tmp_path: Path) -> None:
    """Same seed and steps: bf16's validation loss lands within 2% of fp32's, and both
    improve on the untrained model's."""
    settings = dict(max_steps=40, eval_every=40, device="cpu")
    fp32 = train(config_for(text_file, tmp_path / "fp32", **settings))
    bf16 = train(config_for(text_file, tmp_path / "bf16", precision="bf16", **settings))
    assert bf16.val_loss == pytest.approx(fp32.val_loss, rel=0.02)
    assert bf16.val_loss != fp32.val_loss  # autocast really ran in bf16
    assert fp32.val_loss < 2.5  # ln(vocab of 17) = 2.83 before training


def test_bf16_resume_is_exact(text_file: Path, tmp_path: Path) -> None:
    whole = config_for(text_file, tmp_path / "whole", precision="bf16", device="cpu")
    train(whole)
    part = config_for(text_file, tmp_path / "part", precision="bf16", device="cpu",
                      max_steps=3)
    train(part)
    train(config_for(text_file, tmp_path / "part", precision="bf16", device="cpu",
                     resume=True))
    from rnnkit.training.checkpoint import load_checkpoint

    expected = load_checkpoint(tmp_path / "whole").model_state
    for name, value in load_checkpoint(tmp_path / "part").model_state.items():
        assert torch.equal(value, expected[name]), name


def test_fused_layer_runs_in_bf16_under_autocast_where_onednn_can() -> None:
    """Where oneDNN has bfloat16 recurrent kernels (AVX-512), torch's kernel runs in bf16 as
    torch.nn.LSTM does; elsewhere the layer runs on rnnkit's kernels in float32, says why,
    and gives the float32 result exactly."""
    torch.manual_seed(0)
    layer = LSTM(8, 16, num_layers=2, batch_first=True)
    inputs = torch.randn(3, 12, 8)
    reference, _ = layer(inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, (h_n, _) = layer(inputs)
        explained = explain(layer)
    if cpu_bf16_unavailable() is None:
        assert layer.backend == "torch-fused" and output.dtype == torch.bfloat16
        assert h_n.dtype == torch.bfloat16  # as torch.nn.LSTM under autocast
        torch.testing.assert_close(output.float(), reference, rtol=0, atol=3e-2)
        return
    assert layer.backend in ("rnnkit-fused", "rnnkit-scan")
    assert "bfloat16 recurrent kernels (oneDNN) do not run on this CPU" in explained
    assert output.dtype == h_n.dtype == torch.float32
    # float32 rounding apart (bf16 would be ~1e-2 off): the same recurrence.
    torch.testing.assert_close(output, reference, rtol=0, atol=1e-6)
    assert layer(inputs)[0].dtype == torch.float32 and layer.backend == "torch-fused"


@pytest.mark.parametrize("layer", [LSTM(8, 16, peephole=True, batch_first=True),
                                   GRU(8, 16, reset_after=False, batch_first=True)],
                         ids=["lstm-peephole", "gru-reset-before"])
def test_rnnkit_kernels_run_in_float32_under_autocast(layer) -> None:
    inputs = torch.randn(3, 12, 8)
    reference, _ = layer(inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = layer(inputs)
    assert output.dtype == torch.float32
    torch.testing.assert_close(output, reference, rtol=0, atol=0)


@pytest.mark.parametrize("layer", [LSTM(8, 16, batch_first=True),
                                   GRU(8, 16, reset_after=False, batch_first=True)],
                         ids=["lstm", "gru-reset-before"])
def test_a_bf16_input_and_state_are_taken_under_autocast_as_torch_nn_takes_them(layer) -> None:
    """A decoder handed a bf16 encoder state under autocast runs (torch.nn.LSTM allows it);
    outside autocast the same state is refused, naming its dtype."""
    inputs = torch.randn(3, 5, 8).bfloat16()
    states = tuple(torch.randn(1, 3, 16).bfloat16() for _ in layer.state_sizes())
    as_float = tuple(state.float() for state in states)
    hx, float_hx = (states, as_float) if isinstance(layer, LSTM) else (states[0], as_float[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = layer(inputs, hx)
    reference, _ = layer(inputs.float(), float_hx)
    torch.testing.assert_close(output.float(), reference, rtol=0, atol=3e-2)
    with pytest.raises(TypeError, match=r"expected input of dtype torch\.float32"):
        layer(inputs, hx)


def test_carried_state_comes_back_in_the_parameter_dtype() -> None:
    h, c = torch.ones(1, 2, 3, dtype=torch.bfloat16), torch.ones(1, 2, 3, dtype=torch.bfloat16)
    assert [part.dtype for part in carried_state((h, c), torch.float32)] == [torch.float32] * 2
    assert carried_state(h, torch.float32).dtype == torch.float32
    assert carried_state(None, torch.float32) is None


def test_fp32_and_bf16_have_no_scaler_state() -> None:
    for name in ("fp32", "bf16"):
        precision = MixedPrecision(name, torch.device("cpu"))
        assert precision.state_dict() == {} and not precision.tolerates_overflow
    assert MixedPrecision("bf16", torch.device("cpu")).enabled


def scaled_step(precision: MixedPrecision, model: torch.nn.Linear,
                optimizer: torch.optim.Optimizer, gradient_value: float) -> bool:
    """One step whose gradient is ``gradient_value`` everywhere (inf to overflow)."""
    optimizer.zero_grad()
    precision.backward((model.weight.sum() + model.bias.sum()) * 0.0)  # makes the .grad
    for parameter in model.parameters():
        parameter.grad.fill_(gradient_value)
    precision.unscale(optimizer)
    return precision.step(optimizer)


def test_fp16_scaler_skips_an_overflowing_step_and_keeps_its_scale_in_state() -> None:
    """The scaler's bookkeeping is device-independent, so it is tested on CPU (fp16
    autocast itself needs CUDA)."""
    precision = MixedPrecision("fp16", torch.device("cpu"))
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    start_scale = precision.scaler.get_scale()
    before = model.weight.detach().clone()
    assert not scaled_step(precision, model, optimizer, float("inf"))
    assert torch.equal(model.weight, before)  # the overflowing step was skipped
    assert precision.scaler.get_scale() == start_scale / 2
    assert precision.tolerates_overflow
    assert scaled_step(precision, model, optimizer, 1.0 * precision.scaler.get_scale())
    torch.testing.assert_close(model.weight, before - 0.1)  # unscaled gradient of 1
    restored = MixedPrecision("fp16", torch.device("cpu"))
    restored.load_state_dict(precision.state_dict())
    assert restored.state_dict() == precision.state_dict() != {}


def test_fp16_run_ignores_an_overflow_but_not_a_bad_loss(text_file: Path,
                                                         tmp_path: Path) -> None:
    from rnnkit.training.stopping import TrainingDivergedError, check_finite

    run = prepare_run(config_for(text_file, tmp_path, device="cpu"))
    run.precision = MixedPrecision("fp16", torch.device("cpu"))
    check_finite(run, 2.0, float("inf"))  # a skipped step, not a divergence
    with pytest.raises(TrainingDivergedError, match="loss nan"):
        check_finite(run, float("nan"), float("inf"))
