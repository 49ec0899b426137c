"""The JavaScript the playground runs on, vendored from npm at build time.

``make web-vendor`` installs the packages ``web/package-lock.json`` pins (versions and
integrity hashes, ``npm ci``) and copies the files the page loads into this package's
``vendor/`` folder with ``versions.json`` (tools/vendor_web.py); the wheel carries them.
The page loads them from its own folder: nothing is fetched when it runs.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

VERSIONS = "versions.json"
# What the page loads: onnxruntime-web's WebAssembly build (the module bundle and its
# SIMD binary) and abcjs (sheet music and the synthesizer).
FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "abcjs-basic-min.js")


class NotVendoredError(RuntimeError):
    """The vendored JavaScript is missing from this installation."""


def vendor_folder() -> Path:
    """The installed ``vendor/`` folder, checked to hold every file the page loads."""
    folder = Path(str(resources.files("rnnkit.export.web") / "vendor"))
    missing = [name for name in (*FILES, VERSIONS) if not (folder / name).is_file()]
    if missing:
        raise NotVendoredError(
            f"the playground's JavaScript is not vendored in {folder} (missing: "
            f"{', '.join(missing)}); in a checkout of rnnkit run `make web-vendor` (npm ci "
            f"of web/package-lock.json), then reinstall")
    return folder


def vendored_versions() -> dict[str, str]:
    """Package name -> the version vendored, as ``versions.json`` records it."""
    document = json.loads((vendor_folder() / VERSIONS).read_text(encoding="utf-8"))
    return {name: entry["version"] for name, entry in document["packages"].items()}


def copy_vendored(destination: Path) -> None:
    """Copy the vendored files (and their versions and licences) into ``destination``."""
    source = vendor_folder()
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file():
            (destination / path.name).write_bytes(path.read_bytes())
