"""Every relative link in the README and docs/ leads to a file of this repository, every
``page.md#anchor`` to a heading of that page, and the README stays a front page (issue 22:
under 150 lines)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    return [target.split("#")[0] for target in LINK.findall(page.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    missing = [target for target in relative_links(page)
               if not (page.parent / target).exists()]
    assert missing == []


def test_the_link_finder_sees_the_readmes_links() -> None:
    assert "docs/install.md" in relative_links(ROOT / "README.md")


def test_the_readme_is_a_front_page() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 150


HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercased, punctuation other than '-' and '_'
    dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@functools.cache  # a page is read once however many links point into it
def anchors_of(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # a '# comment' in code is no heading
    return {heading_anchor(heading) for heading in HEADING.findall(text)}


def anchored_links(page: Path) -> list[tuple[Path, str]]:
    links = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        links.append((page if not path else (page.parent / path).resolve(), anchor))
    return links


def test_heading_anchor_is_githubs() -> None:
    assert heading_anchor("Word level: Zaremba et al. small on the Penn Treebank") == \
        "word-level-zaremba-et-al-small-on-the-penn-treebank"
    assert heading_anchor("Reproducing the short figures: `make reproduce`") == \
        "reproducing-the-short-figures-make-reproduce"
    assert heading_anchor("Translation: Django's interface messages") == \
        "translation-djangos-interface-messages"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_anchor_names_a_heading_of_its_page(page: Path) -> None:
    broken = [f"{target.name}#{anchor}" for target, anchor in anchored_links(page)
              if target.suffix == ".md" and target.exists() and anchor not in anchors_of(target)]
    assert broken == []
