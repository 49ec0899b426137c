"""Run surviving mutants again, each against the tests named for it.

Two uses. mutmut 3 picks the tests for a mutant by recording, in one instrumented run,
which tests call which function; a function that runs only inside a child process (the
ranks of a ``torchrun`` job, a CLI process a test interrupts) is never recorded, so its
mutants pass as survivors without their tests ever running. And after tests are added
for survivors, rerunning each survivor against its new tests takes seconds where
mutmut's rerun takes every test that calls the function.

Each mutant runs as pytest in ``mutants/`` with ``MUTANT_UNDER_TEST`` set, which child
processes inherit with the mutated sources on their ``PYTHONPATH``
(tests/training/processes.py). A failing test kills it; results go to
``mutants/rerun.json``, which ``tools/mutation_report.py`` reads.

usage: python tools/mutation_rerun.py 'glob[,glob...]=test[,test...]' ...
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from mutation_report import equivalents, results

RESULTS = Path("mutants/rerun.json")


def run_mutant(name: str, tests: list[str]) -> int:
    """pytest's exit code with ``name`` active in this process and its children."""
    source = str(Path("mutants/src").resolve())
    environment = {**os.environ, "MUTANT_UNDER_TEST": name, "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "no:xdist", *tests]
    return subprocess.run(command, cwd="mutants", env=environment, capture_output=True,
                          timeout=900).returncode


def main(arguments: list[str]) -> int:
    status, equivalent = results(), equivalents()
    done = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    if not arguments or any("=" not in argument for argument in arguments):
        print(__doc__.rstrip().rsplit("\n", 1)[-1].strip(), file=sys.stderr)
        return 2
    for argument in arguments:
        patterns, tests = (part.split(",") for part in argument.split("=", 1))
        names = sorted(name for name, state in status.items()
                       if state == "survived" and name not in equivalent and name not in done
                       and any(fnmatch.fnmatchcase(name, p) for p in patterns))
        for index, name in enumerate(names, start=1):
            start = time.monotonic()
            code = run_mutant(name, tests)
            done[name] = {"exit_code": code, "tests": tests}
            RESULTS.write_text(json.dumps(done, indent=1) + "\n", encoding="utf-8")
            verdict = "killed" if code == 1 else "survived" if code == 0 else f"exit {code}"
            print(f"[{index}/{len(names)}] {verdict:<8} {name} "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
