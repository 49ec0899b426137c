"""The classification task end to end on made-up reviews: training, the baseline in the same
run, the confusion figure, checkpoints read back by `rnnkit predict` and `rnnkit eval`, and
the errors a user meets (a missing column, a label the model never saw)."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.cli.dispatch import train_argv
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks.classify.training import (
    ClassificationConfig,
    SavedClassifier,
    _teacher_targets,
    drop_words,
    load_classification_data,
    train_classifier,
)
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint

GOOD, BAD = ["great", "fine", "lovely", "superb"], ["dull", "awful", "boring", "weak"]
FILLER = ["the", "film", "was", "plot", "acting", "really", "quite", "a"]


def reviews(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Texts whose label is the kind of their one opinion word, among filler words."""
    generator = random.Random(seed)
    pairs = []
    for index in range(count):
        label = "pos" if index % 2 else "neg"
        words = generator.choices(FILLER, k=generator.randint(2, 7))
        words.insert(generator.randint(0, len(words)), generator.choice(
            GOOD if label == "pos" else BAD))
        pairs.append((f"{' '.join(words)} #{index}", label))
    return pairs


def tiny(out_dir: Path, **values) -> ClassificationConfig:
    settings = dict(max_epochs=12, batch_size=16, lr=1e-2, out_dir=str(out_dir), progress=False,
                    device="cpu", min_count=1)
    settings.update(values)
    return ClassificationConfig(**settings)


MODEL = ClassifierConfig(embedding_size=8, hidden_size=8, dropout=0.0)


def test_the_word_table_comes_from_the_training_part_only() -> None:
    pairs = reviews(50)
    data = load_classification_data(tiny(Path("unused")), pairs)
    train_words = {word for text, _ in data.splits["train"] for word in text.split()}
    assert [len(data.splits[n]) for n in ("train", "valid", "test")] == [40, 5, 5]
    held_out_only = {f"#{i}" for i in range(50)} - train_words
    assert held_out_only and not held_out_only & set(data.words.tokens)
    assert data.labels.names == ["neg", "pos"]


def test_training_learns_reports_the_baseline_and_reloads_to_the_same_answers(
        tmp_path: Path) -> None:
    torch.manual_seed(0)
    results = train_classifier(tiny(tmp_path), MODEL, reviews(160))
    assert results["test"]["accuracy"] >= 0.9  # one opinion word decides: easy to learn
    assert results["baseline_tfidf_logistic"]["accuracy"] >= 0.9
    assert sum(map(sum, results["confusion"])) == results["split_texts"]["test"] == 16
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["test"] == results["test"]
    classifier = SavedClassifier.load(tmp_path)
    answers = classifier.classify(["the plot was superb", "awful acting", "lovely"])
    assert [label for label, _ in answers] == ["pos", "neg", "pos"]
    again = SavedClassifier.load(tmp_path).classify(["the plot was superb"])
    assert again[0] == answers[0]
    probabilities = classifier.probabilities([("the plot was superb", "neg"),
                                              ("awful acting", "neg")], "made-up pairs")
    assert probabilities.shape == (2, 2)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(2))
    assert probabilities[0, 1].item() == pytest.approx(answers[0][1], abs=1e-6)
    assert probabilities[1, 0].item() == pytest.approx(answers[1][1], abs=1e-6)
    with pytest.raises(ValueError, match="'meh' was not seen in training"):
        classifier.probabilities([("dull", "meh")], "made-up pairs")


def test_a_classifier_with_character_features_trains_and_reloads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spelled = ClassifierConfig(embedding_size=8, hidden_size=8, dropout=0.0,
                               char_embedding_size=4, char_filters=6)
    results = train_classifier(tiny(tmp_path), spelled, reviews(160))
    assert results["test"]["accuracy"] >= 0.9
    classifier = SavedClassifier.load(tmp_path)
    assert classifier.chars is not None and classifier.model.config.char_vocab_size > 2
    texts = ["the plot was superb", "awful acting", "unheardof words here"]
    assert classifier.classify(texts) == SavedClassifier.load(tmp_path).classify(texts)
    assert [label for label, _ in classifier.classify(texts[:2])] == ["pos", "neg"]


