"""The language model's adaptive softmax (``output_layer = "adaptive"``).

The reference is torch's own target-only path, ``AdaptiveLogSoftmaxWithLoss(input,
target).loss``, which computes each token's cluster alone: the model's full
log-probabilities (what training, validation and sampling read) must give the same loss
and gradients. Perplexity is then reported the same way as for the plain softmax.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from rnnkit.export import export
from rnnkit.export.onnx_step import step_blocker
from rnnkit.metrics.language import cross_entropy, evaluation_streams, stateful_loss
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.step_decoder import step_decoder_blocker
from rnnkit.tasks.language_model.training import train
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

VOCAB = 40


def adaptive_model(**options) -> LanguageModel:
    torch.manual_seed(0)
    config = dict(vocab_size=VOCAB, embedding_size=8, hidden_size=32, num_layers=2,
                  dropout=0.0, output_layer="adaptive", adaptive_cutoffs=(6, 20))
    return LanguageModel(ModelConfig(**{**config, **options})).double()


def features_of(model: LanguageModel, tokens: torch.Tensor) -> torch.Tensor:
    """The recurrent output the output layer reads, (batch * time, hidden)."""
    output, _ = model.rnn(model.embedding(tokens))
    return output.reshape(-1, output.shape[-1])


def test_log_probabilities_give_torchs_target_only_loss_and_gradients() -> None:
    model = adaptive_model()
    tokens = torch.randint(0, VOCAB, (3, 9))
    targets = torch.randint(0, VOCAB, (3, 9))
    targets[0, :4] = torch.tensor([0, 7, 25, 39])  # head, first and second tail, last id

    ours = cross_entropy(model(tokens)[0], targets)
    ours_grads = torch.autograd.grad(ours, list(model.parameters()))
    reference = model.decoder(features_of(model, tokens), targets.reshape(-1)).loss
    reference_grads = torch.autograd.grad(reference, list(model.parameters()))

    assert ours.item() == pytest.approx(reference.item(), abs=1e-12)
    for mine, theirs in zip(ours_grads, reference_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("output_layer", ["softmax", "adaptive"])
def test_next_token_loss_is_the_cross_entropy_of_the_forward(output_layer) -> None:
    options = {} if output_layer == "adaptive" else dict(adaptive_cutoffs=())
    model = adaptive_model(output_layer=output_layer, **options)
    tokens, targets = torch.randint(0, VOCAB, (3, 9)), torch.randint(0, VOCAB, (3, 9))
    with torch.no_grad():
        state = model(tokens)[1]  # a carried state, as training passes one

    loss, next_state = model.next_token_loss(tokens, targets, state)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    logits, reference_state = model(tokens, state)
    reference = cross_entropy(logits, targets)
    reference_grads = torch.autograd.grad(reference, list(model.parameters()))

    assert loss.item() == pytest.approx(reference.item(), abs=1e-12)
    for mine, theirs in zip(grads, reference_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(next_state, reference_state, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_next_token_loss_runs_under_bf16_autocast() -> None:
    model = adaptive_model().float()
    tokens, targets = torch.randint(0, VOCAB, (3, 9)), torch.randint(0, VOCAB, (3, 9))
    full = model.next_token_loss(tokens, targets)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = model.next_token_loss(tokens, targets)  # torch's own path fails here
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(full.item(), abs=0.02)


def test_training_goes_through_the_target_only_loss(tmp_path, monkeypatch) -> None:
    calls = {"target_only": 0}
    target_only = torch.nn.AdaptiveLogSoftmaxWithLoss.forward

    def counted(self, *arguments, **options):
        calls["target_only"] += 1
        return target_only(self, *arguments, **options)

    monkeypatch.setattr(torch.nn.AdaptiveLogSoftmaxWithLoss, "forward", counted)
    text = tmp_path / "words.txt"
    text.write_text(" ".join(f"w{i % 23}" for i in range(3000)) + "\n")
    config = RunConfig(
        data=DataConfig(dataset=None, text_file=str(text), level="word"),
        model=ModelConfig(embedding_size=8, hidden_size=16, num_layers=1, dropout=0.0,
                          output_layer="adaptive", adaptive_cutoffs=(5, 12)),
        train=TrainConfig(batch_size=4, seq_len=8, max_steps=6, eval_every=3, seed=3,
                          sample_length=0, out_dir=str(tmp_path / "run"), progress=False,
                          tensorboard=False))
    result = train(config)
    assert calls["target_only"] == 6  # one per step; validation reads the log-probabilities
    assert math.isfinite(result.val_loss)


def test_the_log_probabilities_are_a_distribution_over_the_whole_vocabulary() -> None:
    model = adaptive_model()
    log_probs, _ = model(torch.randint(0, VOCAB, (2, 5)))
    assert log_probs.shape == (2, 5, VOCAB)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 5, dtype=torch.float64))
    # the tails are low-rank: cluster i's projection is hidden / div_value**(i + 1) wide
    assert [tail[0].out_features for tail in model.decoder.tail] == [8, 2]


def test_perplexity_is_reported_as_for_the_plain_softmax() -> None:
    model = adaptive_model().eval()
    ids = torch.randint(0, VOCAB, (4 * 30 + 1,))
    reported = stateful_loss(model, ids, batch_size=4, seq_len=10)
    streams = evaluation_streams(ids, 4)  # the layout is not under test, the loss is
    with torch.no_grad():
        reference = model.decoder(features_of(model, streams[:, :-1]),
                                  streams[:, 1:].reshape(-1)).loss
    assert reported == pytest.approx(float(reference), abs=1e-6)  # summed in float32


def test_default_cutoffs_are_a_fifth_and_a_half_of_the_vocabulary() -> None:
    assert ModelConfig(vocab_size=10000, output_layer="adaptive").cutoffs() == (2000, 5000)
    model = LanguageModel(ModelConfig(vocab_size=VOCAB, hidden_size=16, embedding_size=4,
                                      output_layer="adaptive"))
    assert model.decoder.cutoffs == [8, 20, VOCAB]


@pytest.mark.parametrize(("options", "message"), [
    (dict(adaptive_cutoffs=(6, 50)), r"adaptive_cutoffs must be ints rising strictly inside "
                                     r"\(0, vocab_size=40\), got \[6, 50\]"),
    (dict(adaptive_cutoffs=(20, 6)), r"got \[20, 6\]"),
    (dict(adaptive_cutoffs=(0, 6)), r"got \[0, 6\]"),
    (dict(vocab_size=3, adaptive_cutoffs=()), r"the default cutoffs must be .* got \[0, 1\]"),
    (dict(tie_weights=True, embedding_size=12), "tie_weights needs output_layer='softmax'"),
    (dict(architecture="transformer", num_heads=2),
     "output_layer='adaptive' needs architecture='rnn'"),
    (dict(output_layer="softmax"), "adaptive_cutoffs needs output_layer='adaptive'"),
    (dict(output_layer="hierarchical"), "output_layer"),
    (dict(adaptive_div_value=0.0), "adaptive_div_value"),
    (dict(hidden_size=15), r"the last tail cluster's projection would be 15 // 4.0\*\*2 = 0 "
                           r"features wide"),
])
def test_bad_adaptive_settings_are_named(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        adaptive_model(**options)


def test_adaptive_settings_survive_json_and_the_weights_reload() -> None:
    model = adaptive_model()
    config = ModelConfig(**json.loads(json.dumps(model.config.__dict__)))
    assert config == model.config
    again = LanguageModel(config).double()
    again.load_state_dict(model.state_dict())
    tokens = torch.randint(0, VOCAB, (2, 6))
    torch.testing.assert_close(again(tokens)[0], model(tokens)[0], rtol=0, atol=0)


def test_the_step_decoder_refuses_it_and_sampling_uses_the_models_own_forward() -> None:
    assert "output_layer = 'adaptive'" in step_decoder_blocker(adaptive_model())


def test_onnx_export_and_the_playground_refuse_it_by_name(tmp_path) -> None:
    model = adaptive_model().float()
    with pytest.raises(ValueError, match="output_layer = 'adaptive'"):
        export(model, tmp_path / "model.onnx", "onnx")
    assert not (tmp_path / "model.onnx").exists()
    assert "output_layer = 'adaptive'" in step_blocker(model)


def test_the_flag_reads_a_comma_list_and_names_a_bad_one(tmp_path) -> None:
    text = tmp_path / "words.txt"
    text.write_text(" ".join(f"w{i % 23}" for i in range(3000)) + "\n")
    command = [sys.executable, "-m", "rnnkit", "train", "--text-file", str(text),
               "--level", "word", "--output-layer", "adaptive", "--hidden-size", "16",
               "--embedding-size", "8", "--num-layers", "1", "--batch-size", "4",
               "--seq-len", "8", "--max-steps", "4", "--eval-every", "4", "--threads", "1",
               "--sample-length", "0", "--no-progress", "--out-dir", str(tmp_path / "run")]
    done = subprocess.run([*command, "--adaptive-cutoffs", "5,12"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert math.isfinite(result["val_loss"])
    bad = subprocess.run([*command, "--adaptive-cutoffs", "5,x", "--overwrite"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        'rnnkit train: error: --adaptive-cutoffs must be a list of ints, got "5,x"')
    assert "Traceback" not in bad.stderr


def test_plain_softmax_models_are_unchanged() -> None:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=VOCAB, embedding_size=8, hidden_size=12)).eval()
    assert isinstance(model.decoder, torch.nn.Linear)
    tokens = torch.randint(0, VOCAB, (2, 5))
    logits, _ = model(tokens)
    torch.testing.assert_close(logits, model.decoder(model.rnn(model.embedding(tokens))[0]))
    assert F.log_softmax(logits, -1).shape == (2, 5, VOCAB)
