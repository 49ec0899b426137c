"""The browser's tune check (``abc_check.js``) gives Python's verdict, tune by tune.

The web page judges tunes with a JavaScript copy of :func:`rnnkit.music.validate.check_tune`.
One Node process runs it over the lab's 804 tunes, broken variants of them made here
(deterministically) and hand-written edge cases, and every field of each verdict must equal
Python's, problem texts included. Without Node the test fails: a skip would let the two copies
drift apart unseen.
"""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from rnnkit.music.abc_tunes import normalize_key, normalize_meter, split_tunes
from rnnkit.music.validate import check_tune

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "src" / "rnnkit" / "export" / "web" / "static" / "abc_check.js"
IRISH = ROOT / "tests" / "fixtures" / "irish.abc"
MUTATED = 40  # how many of the lab's tunes get broken variants
SEED = 20240611

# Reads {checks: [[tune, maxIrregular]], keys: [...], meters: [...]} on stdin, writes the
# module's answers as JSON; an exception becomes {error, message}, as Python's are recorded.
RUNNER = """
import { readFileSync } from "node:fs";
const { checkTune, normalizeKey, normalizeMeter } = await import(process.argv[1]);
const attempt = (call) => {
  try { return call(); } catch (error) { return { error: error.name, message: error.message }; }
};
const input = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({
  checks: input.checks.map(([tune, most]) => attempt(() => checkTune(tune, most))),
  keys: input.keys.map((value) => attempt(() => normalizeKey(value))),
  meters: input.meters.map((value) => attempt(() => normalizeMeter(value))),
}));
"""

