"""torch.compile on rnnkit models: one graph for every engine path, and eager's results."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch._dynamo

from rnnkit.models import LanguageModel, ModelConfig
from rnnkit.tasks.language_model.training import prepare_run
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.records import QuietRecords
from rnnkit.training.trainer import training_loop

# One configuration per path a layer can take: torch's fused kernel, rnnkit's scan kernels
# for each cell torch lacks, and the scan with recurrent dropout.
ENGINE_CONFIGS = {
    "lstm-fused": {},
    "lstm-peephole": {"peephole": True},
    "lstm-layer-norm": {"layer_norm": True},
    "gru-reset-before": {"cell": "gru", "reset_after": False},
    "gru-layer-norm": {"cell": "gru", "layer_norm": True},
    "gru-recurrent-dropout": {"cell": "gru", "recurrent_dropout": 0.2},
    "rnn-relu-recurrent-dropout": {"cell": "rnn_relu", "recurrent_dropout": 0.2},
}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("options", ENGINE_CONFIGS.values(), ids=ENGINE_CONFIGS.keys())
def test_language_model_compiles_to_one_graph(options: dict) -> None:
    model = LanguageModel(ModelConfig(vocab_size=20, embedding_size=8, hidden_size=16,
                                      num_layers=2, dropout=0.1, **options))
    tokens = torch.randint(0, 20, (3, 7))
    explanation = torch._dynamo.explain(model)(tokens)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_compiled_layer_takes_the_torch_operator_scan() -> None:
    """Dynamo cannot trace the C++ extension, so under compilation the scan runs on the
    torch-operator kernels; eager keeps whatever path it had."""
    from rnnkit import LSTM

    layer = LSTM(4, 8, peephole=True, batch_first=True)
    torch.compile(layer, backend="eager")(torch.randn(2, 5, 4))
    assert layer.backend == "rnnkit-scan"




def trained_parameters(text_file: Path, out_dir: Path, model_options: dict,
                       **train_values) -> dict[str, torch.Tensor]:
    config = RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file)),
        model=ModelConfig(embedding_size=8, hidden_size=16, num_layers=2, dropout=0.0,
                          **model_options),
        train=TrainConfig(batch_size=4, seq_len=8, max_steps=3, eval_every=100, seed=3,
                          out_dir=str(out_dir), progress=False, tensorboard=False,
                          **train_values),
    )
    run = prepare_run(config)
    training_loop(run, QuietRecords())
    return {name: value.detach().clone() for name, value in run.model.state_dict().items()}


@pytest.mark.parametrize("name", ["lstm-peephole", "gru-reset-before", "lstm-layer-norm"])
def test_compiled_training_matches_eager(text_file: Path, tmp_path: Path, name: str) -> None:
    """Dynamo + AOTAutograd (the graphs inductor would get) give eager's parameters."""
    options = ENGINE_CONFIGS[name]
    eager = trained_parameters(text_file, tmp_path / "eager", options)
    compiled = trained_parameters(text_file, tmp_path / "compiled", options, compile=True,
                                  compile_backend="aot_eager")
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, rtol=1e-5, atol=1e-6)


def test_inductor_training_matches_eager(text_file: Path, tmp_path: Path) -> None:
    """The default backend end to end (inductor generates C++ here; about a minute)."""
    eager = trained_parameters(text_file, tmp_path / "eager", {})
    compiled = trained_parameters(text_file, tmp_path / "compiled", {}, compile=True)
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, rtol=1e-5, atol=1e-6)


def test_unknown_compile_backend_is_named(text_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compile_backend='fastest' is not a torch"):
        trained_parameters(text_file, tmp_path, {}, compile=True, compile_backend="fastest")
