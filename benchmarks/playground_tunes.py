"""Tunes asked for a key and meter in the playground, in a headless browser.

Writes the playground of each tune checkpoint given, opens it in Debian's chromium (the page
tests' harness: tests/export/page_harness.py), asks it ``--tunes`` times (seeds 1..N) for
``--key`` in ``--meter`` at the page's defaults, and counts the tunes the page calls valid,
the ones :func:`rnnkit.music.validate.check_tune` calls valid (the two must agree), and the
ones in the key and meter asked for.

    python benchmarks/playground_tunes.py runs/irish_folk_small \\
        runs/irish_folk_small_conditioned --key "D major" --meter 6/8 --tunes 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "export"))
from page_harness import chromium, watched_page

from rnnkit.cli.dispatch import training_text
from rnnkit.export.web import write_playground
from rnnkit.music.validate import check_tune


def ask(page, key: str, meter: str, seed: int) -> tuple[str, bool]:
    """One tune from the page: its ABC text and the page's verdict."""
    page.select_option("#key", label=key)
    page.select_option("#meter", label=meter)
    page.fill("#music-seed", str(seed))
    page.evaluate("document.getElementById('verdict').removeAttribute('data-valid')")
    page.click("#compose")
    page.wait_for_function("document.body.dataset.state === 'ready' && "
                           "document.getElementById('verdict').dataset.valid !== undefined",
                           timeout=600_000)
    return page.text_content("#abc"), page.get_attribute("#verdict", "data-valid") == "true"


def count(browser, checkpoint: Path, args: argparse.Namespace, scratch: Path) -> list[object]:
    web = write_playground(checkpoint, scratch / checkpoint.name,
                           training_text=training_text).folder
    valid = asked = 0
    with watched_page(browser, web, f"tunes-{checkpoint.name}") as page:
        for seed in range(1, args.tunes + 1):
            tune, page_valid = ask(page, args.key, args.meter, seed)
            check = check_tune(tune)
            if page_valid != check.valid:
                raise SystemExit(f"seed {seed}: the page says valid={page_valid}, "
                                 f"check_tune says {check.valid}:\n{tune}")
            valid += check.valid
            asked += (check.key, check.meter) == (args.key, args.meter)
    return [checkpoint.name, f"{valid} of {args.tunes}", f"{asked} of {args.tunes}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--key", default="D major")
    parser.add_argument("--meter", default="6/8")
    parser.add_argument("--tunes", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, chromium() as browser:
        rows = [count(browser, checkpoint, args, Path(scratch))
                for checkpoint in args.checkpoints]
    print(f"# asked for {args.key}, {args.meter}; seeds 1-{args.tunes}; page defaults")
    print(f"| model | valid | in {args.key}, {args.meter} |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
