"""The tune checker's verdicts against abc2midi's, tune by tune.

Each tune below exercises one rule of :mod:`rnnkit.music.validate`. abc2midi (abcMIDI 4.84,
an independent ABC implementation) runs on it, and its verdict is read from what it prints:
it **rejects** a tune when it reports an ``Error`` or a bar whose length is not the
measure (``Track 0 Bar N has 7 time units while the time signature has 6``); its exit code
is 0 either way, so the messages are the verdict. The checker must agree, or differ in the
direction and for the reason the table gives:

=====================  ========  =============================================================
tune                   relation  why the checker differs
=====================  ========  =============================================================
no_title, empty_title  stricter  the checker requires T: (ABC 2.1 says a tune has one);
                                 abc2midi needs no title to play it
no_unit                stricter  the checker requires L: (the training tunes always have it,
                                 a generation without it is malformed); abc2midi takes
                                 the standard's default from the meter
x_not_first            stricter  ABC 2.1: X: starts a tune; abc2midi reads the fields anyway
key_then_fields        stricter  K: ends the header (ABC 2.1), so M: and L: after it are
                                 body fields and the header lacks them; abc2midi warns only
key_unknown_mode       stricter  abc2midi drops the word it does not know ("Majestic") and
                                 plays D major; the checker names the malformed field
unknown_character      stricter  abc2midi skips a character it does not know ("$") silently;
                                 a generated tune with stray symbols is not clean ABC
rests_only             stricter  abc2midi writes a silent MIDI file; a tune with no note is
                                 not a tune for the checker
one_long_bar,          looser    the checker's documented tolerance: up to 10% of the bars
short_bar_mid_section,           (at least 1) may break the meter, as the hand-written
long_pickup,                     training tunes do now and then; abc2midi flags each. The
tuplet_missing,                  number of irregular bars must still agree with abc2midi's
two_of_twenty_irregular          (``same_bars``)
repeat_never_closed    looser    the checker does not pair repeat signs; abc2midi reports
                                 "Missing :| at end of tune" and plays it anyway
=====================  ========  =============================================================

Every other tune: the two agree. Where both see bars (``same_bars``), the checker's count of
irregular bars must equal the number of bars abc2midi flags (its repeats counted once).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from rnnkit.music.validate import check_tune

HEADER = "X:1\nT:Probe\nM:6/8\nL:1/8\nK:D\n"
JIG = "A|dfa agf|(3efg e2 d>c|[DF]3 z3|d3-d2:|\n|:B|c2d e>fg|a3 a2:|\n"
REEL = "|:GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA:|\n"
BAR_WARNING = re.compile(r"Track \d+ Bar (\d+) has [\d/]+ time units while the time signature")


@dataclass(frozen=True)
class Tune:
    name: str
    text: str
    checker: tuple[str, ...]  # the checker's problem categories; () means valid
    relation: str = "agree"  # "agree", "stricter" (only the checker rejects), "looser"
    same_bars: bool = False  # the checker's irregular bars == abc2midi's flagged bars


def jig(old: str = "", new: str = "", header: str = HEADER) -> str:
    return header + JIG.replace(old, new) if old else header + JIG


def twenty_bars(irregular: int) -> str:
    """A 20-bar 4/4 tune with ``irregular`` overlong bars in mid-section."""
    bars = ["dedB dedB"] * 20
    for index in range(irregular):
        bars[3 + 4 * index] = "dedB dedBA"
    return "X:1\nT:Long\nM:4/4\nL:1/8\nK:G\n|:" + "|".join(bars) + ":|\n"


TUNES = [
    # header: each field present and well formed (rule 1)
    Tune("good_jig", jig(), ()),
    Tune("no_number", jig("", "", HEADER.replace("X:1\n", "")), ("header",)),
    Tune("no_title", jig("", "", HEADER.replace("T:Probe\n", "")), ("header",), "stricter"),
    Tune("empty_title", jig("", "", HEADER.replace("T:Probe", "T:")), ("header",), "stricter"),
    # abc2midi falls back to 4/4, so the 6/8 bars do not fit: both reject.
    Tune("no_meter", jig("", "", HEADER.replace("M:6/8\n", "")), ("header",)),
    Tune("no_unit", jig("", "", HEADER.replace("L:1/8\n", "")), ("header",), "stricter"),
    Tune("no_key", jig("", "", HEADER.replace("K:D\n", "")), ("header",)),
    Tune("x_not_first", jig("", "", "T:Probe\nX:1\nM:6/8\nL:1/8\nK:D\n"), ("header",),
         "stricter"),
    Tune("key_then_fields", jig("", "", "X:1\nT:Probe\nK:D\nM:6/8\nL:1/8\n"), ("header",),
         "stricter"),
    Tune("number_not_a_number", jig("", "", HEADER.replace("X:1", "X:one")), ("header",)),
    Tune("meter_malformed", jig("", "", HEADER.replace("M:6/8", "M:6-8")), ("header",)),
    Tune("unit_malformed", jig("", "", HEADER.replace("L:1/8", "L:eighth")), ("header",)),
    Tune("key_not_a_tonic", jig("", "", HEADER.replace("K:D", "K:H")), ("header",)),
    Tune("key_unknown_mode", jig("", "", HEADER.replace("K:D", "K:D Majestic")), ("header",),
         "stricter"),
    Tune("key_dorian", jig("", "", HEADER.replace("K:D", "K:Ador")), ()),
    Tune("key_none", jig("", "", HEADER.replace("K:D", "K:none")), ()),
    Tune("common_time", "X:1\nT:Reel\nM:C\nL:1/8\nK:G\n" + REEL, (), same_bars=True),
    Tune("cut_time", "X:1\nT:Reel\nM:C|\nL:1/8\nK:G\n" + REEL, (), same_bars=True),
    Tune("free_meter", "X:1\nT:Free\nM:none\nL:1/8\nK:G\nABcdefgab|A|\n", ()),
    # body: it parses and holds a note (rule 2)
    Tune("unknown_character", jig("c2d e>fg", "c2d e>f$g"), ("syntax",), "stricter"),
    Tune("chord_never_closed", jig("[DF]3", "[DF3"), ("syntax",)),
    # abc2midi reads "d/0" as some length and flags the bar; the checker refuses the length.
    Tune("length_divides_by_zero", jig("d>c", "d/0c"), ("syntax",)),
    Tune("rests_only", "X:1\nT:Silence\nM:4/4\nL:1/8\nK:C\nz8|z8|\n", ("empty",), "stricter"),
    Tune("unknown_decoration", jig("dfa", "!foo!dfa"), ()),  # abc2midi: a warning only
    # meter (rule 3): exact bar lengths, pickups, multi-bar rests, tolerance
    Tune("broken_rhythm", "X:1\nT:Hornpipe\nM:4/4\nL:1/8\nK:D\n|:A>B|c>de>f g>fe>d|c2A2 A2:|\n",
         (), same_bars=True),
    Tune("meter_changes_inline",
         "X:1\nT:Slip\nM:9/8\nL:1/8\nK:G\n|:dBG GAB dBG|[M:6/8]dBG GAB|[M:9/8]dBG GAB dBG:|\n",
         (), same_bars=True),
    Tune("multi_bar_rest", jig("A|dfa agf|", "A|Z4|dfa agf|"), (), same_bars=True),
    Tune("two_long_bars", jig("dfa agf", "dfa agfa").replace("c2d e>fg", "c2d e>fga"),
         ("meter",), same_bars=True),
    Tune("one_long_bar", jig("dfa agf", "dfa agfa"), (), "looser", same_bars=True),
    Tune("short_bar_mid_section", jig("(3efg e2 d>c", "e2 d>c"), (), "looser", same_bars=True),
    Tune("long_pickup", jig("A|dfa", "AAAAAAA|dfa"), (), "looser", same_bars=True),
    Tune("tuplet_missing", jig("(3efg", "efg"), (), "looser", same_bars=True),
    Tune("two_of_twenty_irregular", twenty_bars(2), (), "looser", same_bars=True),
    Tune("three_of_twenty_irregular", twenty_bars(3), ("meter",), same_bars=True),
    Tune("repeat_never_closed", jig("a3 a2:|", "a3 a2||"), (), "looser"),
]


@dataclass(frozen=True)
class Abc2midiVerdict:
    errors: tuple[str, ...]
    flagged_bars: frozenset[int]

    @property
    def accepts(self) -> bool:
        return not self.errors and not self.flagged_bars


def run_abc2midi(program: str, text: str, folder: Path) -> Abc2midiVerdict:
    source = folder / "tune.abc"
    source.write_text(text, encoding="utf-8")
    result = subprocess.run([program, str(source), "-o", str(folder / "tune.mid")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # abc2midi exits 0 on a bad tune too
    lines = (result.stdout + result.stderr).splitlines()
    errors = tuple(line for line in lines if line.startswith("Error"))
    bars = frozenset(int(match.group(1)) for line in lines
                     if (match := BAR_WARNING.search(line)) is not None)
    return Abc2midiVerdict(errors, bars)


def test_the_table_covers_every_rule_and_both_verdicts():
    assert len(TUNES) >= 20 and len({tune.name for tune in TUNES}) == len(TUNES)
    categories = {category for tune in TUNES for category in tune.checker}
    assert categories == {"header", "syntax", "empty", "meter"}
    assert {tune.relation for tune in TUNES} == {"agree", "stricter", "looser"}
    assert sum(not tune.checker for tune in TUNES) >= 10


@pytest.mark.parametrize("tune", TUNES, ids=[tune.name for tune in TUNES])
def test_checker_verdict_matches_abc2midi(tune: Tune, abc2midi: str, tmp_path: Path):
    check = check_tune(tune.text)
    reference = run_abc2midi(abc2midi, tune.text, tmp_path)
    assert check.categories == tune.checker, check.problems
    verdicts = (check.valid, reference.accepts)
    expected = {"agree": [(True, True), (False, False)], "stricter": [(False, True)],
                "looser": [(True, False)]}[tune.relation]
    assert verdicts in expected, (
        f"checker {'accepts' if check.valid else 'rejects'} ({check.problems}), abc2midi "
        f"{'accepts' if reference.accepts else 'rejects'} ({reference.errors}, bars "
        f"{sorted(reference.flagged_bars)}); the table says {tune.relation}")
    if tune.same_bars:
        assert check.irregular_bars == len(reference.flagged_bars), (
            f"checker: {check.irregular_bars} irregular bars, abc2midi flags bars "
            f"{sorted(reference.flagged_bars)}")
