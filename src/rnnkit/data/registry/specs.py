"""What a registered data set is (:class:`DatasetSpec`), and the register of them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rnnkit.data.registry.members import SPLITS, WHOLE, Extractor
from rnnkit.data.registry.sources import Source


@dataclass(frozen=True)
class CachedFile:
    """One text a data set makes: its split (``train``/``valid``/``test`` or ``text``), the
    sha256 and size in bytes of its UTF-8 encoding (``None``: recorded at the first fetch)."""

    split: str
    sha256: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        """The file's name in the cache folder."""
        return f"{self.split}.txt"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: where it comes from, how to read it, what it must hash to."""

    name: str
    description: str
    licence: str
    source: Source
    extract: Extractor
    files: tuple[CachedFile, ...]
    notes: str = ""

    def __post_init__(self) -> None:
        splits = tuple(file.split for file in self.files)
        if splits not in (SPLITS, (WHOLE,)):
            raise ValueError(f"data set {self.name}: files must be {SPLITS} or {(WHOLE,)}, "
                             f"not {splits}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.name):
            raise ValueError(f"data set name {self.name!r}: use lowercase letters, digits, "
                             "'_', '-', '.'")

    @property
    def has_splits(self) -> bool:
        """Whether the data set comes with its own train/valid/test splits."""
        return self.files[0].split != WHOLE


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry (``replace=True`` to overwrite one of the same name)."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a data set named {spec.name} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[DatasetSpec]:
    """All registered data sets, sorted by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_spec(name: str) -> DatasetSpec:
    """The registered data set ``name``; :class:`ValueError` listing the known names if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"unknown data set {name!r}; registered data sets: {known} "
                         "(see `rnnkit data list`)") from None
