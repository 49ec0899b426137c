"""The generation step path (rnnkit.step_decoder) against the model's own forward.

The step decoder holds a LanguageModel's weights in torch's one-step cells; generation
steps through it when the model allows. The references: the LanguageModel's forward for
logits and state (itself held to torch.nn), and the plain sampling path for tokens, which
must come out identical for the same seed. int8 goes through torch's dynamic
quantization, so its reference is the float decoder within a quantization tolerance.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.cli import main
from rnnkit.data.vocab import Vocabulary
from rnnkit.engine.native import native_unavailable_reason
from rnnkit.generate import sample_text, sample_texts, sample_tokens
from rnnkit.metrics.language import stateful_loss
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.quantized_step import (
    JOINED_MAX_RANGE_RATIO,
    JointQuantizedCell,
    quantized_engine,
    weight_range_ratio,
)
from rnnkit.step_decoder import (
    COPIED,
    IN_PLACE,
    QUANTIZED_DECODER_MIN_OUTPUTS,
    StepDecoder,
    StepSequenceModel,
    quantize_step_decoder,
    step_decoder_blocker,
)
from rnnkit.training.checkpoint import model_state_for_saving, save_checkpoint
from rnnkit.training.config import RunConfig

VOCAB = 23
STEP_CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu", "irnn")


class Letters:
    """A character vocabulary of the first ``VOCAB`` letters from 'a' on."""

    def encode(self, text: str, strict: bool = True) -> list[int]:
        return [ord(char) - ord("a") for char in text]

    def decode(self, ids) -> str:
        return "".join(chr(ord("a") + index) for index in ids)

    def __len__(self) -> int:
        return VOCAB


def language_model(cell: str = "lstm", seed: int = 0, **options) -> LanguageModel:
    """Random weights, scaled up so that the next-token distributions are far from
    uniform (a flat one would let a greedy test pass by ties) and the token read moves
    the state (or greedy text repeats one letter)."""
    torch.manual_seed(seed)
    config = dict(vocab_size=VOCAB, cell=cell, hidden_size=24, embedding_size=12,
                  num_layers=2, dropout=0.3)
    model = LanguageModel(ModelConfig(**{**config, **options}))
    with torch.no_grad():  # strong inputs too, so that greedy text does not settle on a loop
        model.decoder.weight.mul_(20)
        model.embedding.weight.mul_(30)
    return model.eval()


class ModuleCalls:
    """Records the types of the modules called while it is active (torch's global hook),
    one entry per call."""

    def __enter__(self) -> list[type]:
        self.called: list[type] = []
        self.handle = nn.modules.module.register_module_forward_hook(
            lambda module, args, output: self.called.append(type(module)))
        return self.called

    def __exit__(self, *exc) -> None:
        self.handle.remove()


@pytest.mark.parametrize("cell", STEP_CELLS)
def test_step_decoder_gives_the_models_logits_and_state(cell: str) -> None:
    model = language_model(cell)
    tokens = torch.randint(0, VOCAB, (3, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first, state = model(tokens[:, :4])
        expected, expected_state = model(tokens[:, 4:], state)
        stepped = StepSequenceModel(StepDecoder.from_model(model))
        logits, stepped_state = stepped(tokens[:, 4:], state)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    for part, expected_part in zip(_parts(stepped_state), _parts(expected_state), strict=True):
        torch.testing.assert_close(part, expected_part, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(stepped(tokens[:, :4])[0], first, rtol=1e-5, atol=1e-5)


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


NATIVE_REASON = native_unavailable_reason(torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("cell", STEP_CELLS)
@pytest.mark.parametrize("quantize", [None, "int8"])
def test_the_buffered_step_follows_the_forward_in_its_own_buffers(
        cell: str, quantize: str | None) -> None:
    step = StepDecoder.from_model(language_model(cell))
    step = step if quantize is None else quantize_step_decoder(step, quantize)
    tokens = torch.randint(0, VOCAB, (3, 8), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        state = step.repeat_state(StepSequenceModel(step)(tokens[:1, :3])[1], 3)
        given = [part.clone() for part in _flat(state)]
        buffered = step.buffered_step(state)
        buffers = [part.data_ptr() for part in _flat(buffered.state)]
        for position in range(tokens.shape[1]):
            logits, state = step(tokens[:, position], state)
            buffered_logits = buffered(tokens[:, position])
            torch.testing.assert_close(buffered_logits, logits, rtol=1e-5, atol=1e-5)
            # cells that copy run the forward's own kernels: bit for bit
            assert torch.equal(buffered_logits, logits) or IN_PLACE in buffered.layer_paths
    for part, buffered_part in zip(_flat(state), _flat(buffered.state), strict=True):
        torch.testing.assert_close(buffered_part, part, rtol=1e-6, atol=1e-6)
        assert torch.equal(buffered_part, part) or IN_PLACE in buffered.layer_paths
    # the state moved on inside the same tensors, and the state it was given is untouched
    assert [part.data_ptr() for part in _flat(buffered.state)] == buffers
    assert not all(map(torch.equal, _flat(buffered.state), given))
    initial = step.repeat_state(StepSequenceModel(step)(tokens[:1, :3])[1], 3)
    assert all(map(torch.equal, _flat(initial), given))


def _flat(state) -> list[torch.Tensor]:
    """Every tensor of a decoder's per-layer state, layer by layer."""
    return [part for layer in state for part in _parts(layer)]


@pytest.mark.skipif(NATIVE_REASON is not None, reason=str(NATIVE_REASON))
def test_lstms_step_in_cpp_in_place_and_other_cells_copy() -> None:
    """The spy on the fast path: float32 and joined int8 LSTMs on the CPU run rnnkit's
    in-place C++ step in every layer (the buffered test above holds their numbers to the
    forward); the cells it does not cover run their kernels and copy."""
    def paths(step: StepDecoder) -> list[str]:
        return step.buffered_step(step.zero_state(2)).layer_paths

    lstm = StepDecoder.from_model(language_model("lstm"))
    assert paths(lstm) == paths(quantize_step_decoder(lstm, "int8")) == [IN_PLACE, IN_PLACE]
    assert paths(StepDecoder.from_model(language_model("gru"))) == [COPIED, COPIED]
    irnn = StepDecoder.from_model(language_model("irnn"))  # torch's int8 cells
    assert paths(quantize_step_decoder(irnn, "int8")) == [COPIED, COPIED]


def test_an_elman_int8_cell_has_no_in_place_lstm_step() -> None:
    cell = JointQuantizedCell(nn.RNNCell(3, 4))
    with pytest.raises(ValueError, match=r"needs an LSTM cell.*lstm=False"):
        cell.in_place_step(torch.zeros(2, 4), torch.zeros(2, 4))


def test_step_decoder_scores_a_text_as_the_model_does() -> None:
    model = language_model("lstm")
    ids = torch.randint(0, VOCAB, (400,), generator=torch.Generator().manual_seed(2))
    expected = stateful_loss(model, ids, batch_size=4, seq_len=16)
    stepped = StepSequenceModel(StepDecoder.from_model(model))
    assert stateful_loss(stepped, ids, batch_size=4, seq_len=16) == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.parametrize("cell", STEP_CELLS)
@pytest.mark.parametrize("options", [dict(temperature=0.9), dict(temperature=0.0),
                                     dict(temperature=1.3, top_k=5, top_p=0.9)])
def test_the_fast_path_draws_exactly_the_plain_paths_tokens(cell: str, options) -> None:
    model = language_model(cell)
    for seed in (3, 4):
        with ModuleCalls() as plain_calls:
            plain = sample_text(model, Letters(), "abc", 300, seed=seed, fast=False, **options)
        with ModuleCalls() as fast_calls:
            fast = sample_text(model, Letters(), "abc", 300, seed=seed, **options)
        assert fast == plain
        # the fast path runs the model once, on the prime; the plain path once a token
        assert fast_calls.count(LanguageModel) == 1 and plain_calls.count(LanguageModel) == 300
    if options["temperature"] > 0:  # (greedy text of random weights settles on a loop)
        assert len(set(fast[3:])) > 3  # equal texts are not both one repeated letter


def test_the_fast_path_is_exact_for_token_ids_and_on_many_streams() -> None:
    model = language_model("gru")
    generator = torch.Generator()
    plain = sample_tokens(model, [1, 2], 200, generator=generator.manual_seed(5), fast=False)
    assert sample_tokens(model, [1, 2], 200, generator=generator.manual_seed(5)) == plain
    streams = sample_texts(model, Letters(), "ab", 120, streams=5, seed=6, temperature=1.1)
    assert streams == sample_texts(model, Letters(), "ab", 120, streams=5, seed=6,
                                   temperature=1.1, fast=False)
    assert len(set(streams)) == 5  # each stream draws its own tokens


def test_every_greedy_stream_is_the_one_stream_greedy_text() -> None:
    model = language_model("lstm")
    one = sample_text(model, Letters(), "cab", 90, temperature=0)
    assert sample_texts(model, Letters(), "cab", 90, streams=4, temperature=0) == [one] * 4


def test_each_stream_ends_after_its_first_stop() -> None:
    model = language_model("lstm", seed=2)
    full = sample_texts(model, Letters(), "a", 150, streams=6, seed=8)
    stops = ("ab", "ca")  # first found at tokens 32, 29, never, 92, 12 and 126
    cut = sample_texts(model, Letters(), "a", 150, streams=6, seed=8, stop_at=stops)
    for whole, text in zip(full, cut, strict=True):
        ends = [found + len(stop) for stop in stops if (found := whole.find(stop, 1)) >= 0]
        assert text == whole[:min(ends)] if ends else text == whole
    assert any(text != whole for whole, text in zip(full, cut, strict=True))


def torch_quantize_dynamic(step: StepDecoder) -> StepDecoder:
    """torch's own dynamic quantization of a copy of ``step``: the int8 reference."""
    from torch.ao.quantization import quantize_dynamic

    kinds = {nn.LSTMCell, nn.GRUCell, nn.RNNCell}
    if step.decoder.out_features >= QUANTIZED_DECODER_MIN_OUTPUTS:
        kinds.add(nn.Linear)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(step), kinds, dtype=torch.qint8)


