"""Key and meter classes for a conditional model of ABC tunes."""

import pytest

from rnnkit.music.abc_tunes import join_tunes
from rnnkit.music.conditions import OTHER, ConditionVocabulary

JIG = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|"
REEL = "X:2\nT:Reel\nM:C|\nL:1/8\nK:Gmaj\nB|GABc dBGB|G4 G2:|"
ODD = "X:3\nT:Odd\nM:7/8\nL:1/8\nK:F# Locrian\nABc defg|"


def test_classes_keep_the_common_keys_and_meters() -> None:
    text = join_tunes([JIG] * 5 + [REEL] * 5 + [ODD] * 4)
    vocabulary = ConditionVocabulary.build(text, min_count=5)
    assert vocabulary.keys == (OTHER, "D major", "G major")
    assert vocabulary.meters == (OTHER, "2/2", "6/8")
    assert vocabulary.sizes == (3, 3)
    assert vocabulary.ids("F# locrian", "7/8") == (0, 0)


def test_requests_for_untrained_classes_are_named() -> None:
    vocabulary = ConditionVocabulary.build(join_tunes([JIG] * 5), min_count=5)
    assert vocabulary.request_ids("D major", None) == (1, 0)
    with pytest.raises(ValueError, match=r"not trained on key 'G major'.*D major"):
        vocabulary.request_ids("G major", "6/8")
    with pytest.raises(ValueError, match="not trained on meter '3/4'"):
        vocabulary.request_ids(None, "3/4")
