"""The contract every token table keeps (rnnkit.data.vocab.TokenIds): the language model's
Vocabulary, the seq2seq SymbolTable, the classify/tag TokenTable and LabelTable."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rnnkit.data.pairs import SPECIALS, SymbolTable
from rnnkit.data.token_batches import PAD, UNKNOWN, LabelTable, TokenTable
from rnnkit.data.vocab import Vocabulary

# name -> (make a table of these entries, its specials, how it decodes ids, class)
TABLES: dict[str, tuple[Callable, tuple[str, ...], Callable, type]] = {
    "vocabulary": (lambda entries: Vocabulary(entries, level="char"), (),
                   lambda table, ids: list(table.decode(ids)), Vocabulary),
    "symbol table": (SymbolTable, SPECIALS, lambda table, ids: table.decode(ids), SymbolTable),
    "token table": (TokenTable, (PAD, UNKNOWN), lambda table, ids: table.tokens_of(ids),
                    TokenTable),
    "label table": (LabelTable, (), lambda table, ids: table.decode(ids), LabelTable),
}


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_specials_come_first_then_the_entries_in_order(kind: str) -> None:
    make, specials, decode, _ = TABLES[kind]
    table = make(["c", "a", "b"])
    assert table.tokens == [*specials, "c", "a", "b"]
    assert [table.ids[token] for token in table.tokens] == list(range(len(table)))
    assert decode(table, range(len(table))) == table.tokens


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_a_token_listed_twice_is_refused(kind: str) -> None:
    make = TABLES[kind][0]
    with pytest.raises(ValueError, match=f"the {kind}'s tokens must be distinct"):
        make(["a", "b", "a"])


@pytest.mark.parametrize("kind", sorted(TABLES))
@pytest.mark.parametrize("bad_id", [-1, 99])
def test_an_id_outside_the_table_is_refused_naming_it(kind: str, bad_id: int) -> None:
    make, specials, decode, _ = TABLES[kind]
    table = make(["a", "b"])
    with pytest.raises(ValueError, match=f"token id {bad_id} is outside the {kind} of "
                                         f"{len(specials) + 2} tokens"):
        decode(table, [0, bad_id])


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_the_saved_form_round_trips_through_json(kind: str) -> None:
    make, _, _, cls = TABLES[kind]
    table = make(["x", "é", "\n"])
    again = cls.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.tokens == table.tokens and again.ids == table.ids


def test_tables_without_an_unknown_token_refuse_what_they_lack() -> None:
    with pytest.raises(ValueError, match="unknown symbol 'z' at position 1"):
        SymbolTable(["a"]).encode("az")
    with pytest.raises(ValueError, match="label 'z' was not seen in training"):
        LabelTable(["a"]).encode(["a", "z"], "row 3")
    with pytest.raises(ValueError, match="the text holds 1 char the vocabulary lacks: 'z'"):
        Vocabulary(["a"], level="char").encode("az")
    assert TokenTable(["a"]).encode(["a", "z"]) == [2, 1]  # <unk> stands in


def test_a_special_is_not_an_input_symbol() -> None:
    with pytest.raises(ValueError, match="unknown symbol '<s>' at position 0"):
        SymbolTable(["a"]).encode(["<s>", "a"])
