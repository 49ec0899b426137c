"""How fast the playground writes in a headless browser, beside rnnkit sample in PyTorch.

Writes the playground of a checkpoint (``rnnkit web``), opens it in Debian's chromium
(through Playwright, as the page tests do: tests/export/page_harness.py, whose watch also
fails the run on a console error or a request beyond 127.0.0.1), and has it write
``--length`` characters ``--repeats`` times; the page measures its own rate (from the first
drawn character to the last, the DOM updates included). The same model then samples the
same length with :func:`rnnkit.generate.sample_text` on ``--threads`` CPU threads (one
browser tab runs on one). With ``--screenshots DIR`` the page is also photographed for
docs/playground.md: a unit colouring the text, the distribution view and, with
``--music-checkpoint``, a tune.

    python benchmarks/playground_speed.py --checkpoint runs/shakespeare_char \\
        --music-checkpoint runs/irish_folk_small --screenshots docs/figures/playground
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import machine_line, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "export"))
from page_harness import chromium, watched_page

from rnnkit.export.web import write_playground
from rnnkit.generate import sample_text
from rnnkit.inference import load_language_model

PRIME = "ROMEO:\n"


def browser_rates(browser, folder: Path, length: int, repeats: int, temperature: float,
                  screenshots: Path | None) -> list[float]:
    rates = []
    with watched_page(browser, folder, "benchmark-text") as page:
        for repeat in range(repeats + 1):  # the first run warms the runtime up
            page.fill("#prime", PRIME)
            page.fill("#temperature", str(temperature))
            page.fill("#length", str(length))
            page.fill("#seed", str(repeat + 1))
            page.click("#generate")
            page.wait_for_function("document.body.dataset.state === 'ready' && "
                                   f"document.getElementById('status').dataset.generated === "
                                   f"'{length}'", timeout=600_000)
            rate = float(page.get_attribute("#status", "data-rate"))
            page.evaluate("document.getElementById('status').removeAttribute('data-generated')")
            if repeat > 0:
                rates.append(rate)
            print(f"browser run {repeat}: {rate:,.0f} characters/s"
                  f"{' (warm-up)' if repeat == 0 else ''}", flush=True)
        if screenshots is not None:
            photograph_text(page, screenshots)
    return rates


def photograph_text(page, folder: Path) -> None:
    """The page after a unit search (the text coloured by the unit) and after a click on a
    character (the distribution view)."""
    folder.mkdir(parents=True, exist_ok=True)
    page.fill("#length", "700")
    page.fill("#temperature", "0.8")
    page.fill("#seed", "3")
    page.click("#generate")
    page.wait_for_function("document.body.dataset.state === 'ready' && "
                           "document.getElementById('status').dataset.generated === '700'")
    page.select_option("#feature", "line")
    page.click("#find-unit")
    letter = page.evaluate("[...document.querySelectorAll('#text-output span')].findIndex("
                           "(span, index) => index >= 40 && /[a-z]/.test(span.textContent))")
    page.locator(f"#text-output span[data-index='{letter}']").click()
    page.screenshot(path=str(folder / "text-unit.png"), full_page=True)
    page.locator(".panels").screenshot(path=str(folder / "distribution.png"))


def photograph_tune(browser, checkpoint: Path, folder: Path, scratch: Path) -> None:
    from rnnkit.cli.dispatch import training_text

    web = write_playground(checkpoint, scratch / "music", training_text=training_text).folder
    with watched_page(browser, web, "benchmark-music") as page:
        page.click("#compose")
        page.wait_for_function("document.getElementById('verdict').dataset.valid !== "
                               "undefined && document.body.dataset.state === 'ready'",
                               timeout=600_000)
        page.screenshot(path=str(folder / "tune.png"), full_page=True)


def torch_rates(checkpoint: Path, length: int, repeats: int, temperature: float) -> list[float]:
    loaded = load_language_model(checkpoint, device="cpu")
    rates = []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        sample_text(loaded.model, loaded.vocab, PRIME, length, temperature=temperature,
                    seed=repeat + 1)
        if repeat > 0:
            rates.append(length / (time.perf_counter() - start))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/shakespeare_char"))
    parser.add_argument("--music-checkpoint", type=Path)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=1, help="torch's, for rnnkit sample")
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        web = write_playground(args.checkpoint, Path(scratch) / "text").folder
        with chromium() as browser:
            print(f"# {browser.browser_type.name} {browser.version}, headless")
            page_rates = browser_rates(browser, web, args.length, args.repeats,
                                       args.temperature, args.screenshots)
            if args.screenshots is not None and args.music_checkpoint is not None:
                photograph_tune(browser, args.music_checkpoint, args.screenshots,
                                Path(scratch))
    eager_rates = torch_rates(args.checkpoint, args.length, args.repeats, args.temperature)
    page, eager = statistics.median(page_rates), statistics.median(eager_rates)
    print(f"# {args.checkpoint}: {args.length} characters at temperature {args.temperature}, "
          f"median of {args.repeats} runs after one warm-up")
    print_table(["path", "characters/s", "vs rnnkit sample"], [
        ["playground (onnxruntime-web, 1 thread)", f"{page:,.0f}", f"{page / eager:.2f}x"],
        [f"rnnkit sample (torch, {args.threads} thread(s))", f"{eager:,.0f}", "1.00x"],
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
