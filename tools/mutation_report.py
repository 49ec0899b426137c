"""Per-module kill rates from mutmut's own results (``make mutation``).

Reads the ``mutants/**/*.py.meta`` files mutmut 3 writes (its exit code per mutant) and
``tools/mutation_equivalent.txt`` (``mutant-name  reason``, one a line: survivors argued
equivalent, left out of the denominator) and ``mutants/rerun.json`` (survivors run again
against named tests by ``tools/mutation_rerun.py``), and prints one Markdown row per
module. A
module's scope is the mutant-name patterns given for it in the Makefile (``MUTATION_SCOPE``),
so ``layers/base.py`` counts only its dispatch functions.

    python tools/mutation_report.py 'label=glob[,glob...]' ...   [--survivors]
    python tools/mutation_report.py --pending glob ...   # names not yet killed, to rerun
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit-code meanings (mutmut/stats.py); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          -9: "segfault", -11: "segfault", None: "not checked"}


def results(root: Path = Path("mutants")) -> dict[str, str]:
    """Mutant name -> status, over every meta file mutmut wrote."""
    found: dict[str, str] = {}
    for meta in root.rglob("*.py.meta"):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        found.update({name: STATUS.get(code, "suspicious") for name, code in codes.items()})
    rerun = root / "rerun.json"
    if rerun.exists():
        for name, outcome in json.loads(rerun.read_text(encoding="utf-8")).items():
            if found.get(name) == "survived" and outcome["exit_code"] == 1:
                found[name] = "killed on rerun"
    return found


def equivalents(path: Path = Path("tools/mutation_equivalent.txt")) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pairs = (line.split(maxsplit=1) for line in lines if line.strip() and line[0] != "#")
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["--pending"]:
        status = results()
        print("\n".join(sorted(name for name, state in status.items()
                                if not state.startswith("killed")
                                and any(fnmatch.fnmatchcase(name, p) for p in arguments[1:]))))
        return 0
    show_survivors = "--survivors" in arguments
    scopes = [argument.split("=", 1) for argument in arguments if "=" in argument]
    status, equivalent = results(), equivalents()
    print("| module | mutants | killed | killed on rerun | survived | equivalent "
          "| timeout | no tests | kill rate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    survivors = []
    for label, patterns in scopes:
        names = [name for name in status
                 if any(fnmatch.fnmatchcase(name, p) for p in patterns.split(","))]
        counts = Counter("equivalent" if status[n] == "survived" and n in equivalent
                         else status[n] for n in names)
        survivors += sorted(n for n in names if status[n] in ("survived", "no tests",
                                                             "suspicious", "not checked")
                            and n not in equivalent)
        # A timeout is a detected mutant (the tests did not pass), as in mutmut's own score.
        detected = counts["killed"] + counts["killed on rerun"] + counts["timeout"]
        denominator = len(names) - counts["equivalent"]
        rate = f"{100 * detected / denominator:.1f}%" if denominator else "-"
        print(f"| {label} | {len(names)} | {counts['killed']} "
              f"| {counts['killed on rerun']} | {counts['survived']} "
              f"| {counts['equivalent']} | {counts['timeout']} | {counts['no tests']} "
              f"| {rate} |")
    if show_survivors:
        print("\nNot killed and not argued equivalent:" if survivors else "\nNo survivors.")
        for name in survivors:
            print(f"  {status[name]:<12} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
