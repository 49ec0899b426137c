"""Write a 1 MB excerpt of the Shakespeare data set, for measuring recipes on a text the
size most tutorials use (docs/results.md, "Recipes that adapt to the text").

The excerpt starts at the first line after character 2,000,000 of the cached complete works
(`rnnkit data fetch shakespeare`) and ends at the last line end within 1,000,000 characters:
plays from the middle of the volume. `rnnkit train --text-file` splits it 90/10 by position.

    .venv/bin/python benchmarks/shakespeare_excerpt.py --out runs/shakespeare_1mb.txt
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from rnnkit.atomic import atomic_write_text
from rnnkit.data.registry.cache import fetch

START, LENGTH = 2_000_000, 1_000_000


def excerpt(text: str, start: int = START, length: int = LENGTH) -> str:
    """``length`` characters or fewer of ``text`` from the first line at or after
    ``start``, cut after the last whole line."""
    begin = text.index("\n", start) + 1
    piece = text[begin:begin + length]
    return piece[:piece.rindex("\n") + 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    text = (fetch("shakespeare") / "text.txt").read_text(encoding="utf-8")
    piece = excerpt(text)
    atomic_write_text(args.out, piece)
    digest = hashlib.sha256(piece.encode("utf-8")).hexdigest()
    print(f"wrote {args.out}: {len(piece):,} characters, sha256 {digest}")


if __name__ == "__main__":
    main()