def test_predict_and_eval_read_the_run_and_name_bad_input(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    run = tmp_path / "run"
    train_classifier(tiny(run, max_epochs=2), MODEL, reviews(60))
    monkeypatch.setattr("sys.stdin", io.StringIO("a superb film\nso boring\n"))
    assert main(["predict", "--checkpoint", str(run)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[2] for row in rows] == ["a superb film", "so boring"]
    assert all(row[0] in ("neg", "pos") and 0.5 <= float(row[1]) <= 1.0 for row in rows)

    unseen = tmp_path / "unseen.csv"
    unseen.write_text("label,text\npos,great film\nmeh,fine i guess\n", encoding="utf-8")
    assert main(["eval", "--checkpoint", str(run), "--text-file", str(unseen)]) == 1
    error = capsys.readouterr().err
    assert "row 2: label 'meh' was not seen in training (known labels: 'neg', 'pos')" in error
    good = tmp_path / "good.csv"
    good.write_text("label,text\npos,great film\nneg,dull film\n", encoding="utf-8")
    assert main(["classify", "eval", "--checkpoint", str(run), "--data-file", str(good)]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"accuracy", "macro_f1"}
    monkeypatch.setattr("sys.stdin", io.StringIO("fine\n   \n"))
    assert main(["predict", "--checkpoint", str(run)]) == 1
    assert "line 2: '   ' has no words to classify" in capsys.readouterr().err


def test_a_csv_without_the_named_column_is_refused_with_the_columns_it_has(
        tmp_path: Path, capsys) -> None:
    data = tmp_path / "reviews.csv"
    data.write_text("review,score\nnice,pos\n", encoding="utf-8")
    status = main(["train", "--task", "classify", "--csv", str(data), "--text-column",
                   "text", "--label-column", "score", "--out-dir", str(tmp_path / "run")])
    assert status == 1
    message = capsys.readouterr().err
    assert "has no column 'text'; columns present: 'review', 'score'" in message
    missing = main(["classify", "train", "--csv", str(tmp_path / "nowhere.csv")])
    assert missing == 1 and "nowhere.csv" in capsys.readouterr().err


def test_train_task_argv_stands_for_the_task_commands() -> None:
    assert train_argv(["train", "--lr", "1", "--task", "classify", "--max-epochs", "2"]) == [
        "classify", "train", "--lr", "1", "--max-epochs", "2"]
    assert train_argv(["train", "--task", "tag"]) == ["tag", "train"]
    assert train_argv(["train", "--task=tag", "--lr", "1"]) == ["tag", "train", "--lr", "1"]
    assert train_argv(["train", "--lr", "1"]) == ["train", "--lr", "1"]
    assert train_argv(["train", "--task", "forecast", "--lr", "1"]) == [
        "forecast", "train", "--lr", "1"]
    assert train_argv(["train", "--task", "language-model"]) == ["train"]
    message = ("--task expected one of language-model, seq2seq, classify, tag, forecast, "
               "got 'nonsense'")
    with pytest.raises(ValueError, match=f"^{message}$"):
        train_argv(["train", "--task", "nonsense"])


def test_word_dropout_reads_words_as_unknown_and_never_touches_padding() -> None:
    torch.manual_seed(0)
    tokens = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    assert torch.equal(drop_words(tokens, 0.0), tokens)
    almost_all = drop_words(tokens, 0.999999)
    assert almost_all.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    many = drop_words(torch.full((200, 50), 7), 0.25)
    assert 0.22 < float((many == 1).float().mean()) < 0.28
    with pytest.raises(ValueError, match=r"word_dropout must be a finite number in \[0, 1\)"):
        ClassificationConfig(word_dropout=1.0)


def test_a_student_distils_its_teachers_mean_answers(tmp_path: Path) -> None:
    pairs = reviews(160)
    for seed in (0, 1):
        torch.manual_seed(seed)
        train_classifier(tiny(tmp_path / f"teacher-{seed}", seed=seed), MODEL, pairs)
    teachers = f"{tmp_path / 'teacher-0'}, {tmp_path / 'teacher-1'}"
    config = tiny(tmp_path / "student", teachers=teachers, distill_weight=1.0)
    data = load_classification_data(config, pairs)
    examples = data.examples("train", config)
    expected = torch.stack([
        SavedClassifier.load(tmp_path / f"teacher-{seed}").probabilities(
            data.splits["train"], "training part") for seed in (0, 1)]).mean(dim=0)
    torch.testing.assert_close(_teacher_targets(config, data, examples), expected)
    labels = torch.tensor([label for _, label in examples])
    half = _teacher_targets(replace(config, distill_weight=0.5), data, examples)
    torch.testing.assert_close(half, 0.5 * expected + 0.5 * torch.eye(2)[labels])
    results = train_classifier(config, MODEL, pairs)  # on the teachers' answers alone
    assert max(row["accuracy"] for row in results["history"]) >= 0.9  # validation
    relabelled = [(text, "good" if label == "pos" else label) for text, label in pairs]
    with pytest.raises(ValueError, match=r"teacher .*teacher-0.* was trained on labels"):
        train_classifier(replace(config, out_dir=str(tmp_path / "other")), MODEL, relabelled)
    with pytest.raises(ValueError, match=r"another split .*split_seed=0"):
        train_classifier(replace(config, split_seed=1, out_dir=str(tmp_path / "other")),
                         MODEL, pairs)


def test_a_run_saved_under_the_old_option_names_still_loads(tmp_path: Path, capsys,
                                                             monkeypatch) -> None:
    """Older rnnkit saved ``[classify] epochs`` and ``validate_every`` (today's
    ``max_epochs`` and ``eval_every_epochs``); the run answers as it did."""
    old_names = {"max_epochs": "epochs", "eval_every_epochs": "validate_every"}
    torch.manual_seed(0)
    train_classifier(tiny(tmp_path, max_epochs=2, eval_every_epochs=2), MODEL, reviews(60))
    before = SavedClassifier.load(tmp_path).classify(["the plot was superb"])
    for tag in ("best", "latest"):
        saved = load_checkpoint(tmp_path, tag=tag)
        config = {**saved.config, "classify": {
            old_names.get(key, key): value for key, value in saved.config["classify"].items()}}
        save_checkpoint(tmp_path, model_state=saved.model_state, config=config,
                        vocab=saved.vocab, trainer_state=saved.trainer_state, tag=tag)
    assert {"epochs", "validate_every"} <= set(load_checkpoint(tmp_path,
                                                               tag="best").config["classify"])
    loaded = SavedClassifier.load(tmp_path)
    assert (loaded.config.max_epochs, loaded.config.eval_every_epochs) == (2, 2)
    assert loaded.classify(["the plot was superb"]) == before
    monkeypatch.setattr("sys.stdin", io.StringIO("the plot was superb\n"))
    assert main(["predict", "--checkpoint", str(tmp_path)]) == 0
    label, probability, text = capsys.readouterr().out.rstrip("\n").split("\t")
    assert (label, text) == (before[0][0], "the plot was superb")
    assert float(probability) == pytest.approx(before[0][1], abs=1e-4)