def int8_kernels_called(model: LanguageModel) -> list[str]:
    """The quantized kernels a 50-character int8 sample runs, one name per call (packing
    the weights left out)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        text = sample_text(model, Letters(), "ab", 50, seed=1, quantize="int8")
    assert len(text) == 52
    return [event.name for event in profile.events() if event.name.startswith("quantized::")
            and event.name.endswith("_dynamic")]


def check_int8_near_float_and_model_untouched(cell: str, engine: str | None = None,
                                               tolerance: float = 0.05):
    """The int8 decoder's logits and state over a text, for the caller's exact reference;
    checked here against the float decoder (a quantization step away: the largest logit
    error under ``tolerance`` times the largest logit) and for the model left as it was."""
    model = language_model(cell)
    weights = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    step = StepDecoder.from_model(model)
    quantized = quantize_step_decoder(step, "int8", engine)
    tokens = torch.randint(0, VOCAB, (4, 30), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits, state = StepSequenceModel(quantized)(tokens)
        float_logits = StepSequenceModel(step)(tokens)[0]
    error = (logits - float_logits).abs().max() / float_logits.abs().max()
    assert 0 < error < tolerance  # int8 differs from float, by a quantization step or so
    assert all(torch.equal(tensor, weights[name]) for name, tensor in
               model.state_dict().items())
    return model, step, quantized, tokens, logits, state


def test_int8_gru_is_torchs_dynamic_quantization_bit_for_bit() -> None:
    model, step, _, tokens, logits, state = check_int8_near_float_and_model_untouched("gru")
    with torch.no_grad():
        expected = StepSequenceModel(torch_quantize_dynamic(step))(tokens)
    assert torch.equal(logits, expected[0]) and torch.equal(state, expected[1])
    assert int8_kernels_called(model) == ["quantized::quantized_gru_cell_dynamic"] * 2 * 49


def test_int8_gru_packed_for_onednn_is_torchs_under_that_engine_bit_for_bit() -> None:
    _, step, _, tokens, logits, state = check_int8_near_float_and_model_untouched(
        "gru", "onednn")
    engine_before = torch.backends.quantized.engine
    with quantized_engine("onednn"), torch.no_grad():
        expected = StepSequenceModel(torch_quantize_dynamic(step))(tokens)
    assert torch.backends.quantized.engine == engine_before  # given back
    assert engine_before != "onednn"
    assert torch.equal(logits, expected[0]) and torch.equal(state, expected[1])
    default = StepSequenceModel(quantize_step_decoder(step, "int8"))
    with torch.no_grad():
        assert not torch.equal(default(tokens)[0], logits)  # another engine's numbers


def test_int8_cells_whose_weights_span_different_ranges_keep_a_scale_each() -> None:
    """An untrained IRNN's W_ih (std 0.001) against its identity W_hh: under one joint
    scale every input weight rounds to zero and the int8 model ignores its input (the
    near-float check fails: every logit 0, an error of 1). It runs torch's own cell
    instead, bit for bit. Its state and logits are small (2e-4 to 3e-2 over the text)
    against the 7-bit steps of the embedding-sized activations, hence the looser bound."""
    model, step, _, tokens, logits, state = check_int8_near_float_and_model_untouched(
        "irnn", tolerance=0.5)
    assert all(weight_range_ratio(cell) > JOINED_MAX_RANGE_RATIO for cell in step.cells)
    with torch.no_grad():
        expected = StepSequenceModel(torch_quantize_dynamic(step))(tokens)
    assert torch.equal(logits, expected[0]) and torch.equal(state, expected[1])
    assert int8_kernels_called(model) == ["quantized::quantized_rnn_relu_cell_dynamic"] * 2 * 49


def test_an_int8_lstm_beyond_the_joining_ratio_is_torchs_cell_bit_for_bit() -> None:
    model = language_model("lstm")
    with torch.no_grad():
        for cell_weights in (model.rnn.cell_weights(index, 0) for index in range(2)):
            cell_weights["weight_ih"].mul_(2 * JOINED_MAX_RANGE_RATIO)
    step = StepDecoder.from_model(model)
    tokens = torch.randint(0, VOCAB, (4, 12), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        logits, (h, c) = StepSequenceModel(quantize_step_decoder(step, "int8"))(tokens)
        expected_logits, (expected_h, expected_c) = StepSequenceModel(
            torch_quantize_dynamic(step))(tokens)
    assert torch.equal(logits, expected_logits)
    assert torch.equal(h, expected_h) and torch.equal(c, expected_c)
    assert int8_kernels_called(model) == ["quantized::quantized_lstm_cell_dynamic"] * 2 * 49


def joint_reference(cell: nn.Module, quantized: nn.Module, x: torch.Tensor, state,
                    seven_bits: bool = True):
    """What a joint int8 cell computes, from its unpacked int8 weight: ``[x, h]`` quantized
    by the dynamic rule (min and max with 0, to 7 bits or 8), times the dequantized weight,
    plus the bias, then the cell's activations, in float64."""
    hidden = state[0] if isinstance(state, tuple) else state
    joined = torch.cat([x, hidden], dim=1)
    scale, zero_point = torch._choose_qparams_per_tensor(joined, seven_bits)
    joined = torch.quantize_per_tensor(joined, scale, zero_point, torch.quint8).dequantize()
    weight, bias = torch.ops.quantized.linear_unpack(quantized.packed_weight)
    gates = joined.double() @ weight.dequantize().double().T + bias.double()
    if isinstance(cell, nn.RNNCell):
        return gates.relu() if cell.nonlinearity == "relu" else gates.tanh()
    i, f, g, o = gates.chunk(4, dim=1)
    c = f.sigmoid() * state[1].double() + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


