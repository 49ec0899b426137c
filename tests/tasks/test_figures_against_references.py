"""Every pipeline's reported test figures, recomputed independently from its saved model.

Each test trains a tiny model for a few steps (so its outputs are wrong often enough that
the figures are not trivially 0 or 1), then asks the *saved* checkpoint for its outputs on
the test part through the public surface a user has (``rnnkit translate``, ``rnnkit
predict``, ``tag_sentences``, ``forecast_from_checkpoint``) and scores them with a library
or formula that shares no code with rnnkit's metrics:

- G2P word and phoneme error rates: ``jiwer`` edit operations (closest reference per word);
- classification accuracy and macro-F1: scikit-learn from the predicted labels;
- tagging token accuracy (scikit-learn on the flattened tags) and entity P/R/F1 (seqeval);
- translation BLEU and chrF: ``sacrebleu.corpus_bleu`` / ``corpus_chrf``, its function API;
- forecasting MAE, RMSE and MASE: NumPy, written out here from the definitions.

The check is equality (to float rounding) of the figure in ``results.json`` with the
figure recomputed from the same model's outputs: a pipeline that scores another split,
misaligns predictions and references, counts padding, or keeps a different epoch than it
saves, fails here.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import jiwer
import numpy as np
import pytest
import sacrebleu
from seqeval.metrics import f1_score as entity_f1
from seqeval.metrics import precision_score as entity_precision
from seqeval.metrics import recall_score as entity_recall
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from rnnkit.cli import main
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.classify.training import (
    ClassificationConfig,
    load_classification_data,
    train_classifier,
)
from rnnkit.tasks.forecast.training import (
    ForecastConfig,
    forecast_from_checkpoint,
    train_forecast,
)
from rnnkit.tasks.seq2seq.g2p import G2PConfig, load_g2p_data, train_g2p
from rnnkit.tasks.seq2seq.translation import (
    TranslationConfig,
    load_translation_data,
    train_translation,
)
from rnnkit.tasks.tag.training import (
    TaggingConfig,
    load_tagging_data,
    tag_sentences,
    train_tagging,
)

CLOSE = dict(rel=1e-12, abs=1e-12)


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text(encoding="utf-8"))


def run_cli(argv: list[str], lines: list[str], monkeypatch, capsys) -> list[list[str]]:
    """``rnnkit ARGV`` with ``lines`` on standard input; its output lines split at tabs."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    capsys.readouterr()
    assert main(argv) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


# --- G2P: jiwer ---------------------------------------------------------------------------
PHONEMES = {"a": "AE1", "b": "B", "c": "K", "d": "D", "e": "EH1", "g": "G", "i": "IH1",
            "k": "K", "m": "M", "n": "N", "o": "AA1", "p": "P", "s": "S", "t": "T"}


def dictionary(count: int = 48, seed: int = 0) -> str:
    """CMU-dictionary lines: made-up words spelled phoneme by phoneme, some with a second
    pronunciation (``word(2)``), so that the closest-reference rule matters."""
    pick = random.Random(seed)
    letters, lines, seen = sorted(PHONEMES), [], set()
    while len(seen) < count:
        word = "".join(pick.choice(letters) for _ in range(pick.randint(2, 5)))
        if word in seen:
            continue
        seen.add(word)
        lines.append(f"{word} {' '.join(PHONEMES[c] for c in word)}")
        if pick.random() < 0.3:
            lines.append(f"{word}(2) {' '.join(PHONEMES[c] for c in word[:-1])} AH0")
    return "\n".join(sorted(lines)) + "\n"


def jiwer_edits(hypothesis: list[str], reference: list[str]) -> int:
    if not reference:
        return len(hypothesis)
    output = jiwer.process_words(" ".join(reference), " ".join(hypothesis) or "")
    return output.substitutions + output.deletions + output.insertions


def test_g2p_error_rates_match_jiwer_on_the_saved_models_outputs(tmp_path, monkeypatch,
                                                                 capsys):
    text = dictionary()
    config = G2PConfig(max_epochs=3, batch_size=8, eval_words=10, valid_fraction=0.2,
                       test_fraction=0.25, out_dir=str(tmp_path / "g2p"), progress=False,
                       device="cpu", max_output=32)
    reported = train_g2p(config, Seq2SeqConfig(hidden_size=16, embedding_size=8), text=text)
    assert results_of(tmp_path / "g2p")["test_greedy"] == reported["test_greedy"]
    test = load_g2p_data(config, text).splits["test"]
    words = list(test)
    assert len(words) >= 10
    rows = run_cli(["translate", "--checkpoint", str(tmp_path / "g2p"), "--beam-width", "1"], words,
                   monkeypatch, capsys)
    assert [row[0] for row in rows] == words
    hypotheses = [row[1].split() for row in rows]
    wrong, edits, length = 0, 0, 0
    for hypothesis, word in zip(hypotheses, words, strict=True):
        closest = min((jiwer_edits(hypothesis, list(reference)), len(reference))
                      for reference in test[word])
        wrong += closest[0] > 0
        edits += closest[0]
        length += closest[1]
    figures = reported["test_greedy"]
    assert edits > 0, "the tiny model should still make mistakes"
    assert figures["word_error_rate"] == pytest.approx(wrong / len(words), **CLOSE)
    assert figures["phoneme_error_rate"] == pytest.approx(edits / length, **CLOSE)