GOOD = "X:1\nT:Edge\nM:4/4\nL:1/8\nK:D\n"
EDGE_TUNES = [
    "",
    "X:1",
    "X:1\nT:No key\nM:4/4\nL:1/8\nABcd efga|",
    "X:1\nT:Header only\nM:4/4\nL:1/8",
    "X:1\nT:Only a key\nK:G",
    "X:1\nT:Dorian\nM:6/8\nL:1/8\nK:Ador\nABc dcB|AGE EDE|",
    "X:1\nT:Mixolydian\nM:2/4\nL:1/16\nK:F#mix\nABcd efga|bagf edcB|",
    "X:1\nT:Flat\nM:3/4\nL:1/8\nK:Bb\nB2 d2 f2|",
    "X:1\nT:No key signature\nM:C\nL:1/8\nK:none\nCDEF GABc|",
    "X:1\nT:Bad key\nM:C\nL:1/8\nK:H\nCDEF GABc|",
    "X:1\nT:Key with clef\nM:C\nL:1/8\nK:D clef=treble\nCDEF GABc|",
    "X:1\nT:Explicit accidentals\nM:C\nL:1/8\nK:G ^f _b\nCDEF GABc|",
    "X:1\nT:Empty key\nM:C\nL:1/8\nK:\nCDEF GABc|",
    "X:one\nT:Word\nM:C\nL:1/8\nK:C\nCDEF GABc|",
    "X:\nT:Blank number\nM:C\nL:1/8\nK:C\nCDEF GABc|",
    "X:\u0661\u0662\nT:Arabic-Indic digits\nM:\u0663/\u0664\nL:1/8\nK:C\nCDE F2|",
    "X:\u00b2\nT:Superscript two\nM:C\nL:1/8\nK:C\nCDEF GABc|",
    "X:1\nT:\nM:C\nL:1/8\nK:C\nCDEF GABc|",
    "X:1\nT: \t \nM:C\nL:1/8\nK:C\nCDEF GABc|",
    "X:1\nT:Rests\nM:4/4\nL:1/8\nK:C\nz8|z8|",
    "X:1\nT:Multi-bar rest only\nM:4/4\nL:1/8\nK:C\nZ4|",
    "X:1\nT:Zero meter, rests\nM:0/4\nL:1/8\nK:C\nz2|c2|",
    "X:1\nT:Zero meter, notes\nM:0/4\nL:1/8\nK:C\nc2|c2|",
    "X:1\nT:Additive\nM:2+3/8\nL:1/8\nK:C\nCDEFG|ABcde|",
    "X:1\nT:Free\nM:NONE\nL:1/8\nK:C\nCDEFGABcdefg|",
    "X:1\nT:Bad unit\nM:C\nL:1/0\nK:C\nCDEF GABc|",
    "X:1\nT:Word unit\nM:C\nL:eighth\nK:C\nCDEF GABc|",
    "X:1\nT:Spaced unit\nM:C\nL: 1/16\u2003\nK:C\nCDEF GABc CDEF GABc|",
    "T:First\nX:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|",
    "%%abc\nX:1\n% a comment\nT:Comments\nM:4/4\nL:1/8\nK:C\n% body comment\nCDEF GABc|% end\n",
    "X:1\nT:Emoji\nM:4/4\nL:1/8\nK:C\nCDEF|\U0001f600GABc|",
    "X:1\nT:No-break space\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\xa0cdef|",
    "X:1\nT:Quotes\nM:4/4\nL:1/8\nK:C\nCDEF|\"Am\"G2 it#'",
    "X:1\nT:Apostrophe\nM:4/4\nL:1/8\nK:C\nCDEF GABc|G$'",
    "X:1\nT:Backslash\nM:4/4\nL:1/8\nK:C\nCDEF|\\ #",
    "X:1\nT:Tab\nM:4/4\nL:1/8\nK:C\nCDEF|\t#",
    "X:1\r\nT:CRLF\r\nM:4/4\r\nL:1/8\r\nK:C\r\nCDEF GABc|\r\ncdef gabc|\r\n",
    "X:1\rT:CR\rM:4/4\rL:1/8\rK:C\rCDEF GABc|\rcdef gab|",
    "X:1\nT:Odd breaks\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\x0ccdef gabc|\x1cCDEF|\x85GABc|\u2028cdef|",
    "X:1\nT:Broken rhythm\nM:4/4\nL:1/8\nK:C\nA>B A<B A>>B A<<<B|A>|B6|",
    "X:1\nT:Broken at bar start\nM:4/4\nL:1/8\nK:C\nCDEF GABc|>cdef gabc|",
    "X:1\nT:Negative bar\nM:4/4\nL:1/4\nK:C\nC|Z0<|D|",
    "X:1\nT:Tuplets\nM:4/4\nL:1/8\nK:C\n(3abc (3:2:2ab c (5abcde|(2ab (4abcd (3::2abc (6abcdef|",
    "X:1\nT:Compound tuplets\nM:9/8\nL:1/8\nK:C\n(4abcd (5abcde (7abcdefg|(2ab c3 d3|",
    "X:1\nT:Tuplet of one\nM:4/4\nL:1/8\nK:C\n(1a bcdefgh|",
    "X:1\nT:Chords\nM:4/4\nL:1/8\nK:C\n[CEG]2 [C2E]/ [c(e)g] [^c_e=g]3/2 [Ca]//|",
    "X:1\nT:Bad chord\nM:4/4\nL:1/8\nK:C\n[C#E]2 CDEF|",
    "X:1\nT:Empty chord\nM:4/4\nL:1/8\nK:C\n[]2 CDEF|",
    "X:1\nT:Endings\nM:4/4\nL:1/8\nK:C\n|:CDEF GABc|1 cdef gab:|2 cdef g2|]",
    "X:1\nT:Bracket endings\nM:4/4\nL:1/8\nK:C\nCDEF GABc|[1 cdef gab:|[2,3 cdef g2||[|CDEF GABc::",
    "X:1\nT:Inline fields\nM:4/4\nL:1/8\nK:C\nCDEF GABc|[L:1/16]CDEF GABc CDEF GABc|[M:none]CDE|"
    "[K:G]CDEF|",
    "X:1\nT:Bad inline meter\nM:4/4\nL:1/8\nK:C\nCDEF GABc|[M:7/0]CDEF|",
    "X:1\nT:Body fields\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\nM:3/4\nL:1/4\nCDE|\nw: some words\nCDE|",
    "X:1\nT:Bad body unit\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\nL:bad\nCDE|",
    "X:1\nT:Decorations\nM:4/4\nL:1/8\nK:C\n!trill!c +fermata+d !c ~e .f Hg Tab|{g}A {ag}B6|",
    "X:1\nT:Unclosed grace\nM:4/4\nL:1/8\nK:C\n{g A8|",
    "X:1\nT:Rests of all kinds\nM:4/4\nL:1/8\nK:C\nCDEF z4|x8|X|Z2|Z0 C8|",
    "X:1\nT:Lengths\nM:4/4\nL:1/8\nK:C\nc0 c/ c// c3/2 c/4 c//4 c2 c|c8|",
    "X:1\nT:Huge lengths\nM:4/4\nL:1/8\nK:C\nc////////////////////////////////////////////////4 c7|"
    "c99999999999999999999999|",
    "X:1\nT:Huge meter\nM:99999999999999999999/4\nL:1/8\nK:C\nCDEF|",
    "X:1\nT:Division by zero\nM:4/4\nL:1/8\nK:C\nCDEF c/0|",
    "X:1\nT:Blank lines\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\n\n\nGABc\n\n",
    "X:1\nT:Stray colon\nM:4/4\nL:1/8\nK:C\nCDEF GABc|:CDEF:GABc|",
    "X:1\nT:Old line breaks\nM:C|\nL:1/8\nK:D Major\n(3ABc|dAFA DFAd|!\ndAFA DFAd:|!",
]
EDGE_WITH_LIMIT = [
    ("X:1\nT:Negative bar\nM:4/4\nL:1/4\nK:C\nC|Z0<|D|", 0),
    ("X:1\nT:Long bars\nM:4/4\nL:1/8\nK:C\nCDEF GABcd|CDEF GABcd|CDEF GABcd|CDEF|", 2),
    ("X:1\nT:Long bars\nM:4/4\nL:1/8\nK:C\nCDEF GABcd|CDEF GABcd|CDEF GABcd|CDEF|", 3),
    # Python takes a meter as compound by its reduced numerator: 6/8 (3/4) is not.
    ("X:1\nT:Quintuplet in 6/8\nM:6/8\nL:1/8\nK:C\nc3 c3|(5abcde c2|c3 c3|c6|", 0),
    ("X:1\nT:Septuplet in 3/4\nM:3/4\nL:1/8\nK:C\nc6|(7abcdefg|c6|c6|", 0),
]
KEYS = ["D", "Dmaj", "D Major", "Em", "A Dorian", "Ador", "F#mix", "Bb", "Eb Lydian",
        "C#loc", "none", "NONE", "H", "c", "Dmajestic", "", "  G  ", "A  dorian  ",
        "D clef=treble", "G ^f _b", "G ^f x", "F#m \u00e9=1", "Gb min", "Bb\u2003"]