@pytest.mark.parametrize("cell", ["lstm", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize(("engine", "seven_bits"), [(None, True), ("onednn", False)])
def test_int8_lstm_and_rnn_cells_run_one_int8_product_of_x_and_h(
        cell: str, engine: str | None, seven_bits: bool) -> None:
    # fbgemm (the default engine's kernels) takes 7-bit activations, oneDNN all 8
    model, step, quantized, *_ = check_int8_near_float_and_model_untouched(cell, engine)
    generator = torch.Generator().manual_seed(5)
    for float_cell, int8_cell in zip(step.cells, quantized.cells, strict=True):
        x = torch.randn(3, float_cell.input_size, generator=generator)
        h = torch.randn(3, float_cell.hidden_size, generator=generator).tanh()
        state = (h, torch.randn(3, float_cell.hidden_size, generator=generator)) if (
            cell == "lstm") else h
        with torch.no_grad():
            result = int8_cell(x, state)
            expected = joint_reference(float_cell, int8_cell, x, state, seven_bits)
        for part, expected_part in zip(_parts(result), _parts(expected), strict=True):
            torch.testing.assert_close(part.double(), expected_part, rtol=0, atol=1e-5)
    assert int8_kernels_called(model) == ["quantized::linear_dynamic"] * 2 * 49


def test_a_word_level_decoder_is_quantized_too() -> None:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=QUANTIZED_DECODER_MIN_OUTPUTS,
                                      hidden_size=16, embedding_size=8)).eval()
    step = StepDecoder.from_model(model)
    quantized = quantize_step_decoder(step, "int8")
    tokens = torch.randint(0, QUANTIZED_DECODER_MIN_OUTPUTS, (2, 5))
    with torch.no_grad():
        logits = StepSequenceModel(quantized)(tokens)[0]
        features = torch.randn(3, 16)
        decoded = quantized.decoder(features)
        assert torch.equal(decoded, torch_quantize_dynamic(step).decoder(features))
        assert not torch.equal(decoded, step.decoder(features))
        torch.testing.assert_close(logits, model(tokens)[0], rtol=0, atol=0.05)


