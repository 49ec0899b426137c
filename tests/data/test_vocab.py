"""Vocabularies: ids, round trips, size caps, unknown tokens and their errors."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.vocab import END_OF_LINE, UNKNOWN, Vocabulary, tokenize

TEXT = "the cat sat\non the mat\nthe end\n"


def test_char_vocabulary_round_trips_text_exactly() -> None:
    vocab = Vocabulary.build(TEXT, level="char")
    assert sorted(set(TEXT)) == vocab.tokens
    assert vocab.decode(vocab.encode(TEXT)) == TEXT


def test_word_vocabulary_ends_every_line_and_round_trips() -> None:
    vocab = Vocabulary.build(TEXT, level="word")
    ids = vocab.encode(TEXT)
    assert ids.count(vocab.ids[END_OF_LINE]) == 3
    assert vocab.decode(ids) == TEXT
    assert vocab.tokens[0] == "the"  # most frequent first
    assert UNKNOWN in vocab.tokens


def test_word_tokens_match_the_ptb_convention() -> None:
    assert tokenize(" a  b \n\nc", "word") == ["a", "b", END_OF_LINE, END_OF_LINE, "c",
                                              END_OF_LINE]


def test_size_cap_keeps_the_most_frequent_and_maps_the_rest_to_unknown() -> None:
    vocab = Vocabulary.build(TEXT, level="word", max_size=3)
    assert len(vocab) == 3
    assert set(vocab.tokens) == {"the", END_OF_LINE, UNKNOWN}
    assert vocab.decode(vocab.encode("the cat")) == f"the {UNKNOWN}\n"


def test_char_cap_adds_unknown() -> None:
    vocab = Vocabulary.build("aaaabbbcd", level="char", max_size=3)
    assert vocab.tokens == sorted(["a", "b", UNKNOWN])
    assert vocab.encode("c") == [vocab.ids[UNKNOWN]]


def test_strict_encoding_names_the_missing_characters() -> None:
    vocab = Vocabulary.build("abc", level="char")
    with pytest.raises(ValueError, match=r"2 chars the vocabulary lacks: 'x', 'Z'"):
        vocab.encode("axZ", strict=True)


def test_char_vocabulary_without_unknown_rejects_even_when_not_strict() -> None:
    vocab = Vocabulary.build("abc", level="char")
    with pytest.raises(ValueError, match="lacks: 'q'"):
        vocab.encode("q")


def test_word_vocabulary_maps_unseen_words_unless_strict() -> None:
    vocab = Vocabulary.build(TEXT, level="word")
    assert vocab.encode("zebra")[0] == vocab.ids[UNKNOWN]
    with pytest.raises(ValueError, match="1 word the vocabulary lacks: 'zebra'"):
        vocab.encode("zebra", strict=True)


def test_dict_round_trip_through_json(tmp_path) -> None:
    vocab = Vocabulary.build(TEXT, level="word", max_size=5)
    path = vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.from_dict(json.loads(path.read_text()))
    assert again.tokens == vocab.tokens and again.level == "word" and again.unknown == UNKNOWN


@pytest.mark.parametrize(("document", "words"), [
    ([], "object with a 'tokens' list"),
    ({"format": 1, "level": "char", "tokens": ["a", "a"]}, "distinct"),
    ({"format": 9, "level": "char", "tokens": ["a"]}, "format 9 is not supported"),
    ({"format": 1, "level": "byte", "tokens": ["a"]}, "level must be one of"),
    ({"format": 1, "level": "char", "tokens": ["a", 3]}, "must all be strings"),
    ({"format": 1, "level": "word", "tokens": ["a"], "unknown": "<unk>"}, "not in the vocab"),
])
def test_bad_documents_are_rejected(document, words) -> None:
    with pytest.raises(ValueError, match=words):
        Vocabulary.from_dict(document)


def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="token id 7 is outside the vocabulary of 3 tokens"):
        Vocabulary.build("abc").decode([0, 7])


def test_empty_text_cannot_make_a_vocabulary() -> None:
    with pytest.raises(ValueError, match="empty text"):
        Vocabulary.build("", level="char")
