"""The tagging task: the most-frequent-tag baseline by hand, tables from the training part
only, tiny runs end to end (results, checkpoint, reload), and the errors a user meets."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from rnnkit.data.tag_examples import split_sentences, tags_of, tokens_of
from rnnkit.metrics.labels import tagging_figures
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.tag.baseline import MostFrequentTag, known_unknown_accuracy
from rnnkit.tasks.tag.training import (
    SavedTagger,
    TaggingConfig,
    evaluate_tagging_checkpoint,
    load_tagging_data,
    tag_lines,
    tag_sentences,
    train_tagging,
)

TRAIN = [[("the", "DT"), ("dog", "NN"), ("barks", "VBZ")],
         [("the", "DT"), ("run", "NN"), ("ended", "VBD")],
         [("they", "PRP"), ("run", "VBP")],
         [("dogs", "NNS"), ("run", "VBP"), ("home", "NN")]]


def test_the_baseline_tags_each_word_with_its_most_frequent_tag() -> None:
    baseline = MostFrequentTag.fit(TRAIN)
    assert baseline.lexicon["run"] == "VBP" and baseline.default == "NN"  # 2 of 3; 3 of 11
    gold = [["DT", "NN", "NN", "VBZ"]]
    predicted = [baseline.predict(["the", "run", "cat", "sleeps"])]
    assert predicted == [["DT", "VBP", "NN", "NN"]]
    assert tagging_figures(gold, predicted, entities=False) == {"token_accuracy": 0.5}
    known = [[baseline.knows(w) for w in ["the", "run", "cat", "sleeps"]]]
    assert known_unknown_accuracy(gold, predicted, known) == {
        "known_accuracy": 0.5, "unknown_accuracy": 0.5, "known_tokens": 2,
        "unknown_tokens": 2}


def corpus(count: int = 30, seed: int = 0) -> list[list[tuple[str, str]]]:
    """Determiner, adjective?, noun, verb sentences: a tagger learns them in a few steps."""
    pick = random.Random(seed)
    nouns, verbs, adjectives = ["dog", "cat", "bird", "fish"], ["runs", "sleeps", "eats"], [
        "big", "red"]
    sentences = []
    for _ in range(count):
        sentence = [(pick.choice(["the", "a"]), "DT")]
        if pick.random() < 0.5:
            sentence.append((pick.choice(adjectives), "JJ"))
        sentence += [(pick.choice(nouns), "NN"), (pick.choice(verbs), "VBZ")]
        sentences.append(sentence)
    return sentences


def tiny_config(out_dir: Path, **values) -> TaggingConfig:
    # batch_size 5: a bucket holds sentences of two lengths, so padding reaches the loss
    settings = dict(max_epochs=2, batch_size=5, valid_fraction=0.2, test_fraction=0.2,
                    out_dir=str(out_dir), progress=False, device="cpu", threads=1)
    settings.update(values)
    return TaggingConfig(**settings)


TINY_MODEL = TaggerConfig(embedding_size=6, hidden_size=6, char_embedding_size=4,
                          char_filters=4)


def test_the_tables_come_from_the_training_part_only() -> None:
    zebra = [("the", "DT"), ("Zebra", "NNP"), ("runs", "VBZ")]
    sentences = [*corpus(12), zebra]
    held_out_seed = next(seed for seed in range(100)
                         if zebra not in split_sentences(sentences, 0.2, 0.2, seed)["train"])
    config = tiny_config(Path("unused"), min_count=1, split_seed=held_out_seed)
    data = load_tagging_data(config, sentences)
    train_words = {token for tokens in tokens_of(data.splits["train"]) for token in tokens}
    assert set(data.tables.words.tokens[2:]) == train_words
    assert set(data.baseline.lexicon) == train_words
    assert "Z" not in data.tables.chars.ids and "NNP" not in data.tables.tags.ids
    counted = load_tagging_data(tiny_config(Path("unused"), min_count=100), sentences)
    assert counted.tables.words.tokens == ["<pad>", "<unk>"]


def test_the_split_is_seeded_and_keeps_every_sentence_once() -> None:
    sentences = [[(str(i), "T")] for i in range(20)]
    parts = split_sentences(sentences, 0.1, 0.2, seed=3)
    assert [len(parts[n]) for n in ("train", "valid", "test")] == [14, 2, 4]
    assert sorted(s[0][0] for part in parts.values() for s in part) == sorted(
        str(i) for i in range(20))
    assert parts == split_sentences(sentences, 0.1, 0.2, seed=3)
    with pytest.raises(ValueError, match="leave a part empty"):
        split_sentences(sentences[:3], 0.1, 0.1, seed=0)


@pytest.mark.parametrize("crf", [False, True])
def test_a_run_writes_results_and_a_checkpoint_that_tags_the_same(tmp_path: Path,
                                                                  crf: bool) -> None:
    sentences = corpus()
    model = dataclasses.replace(TINY_MODEL, crf=crf)
    results = train_tagging(tiny_config(tmp_path), model, sentences)
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["split_sentences"] == {"train": 18, "valid": 6, "test": 6}
    assert saved["split_tokens"]["test"] == results["test"]["tokens"]
    assert [row["epoch"] for row in saved["history"]] == [1, 2]
    assert set(saved["test"]) == {"sentences", "tokens", "rnn", "baseline"}
    assert saved["test"]["baseline"]["token_accuracy"] == 1.0  # every word has one tag
    test = split_sentences(sentences, 0.2, 0.2, seed=0)["test"]
    tagged = tag_sentences(tmp_path, tokens_of(test))
    assert (tagging_figures(tags_of(test), tagged, entities=False)["token_accuracy"]
            == results["test"]["rnn"]["token_accuracy"])
    lines = tag_lines(tmp_path, [" ".join(tokens) for tokens in tokens_of(test)])
    assert [[tag for _, tag in row] for row in lines] == tagged
    with pytest.raises(ValueError, match="trained on sentences handed in"):
        evaluate_tagging_checkpoint(tmp_path)


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n",
                    encoding="utf-8")
    return path


def test_a_file_run_is_evaluated_again_and_an_unseen_tag_is_named(tmp_path: Path) -> None:
    entities = [[("john", "B-PER"), ("visits", "O"), ("paris", "B-LOC")],
                [("mary", "B-PER"), ("jones", "I-PER"), ("likes", "O"), ("rome", "B-LOC")],
                [("we", "O"), ("saw", "O"), ("john", "B-PER")]] * 4
    data_file = write_conll(tmp_path / "train.conll", entities)
    config = tiny_config(tmp_path / "run", file=str(data_file), max_epochs=1)
    results = train_tagging(config, TINY_MODEL)
    assert results["entities"] and "entity_f1" in results["test"]["rnn"]
    assert evaluate_tagging_checkpoint(tmp_path / "run") == results["test"]
    other = write_conll(tmp_path / "eval.conll", [entities[0], [("john", "B-PER"),
                                                                ("in", "B-GPE")]])
    with pytest.raises(ValueError, match=r"eval\.conll' line 6 \(sentence 2\): label 'B-GPE' "
                                         r"was not seen in training"):
        evaluate_tagging_checkpoint(tmp_path / "run", file=other)
    figures = evaluate_tagging_checkpoint(tmp_path / "run", file=data_file)
    assert figures["sentences"] == 12 and figures["rnn"]["known_tokens"] == 40
    tagger = SavedTagger.load(tmp_path / "run")
    with pytest.raises(ValueError, match="line 2 is empty"):
        tag_lines(tmp_path / "run", ["john visits rome", "  "])
    with pytest.raises(ValueError, match="sentence 1 has no tokens"):
        tagger.tag([[]])


def test_a_malformed_line_in_the_training_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.conll"
    path.write_text("the DT\ndog NN\nbarks\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.conll' line 3: expected 2 fields"):
        train_tagging(tiny_config(tmp_path, file=str(path)), TINY_MODEL)
    with pytest.raises(FileNotFoundError, match=r"missing\.conll"):
        train_tagging(tiny_config(tmp_path, file=str(tmp_path / "missing.conll")), TINY_MODEL)


def test_the_config_names_what_it_expected() -> None:
    with pytest.raises(ValueError, match="dataset must be one of"):
        TaggingConfig(dataset="conll2003")
    with pytest.raises(ValueError, match="a dataset or a file, not both"):
        TaggingConfig(dataset="wnut16", file="x.conll")
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number in \(0, 1\)"):
        TaggingConfig(test_fraction=0.0)
    with pytest.raises(ValueError, match="give one source of sentences"):
        load_tagging_data(TaggingConfig(dataset="wnut16"), corpus())
