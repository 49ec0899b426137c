"""The tune validator on hand-made valid and broken tunes, and on the lab's real tunes."""

from pathlib import Path

import pytest

from rnnkit.music.abc_tunes import normalize_key, normalize_meter, split_tunes
from rnnkit.music.validate import check_tune

IRISH = Path(__file__).parents[1] / "fixtures" / "irish.abc"
GOOD = """X:1
T:Test Jig
M:6/8
L:1/8
K:D Major
A|dfa agf|(3efg e2 d>c|[DF]3 z3|d3-d2:|
|:B|c2d e>fg|a3 a2||
"""


def test_a_good_tune_is_valid_with_its_fields() -> None:
    check = check_tune(GOOD)
    assert check.valid and check.problems == ()
    assert (check.title, check.key, check.meter) == ("Test Jig", "D major", "6/8")
    assert check.bars == 8 and check.irregular_bars == 0 and check.final_note == "A"


@pytest.mark.parametrize("letter", ["X", "T", "M", "L"])
def test_each_missing_header_field_is_named(letter: str) -> None:
    tune = "\n".join(line for line in GOOD.splitlines() if not line.startswith(letter + ":"))
    check = check_tune(tune)
    assert not check.valid and "header" in check.categories
    assert any(f"lacks field(s) {letter}" in problem for problem in check.problems)


def test_missing_key_line_means_no_header_end() -> None:
    check = check_tune(GOOD.replace("K:D Major\n", ""))
    assert not check.valid
    assert "no K: line ends the header" in check.problems


@pytest.mark.parametrize(("old", "new", "message"), [
    ("X:1", "X:one", "X: 'one' is not a whole number"),
    ("T:Test Jig", "T:", "T: (title) is empty"),
    ("M:6/8", "M:6-8", "M: meter '6-8'"),
    ("L:1/8", "L:eighth", "L: unit note length"),
    ("K:D Major", "K:H Major", "K: key 'H Major'"),
    ("K:D Major", "K:D Majestic", "K: key"),
])
def test_malformed_header_fields_are_named(old: str, new: str, message: str) -> None:
    check = check_tune(GOOD.replace(old, new))
    assert not check.valid and any(message in problem for problem in check.problems)


def test_syntax_error_is_reported_with_its_line() -> None:
    check = check_tune(GOOD.replace("c2d e>fg", "c2d e>f$g"))
    assert check.categories == ("syntax",)
    assert "body does not parse: line 2, column" in check.problems[0]


def test_a_body_of_rests_is_empty() -> None:
    check = check_tune("X:1\nT:Silence\nM:4/4\nL:1/8\nK:C\nz8|z8|\n")
    assert not check.valid and check.categories == ("empty",)


def test_overlong_and_short_mid_section_bars_are_irregular() -> None:
    long_bars = GOOD.replace("dfa agf", "dfa agfa").replace("c2d e>fg", "c2d e>fga")
    check = check_tune(long_bars)
    assert check.irregular_bars == 2 and not check.valid
    assert "2 of 8 bars do not fit the meter" in check.problems[0]
    short = GOOD.replace("(3efg e2 d>c", "e2 d>c")  # 4/8 in the middle of a section
    assert check_tune(short).irregular_bars == 1


def test_tolerance_allows_one_irregular_bar_in_a_short_tune() -> None:
    one_long = GOOD.replace("dfa agf", "dfa agfa")
    assert check_tune(one_long).valid and check_tune(one_long).irregular_bars == 1
    assert not check_tune(one_long, max_irregular=0).valid


def test_a_multi_bar_rest_is_regular() -> None:
    check = check_tune(GOOD.replace("A|dfa agf|", "A|Z4|dfa agf|"), max_irregular=0)
    assert check.valid and check.bars == 9


def test_pickups_and_their_complements_are_regular() -> None:
    check = check_tune(GOOD)
    assert check.bars == 8 and check.irregular_bars == 0  # "A|", "d3-d2:|", "|:B|", "a3 a2||"


def test_free_meter_is_not_checked() -> None:
    check = check_tune("X:1\nT:Free\nM:none\nL:1/8\nK:G\nABcdefgab|A|\n")
    assert check.valid and check.meter == "none"


def test_key_and_meter_normal_forms() -> None:
    assert normalize_key("D") == normalize_key("Dmaj") == normalize_key("D Major") == "D major"
    assert normalize_key("Bm") == normalize_key("B minor") == "B minor"
    assert normalize_key("Ador") == "A dorian" and normalize_key("G Mixolydian") == \
        "G mixolydian"
    assert normalize_meter("C") == "4/4" and normalize_meter("C|") == "2/2"
    with pytest.raises(ValueError, match="not a tonic"):
        normalize_key("Dx")


def test_real_tunes_are_nearly_all_valid() -> None:
    """800 of the lab's 804 tunes pass; the 4 that fail are broken in the file itself."""
    checks = [check_tune(tune) for tune in split_tunes(IRISH.read_text(encoding="utf-8"))]
    failing = [check for check in checks if not check.valid]
    assert len(failing) == 4
    assert sorted(c.title for c in failing) == ["Corney Is Coming", "Guns of the Magnificent "
                                                "Seven", "Jug of Punch No. 2", "Swedish"]
