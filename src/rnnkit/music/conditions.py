"""Key and meter classes: the conditioning vector of a conditional model of ABC tunes.

The conditional language model of the course: besides the previous character, the model is
fed, at every step, an embedding of the key and of the meter of the tune being written.
Training text gets them from each tune's ``K:`` and ``M:`` fields (every character its
tune's: :func:`rnnkit.tasks.music.corpus.condition_ids`); at generation time the user's
request sets them, and the model is asked to write a tune to match.

Keys and meters found in fewer than ``min_count`` training tunes, and unreadable ones, share
the class ``<other>`` (id 0), so the classes are the same whenever the same training text is
read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rnnkit.music.abc_tunes import normalize_key, normalize_meter, parse_header, split_tunes

OTHER = "<other>"
MIN_COUNT = 5


@dataclass(frozen=True)
class ConditionVocabulary:
    """The key and meter classes (``<other>`` first), e.g. ``("<other>", "D major", ...)``."""

    keys: tuple[str, ...]
    meters: tuple[str, ...]

    @classmethod
    def build(cls, training_text: str, min_count: int = MIN_COUNT) -> ConditionVocabulary:
        """Classes of the keys and meters of at least ``min_count`` training tunes."""
        pairs = [tune_key_and_meter(tune) for tune in split_tunes(training_text)]
        keys = Counter(key for key, _ in pairs if key != OTHER)
        meters = Counter(meter for _, meter in pairs if meter != OTHER)
        return cls(keys=(OTHER, *sorted(k for k, n in keys.items() if n >= min_count)),
                   meters=(OTHER, *sorted(m for m, n in meters.items() if n >= min_count)))

    @property
    def sizes(self) -> tuple[int, int]:
        """How many key classes and meter classes: the model's ``condition_sizes``."""
        return len(self.keys), len(self.meters)

    def ids(self, key: str, meter: str) -> tuple[int, int]:
        """Class ids of a normalized key and meter (``<other>`` for unknown ones)."""
        return (self.keys.index(key) if key in self.keys else 0,
                self.meters.index(meter) if meter in self.meters else 0)

    def request_ids(self, key: str | None, meter: str | None) -> tuple[int, int]:
        """Class ids for a generation request; ``ValueError`` for a class never trained."""
        if key is not None and key not in self.keys:
            raise ValueError(f"the model was not trained on key {key!r} (too few training "
                             f"tunes); its keys: {', '.join(self.keys[1:])}")
        if meter is not None and meter not in self.meters:
            raise ValueError(f"the model was not trained on meter {meter!r} (too few training "
                             f"tunes); its meters: {', '.join(self.meters[1:])}")
        return self.ids(key or OTHER, meter or OTHER)


def tune_key_and_meter(tune: str) -> tuple[str, str]:
    """Normalized key and meter of a tune's header; ``<other>`` for absent or malformed."""
    header = parse_header(tune)
    try:
        key = normalize_key(header.first("K") or "")
    except ValueError:
        key = OTHER
    meter = header.first("M")
    return key, normalize_meter(meter) if meter else OTHER
