"""``cell="mingru"`` and ``"minlstm"`` name a layer in every model a task builds, as every
other catalogue name does: each model runs forward and backward with them, and its
padded rows give what the same rows give alone (the state is carried by lengths)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.analysis.gradients import probe
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.forecaster import ForecasterConfig, SequenceForecaster
from rnnkit.models.long_range import LastStepRegressor, StepClassifier
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

CELLS = ["mingru", "minlstm"]
TOKENS = torch.tensor([[4, 5, 6, 7], [7, 8, 0, 0]])
LENGTHS = torch.tensor([4, 2])


def backward_reaches_every_parameter(model: torch.nn.Module, output: torch.Tensor) -> None:
    output.sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing}"


@pytest.mark.parametrize("cell", CELLS)
def test_seq2seq_with_attention_runs_on_minimal_encoder_and_decoder(cell: str) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(source_vocab_size=10, target_vocab_size=12, cell=cell,
                                  hidden_size=8, embedding_size=6, dropout=0.0))
    output = model(TOKENS, LENGTHS, torch.tensor([[1, 3, 4], [1, 4, 5]]))
    assert output.logits.shape == (2, 3, 12)
    assert torch.allclose(output.attention[1, :, 2:], torch.zeros(3, 2))  # padding unread
    backward_reaches_every_parameter(model, output.logits)


@pytest.mark.parametrize("cell", CELLS)
def test_classifier_and_tagger_read_padded_rows_as_the_rows_alone(cell: str) -> None:
    torch.manual_seed(0)
    options = dict(vocab_size=10, cell=cell, embedding_size=6, hidden_size=8, dropout=0.0)
    classifier = SequenceClassifier(ClassifierConfig(num_classes=3, **options)).eval()
    tagger = SequenceTagger(TaggerConfig(num_tags=5, **options)).eval()
    torch.testing.assert_close(classifier(TOKENS, LENGTHS)[1],
                               classifier(TOKENS[1:, :2], LENGTHS[1:])[0])
    torch.testing.assert_close(tagger(TOKENS, LENGTHS)[1, :2],
                               tagger(TOKENS[1:, :2], LENGTHS[1:])[0])
    backward_reaches_every_parameter(classifier.train(), classifier(TOKENS, LENGTHS))
    backward_reaches_every_parameter(tagger.train(), tagger(TOKENS, LENGTHS))


@pytest.mark.parametrize("cell", CELLS)
def test_forecaster_and_long_range_models_run_on_minimal_layers(cell: str) -> None:
    torch.manual_seed(0)
    forecaster = SequenceForecaster(ForecasterConfig(cell=cell, hidden_size=8, horizon=2))
    assert forecaster(torch.randn(3, 10, 1)).shape == (3, 2)
    backward_reaches_every_parameter(forecaster, forecaster(torch.randn(3, 10, 1)))
    regressor = LastStepRegressor(cell, 2, 8)
    backward_reaches_every_parameter(regressor, regressor(torch.randn(3, 20, 2)))
    classifier = StepClassifier(cell, 6, 8)
    backward_reaches_every_parameter(classifier, classifier(torch.randint(0, 6, (3, 9))))


@pytest.mark.parametrize("cell", CELLS)
def test_the_gradient_probe_sees_the_input_only_gates(cell: str) -> None:
    """d h_t / d h_(t-1) = diag(a_t) with a_t in (0, 1): every Jacobian norm is below 1,
    and the gradient that reaches the first step is the product of the a's."""
    flow = probe(cell, length=20, hidden_size=6, seed=0)
    assert all(0 < norm < 1 for norm in flow.jacobian_norms)
    assert 0 < flow.first_over_last < 1
