"""The music task's corpus: ABC text split by whole tunes (on the course lab's real file),
and every character's key and meter ids for a conditional model."""

from pathlib import Path

import pytest
import torch

from rnnkit.data.corpus import load_corpus
from rnnkit.music.abc_tunes import join_tunes, split_tunes
from rnnkit.music.conditions import ConditionVocabulary
from rnnkit.tasks.music.config import MusicConfig
from rnnkit.tasks.music.corpus import (
    condition_ids,
    load_music_corpus,
    music_corpus,
    split_abc_text,
)
from rnnkit.training.config import DataConfig

IRISH = Path(__file__).parents[2] / "fixtures" / "irish.abc"
JIG = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|"
REEL = "X:2\nT:Reel\nM:C|\nL:1/8\nK:Gmaj\nB|GABc dBGB|G4 G2:|"
ODD = "X:3\nT:Odd\nM:7/8\nL:1/8\nK:F# Locrian\nABc defg|"


def tune_file(tmp_path: Path, tunes: list[str]) -> DataConfig:
    path = tmp_path / "tunes.abc"
    path.write_text("\n\n".join(tunes) + "\n", encoding="utf-8")
    return DataConfig(dataset=None, text_file=str(path), valid_fraction=0.2, split_seed=3)


def test_split_by_tune_is_seeded_disjoint_and_complete() -> None:
    irish_text = IRISH.read_text(encoding="utf-8")
    parts = split_abc_text(irish_text, valid_fraction=0.1, seed=0)
    train, valid = split_tunes(parts["train"]), split_tunes(parts["valid"])
    assert len(valid) == 80 and len(train) == 724
    assert sorted(train + valid) == sorted(split_tunes(irish_text))
    assert not set(train) & set(valid)
    assert split_abc_text(irish_text, 0.1, seed=0) == parts
    assert split_abc_text(irish_text, 0.1, seed=1)["valid"] != parts["valid"]


def test_split_needs_two_tunes() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_abc_text("X:1\nT:A\nK:D\nabc|\n", 0.5)


def test_the_corpus_splits_a_user_abc_file_by_tune(tmp_path: Path) -> None:
    tunes = [f"X:{i}\nT:Tune {i}\nM:4/4\nL:1/8\nK:D\nABcd efga|" for i in range(1, 11)]
    corpus = load_music_corpus(tune_file(tmp_path, tunes), music=MusicConfig())
    valid = split_tunes(corpus.vocab.decode(corpus.splits["valid"].tolist()))
    train = split_tunes(corpus.vocab.decode(corpus.splits["train"].tolist()))
    assert len(valid) == 2 and len(train) == 8 and sorted(valid + train) == sorted(tunes)
    assert corpus.condition_sizes == () and corpus.splits["train"].dim() == 1
    # the language model's own reader cuts the same file by characters, through a tune
    plain = load_corpus(tune_file(tmp_path, tunes))
    assert not plain.vocab.decode(plain.splits["valid"].tolist()).startswith("X:")


def test_every_character_gets_its_tunes_classes() -> None:
    text = join_tunes([JIG, REEL, ODD])
    vocabulary = ConditionVocabulary.build(text, min_count=1)
    ids = condition_ids(text, vocabulary)
    assert ids.shape == (len(text), 2) and ids.dtype == torch.long
    jig_end = len(JIG) + 2  # the blank line after a tune is part of it
    reel_end = jig_end + len(REEL) + 2
    expected = [vocabulary.ids("D major", "6/8"), vocabulary.ids("G major", "2/2"),
                vocabulary.ids("F# locrian", "7/8")]
    assert ids[:jig_end].unique(dim=0).tolist() == [list(expected[0])]
    assert ids[jig_end:reel_end].unique(dim=0).tolist() == [list(expected[1])]
    assert ids[reel_end:].unique(dim=0).tolist() == [list(expected[2])]
    assert text[jig_end:jig_end + 2] == "X:"


def test_text_not_in_joined_form_is_refused() -> None:
    vocabulary = ConditionVocabulary.build(join_tunes([JIG]), min_count=1)
    with pytest.raises(ValueError, match="tunes joined by blank lines"):
        condition_ids("% preamble\n" + join_tunes([JIG]), vocabulary)


def test_a_conditional_corpus_carries_each_tunes_key_and_meter(tmp_path: Path) -> None:
    data = tune_file(tmp_path, [JIG, REEL] * 10)
    corpus = load_music_corpus(data, music=MusicConfig(condition="key_meter"))
    plain = load_music_corpus(data, music=MusicConfig())
    assert corpus.condition_sizes == (3, 3)  # <other>, D major, G major; <other>, 2/2, 6/8
    for name, ids in corpus.splits.items():
        assert ids.shape == (len(plain.splits[name]), 3)  # token, key id, meter id
        assert torch.equal(ids[:, 0], plain.splits[name])
    text = corpus.vocab.decode(corpus.splits["train"][:, 0].tolist())
    vocabulary = ConditionVocabulary.build(text)
    assert torch.equal(corpus.splits["train"][:, 1:], condition_ids(text, vocabulary))


def test_conditions_need_a_character_vocabulary(tmp_path: Path) -> None:
    data = DataConfig(dataset=None, text_file=str(tmp_path / "never_read.abc"), level="word")
    with pytest.raises(ValueError, match=r"^\[task\] condition = 'key_meter' needs \[data\] "
                                         r"level = 'char'.*got level = 'word'$"):
        load_music_corpus(data, music=MusicConfig(condition="key_meter"))


def test_what_music_hands_the_language_model(tmp_path: Path) -> None:
    handed = music_corpus(MusicConfig(condition="key_meter"))
    assert handed.table == {"name": "music", "condition": "key_meter"}
    data = tune_file(tmp_path, [JIG, REEL] * 10)
    first = handed.load(data, None)
    again = handed.load(data, first.vocab.to_dict())  # on resume: the saved vocabulary
    assert all(torch.equal(first.splits[name], again.splits[name]) for name in first.splits)
