"""Export round trips: the ONNX file (onnxruntime) and the TorchScript file (torch.jit.load)
give the eager model's outputs on free batch/time axes with per-row lengths."""

from __future__ import annotations

import json
import random
from pathlib import Path

import onnx
import pytest
import torch

from rnnkit import GRU, LSTM, RNN, MinGRU
from rnnkit.cli import main
from rnnkit.export import export, exported_form, verify_export
from rnnkit.models import LanguageModel, ModelConfig

TOLERANCE = 1e-5

LAYERS = {
    "lstm": lambda: LSTM(5, 8),
    "lstm-2-layers-bidirectional-batch-first": lambda: LSTM(5, 8, num_layers=2,
                                                            bidirectional=True,
                                                            batch_first=True),
    "lstm-peephole-bidirectional": lambda: LSTM(5, 8, peephole=True, bidirectional=True),
    "lstm-no-bias-forget-bias-0": lambda: LSTM(5, 8, bias=False, forget_bias=0.0),
    "gru-reset-after": lambda: GRU(5, 8, num_layers=2, batch_first=True),
    "gru-reset-before-bidirectional": lambda: GRU(5, 8, reset_after=False, num_layers=2,
                                                  bidirectional=True),
    "rnn-tanh": lambda: RNN(5, 8, num_layers=3, batch_first=True),
    "rnn-relu-bidirectional-identity": lambda: RNN(5, 8, nonlinearity="relu",
                                                   bidirectional=True, init="identity"),
}
FUSED = ["lstm", "lstm-2-layers-bidirectional-batch-first", "lstm-no-bias-forget-bias-0",
         "gru-reset-after", "rnn-tanh", "rnn-relu-bidirectional-identity"]
MODELS = {
    "lstm-learned": {},
    "gru-one-hot": {"cell": "gru", "embedding": "one-hot", "num_layers": 1},
    "lstm-tied": {"tie_weights": True, "hidden_size": 8},
    "lstm-peephole": {"peephole": True},
    "rnn-relu": {"cell": "rnn_relu"},
    "mingru-blocks-projected-input": {"cell": "mingru", "num_layers": 2},
    "minlstm-blocks": {"cell": "minlstm", "embedding_size": 12, "num_layers": 3},
}


def language_model(options: dict) -> LanguageModel:
    config = {"vocab_size": 23, "embedding_size": 8, "hidden_size": 12, **options}
    model = LanguageModel(ModelConfig(**config))
    with torch.no_grad():  # RMSNorm starts at ones: other weights, so a lost one shows
        for norm in (m for m in model.modules() if isinstance(m, torch.nn.RMSNorm)):
            norm.weight.uniform_(0.5, 1.5)
    return model


@pytest.fixture(autouse=True)
def seeded() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("name", LAYERS)
def test_onnx_layer_round_trip(tmp_path: Path, name: str) -> None:
    layer = LAYERS[name]()
    path = export(layer, tmp_path / "layer.onnx", "onnx")
    assert verify_export(path, "onnx", exported_form(layer)).max_abs_difference < TOLERANCE


@pytest.mark.parametrize("name", FUSED)
def test_torchscript_layer_round_trip(tmp_path: Path, name: str) -> None:
    layer = LAYERS[name]()
    path = export(layer, tmp_path / "layer.pt", "torchscript")
    assert verify_export(path, "torchscript",
                         exported_form(layer)).max_abs_difference < TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_onnx_language_model_round_trip(tmp_path: Path, name: str) -> None:
    model = language_model(MODELS[name])
    path = export(model, tmp_path / "lm.onnx", "onnx")
    assert verify_export(path, "onnx", exported_form(model)).max_abs_difference < TOLERANCE


@pytest.mark.parametrize("name", ["lstm-learned", "gru-one-hot", "lstm-tied"])
def test_torchscript_language_model_round_trip(tmp_path: Path, name: str) -> None:
    model = language_model(MODELS[name])
    path = export(model, tmp_path / "lm.pt", "torchscript")
    assert verify_export(path, "torchscript",
                         exported_form(model)).max_abs_difference < TOLERANCE


