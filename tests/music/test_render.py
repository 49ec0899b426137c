"""The summary of a batch of generated tunes: counts, reasons, and respect of a request."""

from rnnkit.music.render import failure_reasons, respect, summarize
from rnnkit.music.tunes import GeneratedTune, TuneRequest
from rnnkit.music.validate import check_tune

JIG = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|efg e2c|d3 d2:|"


def tune(index: int, text: str, finished: bool = True) -> GeneratedTune:
    return GeneratedTune(index, text, finished, check_tune(text))


def made_tunes() -> list[GeneratedTune]:
    return [tune(0, JIG),                                              # valid, D major 6/8
            tune(1, JIG.replace("d3 d2", "d3 d2 e")),                   # ... bar too long: 1 ok
            tune(2, JIG.replace("K:D Major", "K:G").replace("d3 d2:", "g3 g2:")),
            tune(3, JIG.replace("M:6/8\n", "")),                        # header lacks M
            tune(4, JIG + "|fed$", finished=False)]                     # unfinished + syntax


def test_counts_and_failure_reasons() -> None:
    tunes = made_tunes()
    summary = summarize(tunes, [{} for _ in tunes], settings={}, request=TuneRequest())
    assert (summary["generated"], summary["valid"], summary["valid_rate"]) == (5, 3, 0.6)
    assert summary["failures"] == {"header": 1, "unfinished": 1, "syntax": 1}
    assert summary["keys"] == {"D major": 4, "G major": 1}
    assert "respect" not in summary
    assert failure_reasons([]) == {}


def test_respect_of_a_key_and_meter_request() -> None:
    report = respect(made_tunes(), TuneRequest(key="D", meter="6/8"))
    # Header says D major 6/8: tunes 0, 1, 4 (tune 3 has no meter, tune 2 is in G).
    assert report["header"] == 3 / 5
    assert report["respected"] == 2 / 5                 # valid as well: tunes 0 and 1
    assert report["ends_on_tonic"] == 2 / 5             # tunes 0 and 3 end on d
    assert report["request"] == {"key": "D major", "meter": "6/8"}