# --- classification: scikit-learn ------------------------------------------------------------
GOOD, BAD, MIXED = ["great", "fine", "lovely"], ["dull", "awful", "boring"], ["odd", "long"]
FILLER = ["the", "film", "was", "plot", "acting", "really", "quite", "a"]


def reviews(count: int = 120, seed: int = 0) -> list[tuple[str, str]]:
    """Three classes of unequal size (macro-F1 then differs from the weighted mean); "mixed"
    texts hold words of both others, so a tiny model errs."""
    pick = random.Random(seed)
    pairs = []
    for index in range(count):
        label = ("pos", "pos", "pos", "neg", "neg", "mixed")[index % 6]
        words = pick.choices(FILLER, k=pick.randint(2, 6))
        opinion = {"pos": GOOD, "neg": BAD, "mixed": GOOD + BAD + MIXED}[label]
        words.insert(pick.randint(0, len(words)), pick.choice(opinion))
        pairs.append((" ".join(words), label))
    return pairs


def test_classification_figures_match_scikit_learn_on_predict_output(tmp_path, monkeypatch,
                                                                     capsys):
    pairs = reviews()
    config = ClassificationConfig(max_epochs=2, batch_size=16, lr=1e-2, out_dir=str(tmp_path / "c"),
                                  progress=False, device="cpu", min_count=1, test_fraction=0.25)
    reported = train_classifier(config, ClassifierConfig(embedding_size=8, hidden_size=8,
                                                         dropout=0.0), pairs)
    assert results_of(tmp_path / "c")["test"] == reported["test"]
    test = load_classification_data(config, pairs).splits["test"]
    texts, true = [text for text, _ in test], [label for _, label in test]
    rows = run_cli(["predict", "--checkpoint", str(tmp_path / "c")], texts, monkeypatch, capsys)
    assert [row[2] for row in rows] == texts
    predicted = [row[0] for row in rows]
    assert len(set(true)) == 3 and 0 < accuracy_score(true, predicted) < 1, predicted
    assert reported["test"]["accuracy"] == pytest.approx(accuracy_score(true, predicted), **CLOSE)
    assert reported["test"]["macro_f1"] == pytest.approx(
        f1_score(true, predicted, average="macro", zero_division=0), **CLOSE)
    assert reported["confusion"] == confusion_matrix(true, predicted,
                                                     labels=reported["labels"]).tolist()


# --- tagging: seqeval and scikit-learn ---------------------------------------------------------
def entity_sentences(count: int = 60, seed: int = 0) -> list[list[tuple[str, str]]]:
    """BIO-tagged sentences: people (one or two words) and places among filler words."""
    pick = random.Random(seed)
    first, last, places = ["ann", "bob", "eve"], ["smith", "jones"], ["paris", "rome", "oslo"]
    filler = ["met", "saw", "in", "today", "and", "the", "near"]
    sentences = []
    for _ in range(count):
        sentence = [(pick.choice(first), "B-PER")]
        if pick.random() < 0.5:
            sentence.append((pick.choice(last), "I-PER"))
        sentence += [(pick.choice(filler), "O") for _ in range(pick.randint(1, 3))]
        sentence.append((pick.choice(places), "B-LOC"))
        if pick.random() < 0.5:
            sentence.append((pick.choice(filler), "O"))
        sentences.append(sentence)
    return sentences


def test_tagging_figures_match_seqeval_and_scikit_learn_on_saved_tags(tmp_path):
    sentences = entity_sentences()
    config = TaggingConfig(max_epochs=2, batch_size=5, valid_fraction=0.2, test_fraction=0.25,
                           out_dir=str(tmp_path / "t"), progress=False, device="cpu", threads=1)
    reported = train_tagging(config, TaggerConfig(embedding_size=6, hidden_size=6,
                                                  char_embedding_size=4, char_filters=4),
                             sentences)
    assert results_of(tmp_path / "t")["test"] == reported["test"]
    test = load_tagging_data(config, sentences).splits["test"]
    tokens = [[token for token, _ in sentence] for sentence in test]
    true = [[tag for _, tag in sentence] for sentence in test]
    predicted = tag_sentences(tmp_path / "t", tokens)
    figures = reported["test"]["rnn"]
    flat_true = [tag for tags in true for tag in tags]
    flat_predicted = [tag for tags in predicted for tag in tags]
    assert figures["token_accuracy"] == pytest.approx(
        accuracy_score(flat_true, flat_predicted), **CLOSE)
    assert figures["entity_precision"] == pytest.approx(
        entity_precision(true, predicted, zero_division=0), **CLOSE)
    assert figures["entity_recall"] == pytest.approx(
        entity_recall(true, predicted, zero_division=0), **CLOSE)
    assert figures["entity_f1"] == pytest.approx(entity_f1(true, predicted, zero_division=0),
                                                 **CLOSE)


