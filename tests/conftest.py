"""Shared test settings: one thread per worker (pytest-xdist runs two), float64 where asked;
a small text file for training runs; and the CI policy, so that a run cannot pass by skipping.

Under CI (the ``CI`` environment variable set, as CI services and ``.ci/run`` do):

* the session stops before any test when a C++ compiler exists but rnnkit's C++ kernels do
  not run (their build failed, or ``RNNKIT_NATIVE=0``): without them most kernel tests skip;
* a skipped test fails the run unless its reason is on ``ALLOWED_SKIPS`` (no GPU); the
  offenders are listed one a line at the end.

``RNNKIT_TEST_INSTALLED=1`` (``make test``) makes the session stop unless ``rnnkit`` is
imported from an installed wheel rather than from ``src/``.
"""

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.engine.native import ci_is_set, ci_native_failure

torch.set_num_threads(1)

# Skip reasons a CI run accepts: hardware this machine lacks. Anything else (a missing
# compiler, tool or package, a feature turned off) fails the run: fix the cause or the test.
ALLOWED_SKIPS = (
    re.compile(r"\b(cuda|gpus?)\b.*\b(not available|unavailable|absent|missing)\b", re.I),
    re.compile(r"\b(needs|requires|without|no)\b.*\b(cuda|gpus?)\b", re.I),
)
_skipped: list[tuple[str, str]] = []  # (test id, reason), on the controlling process


def skip_allowed(reason: str) -> bool:
    """Whether a CI run may skip a test for ``reason``."""
    return any(pattern.search(reason) for pattern in ALLOWED_SKIPS)


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker, not the controller


def pytest_sessionstart(session):
    """Stop at once, with one line, where the run would test the wrong thing."""
    if os.environ.get("RNNKIT_TEST_INSTALLED") == "1":
        source = Path(__file__).resolve().parents[1] / "src"
        location = Path(rnnkit.__file__).resolve()
        if location.is_relative_to(source):
            pytest.exit(f"RNNKIT_TEST_INSTALLED=1 but rnnkit was imported from {location}, "
                        "not from the installed wheel", returncode=3)
    if not _is_worker(session.config):
        failure = ci_native_failure()  # builds the kernels once, before the workers start
        if failure is not None:
            pytest.exit(failure, returncode=3)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report):
    if report.skipped:  # a whole module skipped (pytest.skip(allow_module_level=True), ...)
        _skipped.append((report.nodeid, _skip_reason(report)))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # pytest-xdist passes test reports to the controller but not skipped collection
    # reports: each worker sends its list back when it ends (see pytest_sessionfinish).
    _skipped.extend(tuple(entry) for entry in getattr(node, "workeroutput", {}).get(
        "rnnkit_skips", []))


def _offenders() -> list[tuple[str, str]]:
    return sorted({(test, reason) for test, reason in _skipped if not skip_allowed(reason)})


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config):
        session.config.workeroutput["rnnkit_skips"] = [
            entry for entry in _skipped if "::" not in entry[0]]  # the collection-level ones
    if ci_is_set() and not _is_worker(session.config) and _offenders() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    offenders = _offenders()
    if ci_is_set() and offenders:
        terminalreporter.section("skips not allowed under CI", sep="=", red=True, bold=True)
        for test, reason in offenders:
            terminalreporter.line(f"SKIP NOT ALLOWED {test}: {reason}", red=True)
        terminalreporter.line(f"{len(offenders)} test(s) skipped for a reason not on "
                              "tests/conftest.py's ALLOWED_SKIPS: the run fails", red=True)


def pytest_configure(config):
    # torch's own fused LSTM says this on CPU whenever proj_size > 0 (torch.nn.LSTM too).
    config.addinivalue_line(
        "filterwarnings", "ignore:LSTM with projections is not supported with oneDNN:UserWarning"
    )


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """1,500 words drawn (seed 0) from eight, a 17-character vocabulary: small enough for a
    training run of a few steps, varied enough that a model learns something."""
    rng = random.Random(0)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran "]
    path = tmp_path / "tiny.txt"
    path.write_text("".join(rng.choice(words) for _ in range(1500)), encoding="utf-8")
    return path


@pytest.fixture
def two_threads() -> Iterator[None]:
    """torch at two intra-op threads for the test (one everywhere else), restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
