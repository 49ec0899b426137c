"""The cache: :func:`fetch` downloads, checks and writes a data set once;
:func:`load_splits` reads it back, checking every file again."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rnnkit.atomic import atomic_write_bytes, atomic_write_json
from rnnkit.data.registry.specs import DatasetSpec, get_spec
from rnnkit.data.registry.transport import ChecksumError, sha256_hex

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """``$RNNKIT_DATA`` if set, else ``platformdirs.user_cache_dir("rnnkit") / "data"``."""
    if os.environ.get("RNNKIT_DATA"):
        return Path(os.environ["RNNKIT_DATA"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("rnnkit")) / "data"


def cache_dir(name: str) -> Path:
    """The cache folder of data set ``name`` (which need not exist yet)."""
    return cache_root() / get_spec(name).name


def _is_cached(folder: Path, spec: DatasetSpec) -> bool:
    return (folder / MANIFEST).is_file() and all((folder / file.filename).is_file()
                                                 for file in spec.files)


def fetch(name: str, force: bool = False) -> Path:
    """Download data set ``name`` once, verify it, cache its texts, and return the cache folder.

    A complete cache (manifest present) is verified and reused unless ``force``; ``force``
    downloads and rebuilds it. Raises :class:`ValueError` for an unknown name,
    :class:`DownloadError` when offline, :class:`ChecksumError` when a download or cached file
    does not hash as recorded, :class:`FileNotFoundError` when a member is missing.
    """
    spec = get_spec(name)
    folder = cache_root() / spec.name
    if not force and _is_cached(folder, spec):
        _verified_texts(spec, folder)
        return folder
    members = spec.source.download()
    texts = spec.extract(members)
    if set(texts) != {file.split for file in spec.files}:
        raise ValueError(f"data set {spec.name}: extractor gave {sorted(texts)}, the registry "
                         f"expects {[file.split for file in spec.files]}")
    manifest_files = {}
    encoded = {}
    for file in spec.files:
        data = texts[file.split].encode("utf-8")
        actual = sha256_hex(data)
        if file.sha256 and actual != file.sha256:
            raise ChecksumError(
                f"data set {spec.name}: the {file.split} text made from "
                f"{spec.source.describe()} has sha256 {actual} ({len(data)} bytes), but the "
                f"registry expects {file.sha256} ({file.size} bytes)")
        encoded[file.filename] = data
        manifest_files[file.split] = {"file": file.filename, "sha256": actual,
                                      "size": len(data)}
    (folder / MANIFEST).unlink(missing_ok=True)  # an interrupted rebuild reads as not cached
    for filename, data in encoded.items():
        atomic_write_bytes(folder / filename, data)
    atomic_write_json(folder / MANIFEST, {"name": spec.name,
                                          "source": spec.source.describe(),
                                          "licence": spec.licence,
                                          "files": manifest_files})
    return folder


def _verified_texts(spec: DatasetSpec, folder: Path) -> dict[str, str]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ChecksumError(f"{folder / MANIFEST} is unreadable ({error}); run `rnnkit data "
                            f"fetch {spec.name} --force`") from error
    texts = {}
    for file in spec.files:
        path = folder / file.filename
        expected = file.sha256 or recorded.get(file.split, {}).get("sha256")
        data = path.read_bytes()
        actual = sha256_hex(data)
        if actual != expected:
            raise ChecksumError(f"cached file {path} has sha256 {actual}, expected {expected}; "
                                f"it is corrupted or was changed: run `rnnkit data fetch "
                                f"{spec.name} --force`")
        texts[file.split] = data.decode("utf-8")
    return texts


def load_splits(name: str) -> dict[str, str]:
    """Texts of data set ``name`` by split, fetching it first if it is not cached yet.

    Returns ``{"train", "valid", "test"}`` for a data set with its own splits, else
    ``{"text": whole_text}`` (the caller splits it). The cached files' sha256 is checked on
    every call; a mismatch raises :class:`ChecksumError`.
    """
    spec = get_spec(name)
    folder = cache_root() / spec.name
    if not _is_cached(folder, spec):
        fetch(name)
    return _verified_texts(spec, folder)