@pytest.mark.parametrize("cell", ["lstm", "mingru"])
def test_onnx_runs_padded_rows_like_the_same_rows_alone(tmp_path: Path, cell: str) -> None:
    """Per-row lengths in the ONNX file: a short row padded with junk gives the logits and
    final state it gives alone."""
    import onnxruntime

    model = language_model({"num_layers": 2, "cell": cell})
    path = export(model, tmp_path / "lm.onnx", "onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokens = torch.randint(0, 23, (2, 9))
    zeros = torch.zeros(2, 2, 12).numpy()
    names = [state.name for state in session.get_inputs()[2:]]  # h_0 [, c_0]
    logits, h_n, *_ = session.run(None, {"tokens": tokens.numpy(),
                                         "lengths": torch.tensor([9, 4]).numpy(),
                                         **dict.fromkeys(names, zeros)})
    alone_logits, alone_h, *_ = session.run(None, {"tokens": tokens[1:, :4].numpy(),
                                                   "lengths": torch.tensor([4]).numpy(),
                                                   **dict.fromkeys(names, zeros[:, :1])})
    torch.testing.assert_close(torch.from_numpy(logits[1, :4]),
                               torch.from_numpy(alone_logits[0]), rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(h_n[:, 1]), torch.from_numpy(alone_h[:, 0]),
                               rtol=0, atol=1e-6)


def test_onnx_graph_has_one_recurrent_node_per_layer(tmp_path: Path) -> None:
    """No loop is unrolled: the time axis stays inside ONNX's recurrent operator."""
    path = export(LSTM(5, 8, num_layers=3, bidirectional=True), tmp_path / "l.onnx", "onnx")
    graph = onnx.load(str(path)).graph
    assert [node.op_type for node in graph.node].count("LSTM") == 3
    time_axis = graph.input[0].type.tensor_type.shape.dim[0]
    assert time_axis.dim_param == "time"


def test_minimal_blocks_keep_time_inside_one_scan_each(tmp_path: Path) -> None:
    model = language_model({"cell": "minlstm", "num_layers": 3})
    graph = onnx.load(str(export(model, tmp_path / "m.onnx", "onnx"))).graph
    assert [node.op_type for node in graph.node].count("Scan") == 3
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_param == "time"


def test_verification_notices_a_file_from_other_weights(tmp_path: Path) -> None:
    path = export(LSTM(5, 8), tmp_path / "a.onnx", "onnx")
    other = LSTM(5, 8)
    assert verify_export(path, "onnx", exported_form(other)).max_abs_difference > 1e-2


def test_export_leaves_the_callers_module_as_it_was(tmp_path: Path) -> None:
    layer = LSTM(5, 8).double().train()
    export(layer, tmp_path / "l.onnx", "onnx")
    assert layer.training and layer.weight_ih_l0.dtype == torch.float64


def test_float64_layer_exports_as_float32(tmp_path: Path) -> None:
    layer = GRU(5, 8).double()
    path = export(layer, tmp_path / "l.onnx", "onnx")
    assert verify_export(path, "onnx", exported_form(layer)).max_abs_difference < TOLERANCE


@pytest.mark.parametrize(("module", "file_format", "message"), [
    (lambda: LSTM(5, 8, layer_norm=True), "onnx", "no layer normalization"),
    (lambda: LSTM(5, 8, proj_size=4), "onnx", "no output projection"),
    (lambda: LSTM(5, 8, peephole=True), "torchscript", "peephole=True has no torch fused"),
    (lambda: GRU(5, 8, layer_norm=True), "torchscript", "layer_norm=True has no torch fused"),
    (lambda: GRU(5, 8, reset_after=False), "torchscript", "export it with --format onnx"),
    (lambda: language_model({"cell": "mingru"}), "torchscript",
     "mingru blocks run rnnkit's scan.*--format onnx"),
])
def test_a_configuration_a_format_cannot_express_is_named(tmp_path: Path, module,
                                                          file_format: str,
                                                          message: str) -> None:
    with pytest.raises(ValueError, match=message):
        export(module(), tmp_path / "x", file_format)
    assert not (tmp_path / "x").exists()


def test_proj_size_goes_to_torchscript(tmp_path: Path) -> None:
    layer = LSTM(5, 8, proj_size=4, num_layers=2)
    path = export(layer, tmp_path / "l.pt", "torchscript")
    assert verify_export(path, "torchscript",
                         exported_form(layer)).max_abs_difference < TOLERANCE


def test_other_bad_requests_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format to be one of 'onnx', 'torchscript'"):
        export(LSTM(5, 8), tmp_path / "x", "tflite")
    with pytest.raises(TypeError, match="got Linear"):
        export(torch.nn.Linear(2, 2), tmp_path / "x", "onnx")
    with pytest.raises(TypeError, match="MinGRU inside a LanguageModel"):
        export(MinGRU(2, 3), tmp_path / "x", "onnx")
    conditional = language_model({"condition_sizes": (3,)})
    with pytest.raises(ValueError, match="conditional language model"):
        export(conditional, tmp_path / "x", "onnx")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    from rnnkit.tasks.language_model.training import train
    from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

    rng = random.Random(0)
    text = tmp_path / "text.txt"
    text.write_text("".join(rng.choice(["ab ", "ba\n", "cab "]) for _ in range(300)),
                    encoding="utf-8")
    out = tmp_path / "run"
    train(RunConfig(data=DataConfig(dataset=None, text_file=str(text)),
                    model=ModelConfig(embedding_size=8, hidden_size=12, num_layers=2),
                    train=TrainConfig(batch_size=4, seq_len=8, max_steps=2, eval_every=2,
                                      sample_length=5, out_dir=str(out), progress=False,
                                      tensorboard=False)))
    return out


@pytest.mark.parametrize("file_format", ["onnx", "torchscript"])
def test_export_command_writes_checks_and_reports(checkpoint: Path, tmp_path: Path,
                                                  capsys, file_format: str) -> None:
    out = tmp_path / f"model.{file_format}"
    assert main(["export", "--checkpoint", str(checkpoint), "--format", file_format,
                 "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["max_abs_difference"] < 1e-4 and report["cases"] == 4
    assert report["inputs"] == ["tokens", "lengths", "h_0", "c_0"]
    vocab = json.loads(Path(report["vocab"]).read_text(encoding="utf-8"))
    from rnnkit.training.checkpoint import load_checkpoint

    assert vocab == load_checkpoint(checkpoint).vocab


def test_export_command_names_a_missing_checkpoint(tmp_path: Path, capsys) -> None:
    assert main(["export", "--checkpoint", str(tmp_path / "none"), "--format", "onnx",
                 "--out", str(tmp_path / "m.onnx")]) == 1
    assert "rnnkit export: error:" in capsys.readouterr().err