@pytest.mark.parametrize(("options", "reason"), [
    (dict(peephole=True), "peepholes"),
    (dict(reset_after=False, cell="gru"), "reset_after = false"),
    (dict(proj_size=8), "proj_size = 8"),
    (dict(layer_norm=True), "layer normalization"),
    (dict(cell="mingru", dropout=0.0), "residual blocks"),
])
def test_models_the_decoder_cannot_hold_sample_through_their_own_forward(options, reason):
    model = language_model(**{"cell": "lstm", **options})
    assert reason in step_decoder_blocker(model)
    with ModuleCalls() as calls:
        text = sample_text(model, Letters(), "ab", 40, seed=1)
    assert calls.count(LanguageModel) == 40 and len(text) == 42
    with pytest.raises(ValueError, match=f"quantize='int8'.*cannot hold this model.*{reason}"):
        sample_text(model, Letters(), "ab", 40, seed=1, quantize="int8")


def test_bad_requests_are_refused_naming_the_value() -> None:
    model = language_model()
    with pytest.raises(ValueError, match="streams to be an integer >= 1, got 0"):
        sample_texts(model, Letters(), "ab", 10, streams=0)
    with pytest.raises(ValueError, match=r"quantize to be one of \['int8'\], got 'int4'"):
        sample_text(model, Letters(), "ab", 10, quantize="int4")
    with pytest.raises(ValueError, match=r"quantize to be one of \['int8'\], got 'int4'"):
        sample_text(language_model(peephole=True), Letters(), "ab", 10, quantize="int4")
    with pytest.raises(ValueError, match="float32 model"):
        quantize_step_decoder(StepDecoder.from_model(model.double()), "int8")
    with pytest.raises(ValueError, match=r"engine to be one of \[.*'onednn'.*\], got 'mkl'"):
        quantize_step_decoder(StepDecoder.from_model(language_model()), "int8", "mkl")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A run folder holding a tiny untrained character LSTM of the letters a to w."""
    vocab = Vocabulary.build("".join(Letters().decode(range(VOCAB))))
    config = RunConfig.from_dict({
        "data": {"dataset": None, "text_file": str(tmp_path / "text.txt")},
        "model": {"vocab_size": len(vocab), "hidden_size": 8, "embedding_size": 4},
        "train": {"out_dir": str(tmp_path / "run")}})
    tensors, aliases = model_state_for_saving(LanguageModel(config.model))
    save_checkpoint(tmp_path / "run", model_state=tensors, config=config.to_dict(),
                    vocab=vocab.to_dict(), trainer_state={"model_aliases": aliases},
                    tag="latest")
    return tmp_path / "run"


def test_rnnkit_sample_prints_every_stream_under_its_heading(checkpoint: Path, capsys) -> None:
    command = ["sample", "--checkpoint", str(checkpoint), "--length", "30", "--seed", "3",
               "--prime", "a"]
    assert main([*command, "--streams", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[::2] == [f"--- stream {i} of 3 ---" for i in (1, 2, 3)]
    assert all(len(text) == 31 and text[0] == "a" for text in lines[1::2])
    assert main([*command, "--quantize", "int8"]) == 0
    assert len(capsys.readouterr().out) == len("a") + 30 + len("\n")
    with pytest.raises(SystemExit) as refused:
        main([*command, "--streams", "0"])
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "rnnkit sample: error: --streams must be an int in [1, 4096], got 0")