METERS = ["C", "C|", " C ", "6/8", "none", "7/0", "", "2+3/8", " 3/4\t"]


def _parts(tune: str) -> tuple[list[str], list[str]]:
    lines = tune.splitlines()
    key = next(index for index, line in enumerate(lines) if line.startswith("K:"))
    return lines[:key + 1], lines[key + 1:]


def _with_meter(tune: str, meter: str | None) -> str:
    lines = [line for line in tune.splitlines() if not line.startswith("M:")]
    return "\n".join(lines if meter is None else [lines[0], f"M:{meter}", *lines[1:]])


def _drop_key(tune: str) -> str:
    return "\n".join(line for line in tune.splitlines() if not line.startswith("K:"))


def _drop_char(tune: str, rng: random.Random) -> str:
    header, body = _parts(tune)
    text = "\n".join(body)
    index = rng.choice([i for i, char in enumerate(text) if char != "\n"])
    return "\n".join([*header, text[:index] + text[index + 1:]])


def _duplicate_bar(tune: str, rng: random.Random) -> str:
    header, body = _parts(tune)
    row = rng.randrange(len(body))
    bars = body[row].split("|")
    bar = rng.randrange(len(bars))
    bars.insert(bar, bars[bar])
    return "\n".join([*header, *body[:row], "|".join(bars), *body[row + 1:]])


def _insert(tune: str, rng: random.Random, text: str, at_bar_start: bool = False) -> str:
    """``text`` put into the body at a random place (just after a bar line if asked)."""
    header, body = _parts(tune)
    joined = "\n".join(body)
    places = [i + 1 for i, char in enumerate(joined) if char == "|"] if at_bar_start else []
    index = rng.choice(places or range(len(joined) + 1))
    return "\n".join([*header, joined[:index] + text + joined[index:]])


