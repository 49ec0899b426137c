"""Copy the playground's JavaScript from web/node_modules (after `npm ci`) into the package.

Run by `make web-vendor`. Each installed package is checked against web/package-lock.json
(the version it pins) before its files are copied, and src/rnnkit/export/web/vendor/
versions.json records the version and integrity hash of each, for the page to show.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
VENDOR = ROOT / "src" / "rnnkit" / "export" / "web" / "vendor"
# package -> (files the page loads, its licence file), under node_modules/<package>/.
FILES = {
    "onnxruntime-web": (["dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm"],
                        None),  # MIT; its npm package carries no licence file
    "abcjs": (["dist/abcjs-basic-min.js"], "LICENSE.md"),
}


def main() -> int:
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))
    VENDOR.mkdir(parents=True, exist_ok=True)
    packages = {}
    for name, (files, licence) in FILES.items():
        locked = lock["packages"][f"node_modules/{name}"]
        installed = WEB / "node_modules" / name
        manifest = json.loads((installed / "package.json").read_text(encoding="utf-8"))
        if manifest["version"] != locked["version"]:
            print(f"web/node_modules/{name} is {manifest['version']} but package-lock.json "
                  f"pins {locked['version']}: run `npm ci --prefix web`", file=sys.stderr)
            return 1
        for file in files:
            shutil.copyfile(installed / file, VENDOR / Path(file).name)
        if licence is not None:
            shutil.copyfile(installed / licence, VENDOR / f"{name}.LICENSE")
        packages[name] = {"version": locked["version"], "integrity": locked["integrity"],
                          "license": manifest.get("license"),
                          "files": [Path(file).name for file in files]}
    (VENDOR / "versions.json").write_text(json.dumps({"packages": packages}, indent=2) + "\n",
                                          encoding="utf-8")
    names = ", ".join(f"{name} {entry['version']}" for name, entry in packages.items())
    print(f"vendored {names} into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