# --- translation: sacrebleu's function API -----------------------------------------------------
MESSAGES = {"Save": "Sichern", "Delete": "Löschen", "Add": "Hinzufügen", "Name": "Name",
            "Date": "Datum", "Time": "Zeit", "Yes": "Ja", "No": "Nein", "Back": "Zurück",
            "Next": "Weiter", "Log out": "Abmelden", "Open file": "Datei öffnen",
            "Save file": "Datei sichern", "New name": "Neuer Name", "Close": "Schließen",
            "Help": "Hilfe"}
CATALOGUE = "".join(f'msgid "{english}"\nmsgstr "{german}"\n\n'
                    for english, german in MESSAGES.items())


def test_translation_bleu_and_chrf_match_sacrebleu_on_translate_output(tmp_path, monkeypatch,
                                                                       capsys):
    config = TranslationConfig(max_epochs=3, batch_size=4, valid_fraction=0.2, test_fraction=0.25,
                               out_dir=str(tmp_path / "m"), progress=False, device="cpu",
                               max_output=16, beam_width=2)
    reported = train_translation(config, Seq2SeqConfig(hidden_size=16, embedding_size=8),
                                 text=CATALOGUE)
    assert results_of(tmp_path / "m")["test_greedy"] == reported["test_greedy"]
    test = load_translation_data(config, CATALOGUE).splits["test"]
    english, references = [e for e, _ in test], [g for _, g in test]
    for beam, key in ((1, "test_greedy"), (2, "test_beam")):
        rows = run_cli(["translate", "--checkpoint", str(tmp_path / "m"), "--beam-width",
                        str(beam)], english, monkeypatch, capsys)
        assert [row[0] for row in rows] == english
        hypotheses = [row[1] if len(row) > 1 else "" for row in rows]
        bleu = sacrebleu.corpus_bleu(hypotheses, [references])
        chrf = sacrebleu.corpus_chrf(hypotheses, [references])
        assert reported[key]["bleu"] == pytest.approx(bleu.score, **CLOSE), key
        assert reported[key]["chrf"] == pytest.approx(chrf.score, **CLOSE), key


# --- forecasting: NumPy from the definitions ---------------------------------------------------
def test_forecast_errors_match_numpy_on_checkpoint_forecasts(tmp_path):
    rng = np.random.default_rng(0)
    values = [5.0 + np.sin(2 * np.pi * t / 12) + 0.1 * float(rng.standard_normal())
              for t in range(120)]
    config = ForecastConfig(window=12, max_epochs=2, eval_every_epochs=1, season=12, arima=False,
                            out_dir=str(tmp_path / "f"), progress=False, device="cpu",
                            threads=1)
    reported = train_forecast(config, ForecasterConfig(hidden_size=8, horizon=3), values)
    assert results_of(tmp_path / "f")["test"] == reported["test"]
    sizes, horizon = reported["split_sizes"], reported["horizon"]
    first_test = sizes["train"] + sizes["valid"]
    origins = range(first_test, len(values) - horizon + 1)
    assert len(origins) == reported["examples"]["test"]
    series = np.asarray(values)
    predicted = np.array([forecast_from_checkpoint(tmp_path / "f", values[:origin])
                          for origin in origins])
    actual = np.array([series[origin:origin + horizon] for origin in origins])
    errors = actual - predicted
    training = series[:sizes["train"]]
    season = reported["season"]
    naive_scale = np.abs(training[season:] - training[:-season]).mean()
    figures = reported["test"]["rnn"]
    # The forecasts are float32, from a batch of every origin in training and from one
    # origin at a time here: on some CPUs the kernels round the two differently (seen:
    # 3e-9 relative). A wrong window, origin or scale is off by far more than 1e-7.
    close = {"rel": 1e-7}
    assert figures["mae"] == pytest.approx(np.abs(errors).mean(), **close)
    assert figures["rmse"] == pytest.approx(np.sqrt((errors ** 2).mean()), **close)
    assert figures["mase"] == pytest.approx(np.abs(errors).mean() / naive_scale, **close)
