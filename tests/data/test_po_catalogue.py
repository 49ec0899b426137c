"""Reading a gettext .po catalogue into translation pairs and splitting them by message."""

from __future__ import annotations

import pytest

from rnnkit.data.po_catalogue import parse_po, split_pairs

SAMPLE = r'''# Header comment
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Language: de\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: views.py:1
msgid "Save"
msgstr "Sichern"

#, python-format
msgid "Enter a valid %(protocol)s address."
msgstr "Bitte eine gültige %(protocol)s-Adresse eingeben."

#, fuzzy
msgid "Delete"
msgstr "Löschen"

msgid "%(count)d item"
msgid_plural "%(count)d items"
msgstr[0] "%(count)d Element"
msgstr[1] "%(count)d Elemente"

msgid "Untranslated"
msgstr ""

msgctxt "abbrev. month"
msgid "May"
msgstr "Mai"

msgctxt "alt. month"
msgid "May"
msgstr "Mai (lang)"

msgid "First line\n"
"second line"
msgstr "Erste Zeile\n"
"zweite Zeile"

msgid "Two lines"
msgstr "Zwei\n"
"Zeilen"

msgid "Long message "
"wrapped over lines"
msgstr "Lange Nachricht "
"über Zeilen umbrochen"

#~ msgid "Old"
#~ msgstr "Alt"
'''


def test_only_plain_translated_single_line_entries_come_out() -> None:
    assert parse_po(SAMPLE) == [
        ("Save", "Sichern"),
        ("Enter a valid %(protocol)s address.",  # placeholders kept as they are
         "Bitte eine gültige %(protocol)s-Adresse eingeben."),
        ("May", "Mai"),  # the first of the duplicate msgids wins
        ("Long message wrapped over lines",  # continuation strings are joined, not lines
         "Lange Nachricht über Zeilen umbrochen"),
    ]


def test_a_text_without_pairs_is_a_value_error() -> None:
    only_skipped = ('msgid "a"\nmsgstr ""\n\n#, fuzzy\nmsgid "b"\nmsgstr "B"\n\n'
                    '#~ msgid "c"\n#~ msgstr "C"\n')
    for text in (only_skipped, "", "no catalogue here"):
        with pytest.raises(ValueError, match="yields no translation pairs"):
            parse_po(text)


def test_a_malformed_text_is_named() -> None:
    with pytest.raises(ValueError, match="not a readable gettext catalogue"):
        parse_po('msgid "a"\nmsgstr "b"\nthis is not po syntax\n')


def test_a_path_is_not_read_as_a_file(tmp_path) -> None:
    po = tmp_path / "de.po"
    po.write_text('msgid "Save"\nmsgstr "Sichern"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="yields no translation pairs"):
        parse_po(str(po))


def many_pairs(count: int) -> list[tuple[str, str]]:
    return [(f"message {i}", f"Nachricht {i}") for i in range(count)]


def test_split_sizes_disjoint_and_complete() -> None:
    pairs = many_pairs(95)
    parts = split_pairs(pairs, valid_fraction=0.1, test_fraction=0.1, seed=0)
    assert list(parts) == ["train", "valid", "test"]
    # round(9.5) == 10 for valid and test: Python rounds half to even.
    assert [len(parts[name]) for name in ("train", "valid", "test")] == [75, 10, 10]
    sources = [{source for source, _ in parts[name]} for name in ("train", "valid", "test")]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    assert sorted(pair for part in parts.values() for pair in part) == sorted(pairs)
    order = {pair: index for index, pair in enumerate(pairs)}
    for part in parts.values():  # input order is kept within a split
        assert [order[pair] for pair in part] == sorted(order[pair] for pair in part)


def test_split_is_deterministic_for_a_seed_and_ignores_input_order() -> None:
    pairs = many_pairs(50)
    first = split_pairs(pairs, seed=7)
    assert split_pairs(pairs, seed=7) == first
    reversed_parts = split_pairs(pairs[::-1], seed=7)
    assert {name: sorted(part) for name, part in reversed_parts.items()} == \
        {name: sorted(part) for name, part in first.items()}
    assert split_pairs(pairs, seed=8) != first


def test_a_repeated_source_stays_in_one_split() -> None:
    pairs = [*many_pairs(20), ("message 3", "andere Nachricht 3")]
    parts = split_pairs(pairs, valid_fraction=0.25, test_fraction=0.25, seed=1)
    homes = [name for name, part in parts.items()
             for source, _ in part if source == "message 3"]
    assert len(homes) == 2 and homes[0] == homes[1]
    assert sum(len(part) for part in parts.values()) == 21


def test_split_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="no pairs"):
        split_pairs([])
    with pytest.raises(ValueError, match="leave a training part"):
        split_pairs(many_pairs(10), valid_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="fractions >= 0"):
        split_pairs(many_pairs(10), valid_fraction=-0.1)
    with pytest.raises(ValueError, match="leave no training pairs"):
        split_pairs(many_pairs(2), valid_fraction=0.4, test_fraction=0.4)