def _mutations(tune: str, rng: random.Random) -> list[str]:
    inserted = ["[", '"', "c/0", "(1", "[]", "Z4", "{g"]
    at_bar_start = [">", "[M:3/4]", "Z4|", "[L:1/16]", "|1"]
    fuzz = "abcgABCGzxZX0123/|:[]()<>{}\"!+^_=,'-~.%ML \t$"
    return [
        _drop_char(tune, rng), _drop_char(tune, rng), _duplicate_bar(tune, rng),
        _drop_key(tune),
        *(_with_meter(tune, meter) for meter in ("6/8", "C", "C|", "none", "7/0", "3/4", None)),
        *(_insert(tune, rng, text) for text in inserted),
        *(_insert(tune, rng, text, at_bar_start=True) for text in at_bar_start),
        *(_insert(tune, rng, "".join(rng.choices(fuzz, k=rng.randint(1, 3))))
          for _ in range(6)),
    ]


def _cases() -> list[tuple[str, int | None]]:
    tunes = split_tunes(IRISH.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    mutated = [variant for tune in tunes[:MUTATED] for variant in _mutations(tune, rng)]
    limited = [(tune, limit) for tune in tunes[:60] + mutated[:100] for limit in (0, 2)]
    return [*((tune, None) for tune in tunes + mutated + EDGE_TUNES), *limited,
            *EDGE_WITH_LIMIT]


def _python_check(tune: str, max_irregular: int | None) -> dict:
    try:
        check = check_tune(tune, max_irregular)
    except Exception as error:  # a crash in Python must be a crash in JS too
        return {"error": type(error).__name__}
    return {"valid": check.valid, "problems": list(check.problems), "title": check.title,
            "key": check.key, "meter": check.meter, "bars": check.bars,
            "irregularBars": check.irregular_bars, "finalNote": check.final_note,
            "categories": list(check.categories)}


def _python_call(function, value: str) -> object:
    try:
        return function(value)
    except ValueError as error:
        return {"error": "ValueError", "message": str(error)}


def _run_node(cases: list[tuple[str, int | None]]) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JS tune check cannot be compared with Python's "
                    "(install Node.js 20 or later, e.g. apt-get install nodejs)")
    payload = json.dumps({"checks": cases, "keys": KEYS, "meters": METERS})
    result = subprocess.run([node, "--input-type=module", "-e", RUNNER, MODULE.as_uri()],
                            input=payload, capture_output=True, text=True, encoding="utf-8",
                            timeout=300, check=False)
    assert result.returncode == 0, f"node failed:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def verdicts() -> tuple[list[tuple[str, int | None]], dict]:
    """The cases, and the JS module's answers to them from one Node process."""
    cases = _cases()
    return cases, _run_node(cases)


def _report(index: int, tune: str, limit: int | None, python: dict, js: dict) -> str:
    fields = sorted(key for key in python.keys() | js.keys() if python.get(key) != js.get(key))
    return (f"case {index} (max_irregular={limit}), fields {fields} differ\n"
            f"tune: {tune!r}\npython: {python}\njs:     {js}")


def test_js_check_tune_gives_pythons_verdict_on_every_tune(verdicts) -> None:
    cases, answers = verdicts
    assert len(answers["checks"]) == len(cases)
    pythons, mismatches = [], []
    for index, ((tune, limit), js) in enumerate(zip(cases, answers["checks"], strict=True)):
        python = _python_check(tune, limit)
        pythons.append(python)
        if "error" in js:  # Python's message for a crash is its own, not part of the rules
            js = {"error": js["error"]}
        if python != js:
            mismatches.append(_report(index, tune, limit, python, js))
    assert not mismatches, (f"{len(mismatches)} of {len(cases)} verdicts differ; the first:\n"
                            + "\n\n".join(mismatches[:5]))
    valid = sum(1 for python in pythons if python.get("valid"))
    categories = {kind for python in pythons for kind in python.get("categories", ())}
    assert len(cases) > 1500 and valid > 700 and len(cases) - valid > 500, (len(cases), valid)
    assert categories == {"header", "syntax", "empty", "meter"}
    assert any("error" in python for python in pythons)  # M:0/4 over a bar of rests


def test_js_normalize_key_and_meter_match_python(verdicts) -> None:
    _, answers = verdicts
    assert answers["keys"] == [_python_call(normalize_key, value) for value in KEYS]
    assert answers["meters"] == [_python_call(normalize_meter, value) for value in METERS]
