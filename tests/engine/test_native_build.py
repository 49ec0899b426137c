"""How the C++ kernels are named, built and required: the extension's cache name follows its
sources (a stale build must never load after a kernel edit), and under CI a failed build or
a skip for a reason not allowed fails the run instead of passing on the fallback."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.engine.native import CSRC, SOURCE_NAMES, _extension_name, ci_is_set

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def csrc_copy(tmp_path: Path) -> Path:
    """The kernel sources and headers copied elsewhere: edited there, never in the package."""
    return Path(shutil.copytree(CSRC, tmp_path / "csrc"))


def test_the_name_stays_put_for_the_same_sources_anywhere(csrc_copy: Path) -> None:
    assert _extension_name(csrc_copy) == _extension_name(CSRC) == _extension_name()


@pytest.mark.parametrize("name", [*SOURCE_NAMES, "a header"])
def test_the_name_changes_when_a_source_or_header_changes(csrc_copy: Path, name: str) -> None:
    before = _extension_name(csrc_copy)
    path = next(iter(sorted(csrc_copy.glob("*.h")))) if name == "a header" else csrc_copy / name
    original = path.read_bytes()
    path.write_bytes(original + b"\n// one more line\n")
    assert _extension_name(csrc_copy) != before
    path.write_bytes(original)
    assert _extension_name(csrc_copy) == before


def test_a_new_header_changes_the_name(csrc_copy: Path) -> None:
    before = _extension_name(csrc_copy)
    (csrc_copy / "extra.h").write_text("#pragma once\n")
    assert _extension_name(csrc_copy) != before


def _python(code: str, **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "RNNKIT_NATIVE")}
    return subprocess.run([sys.executable, "-c", code], env={**env, **environment},
                          capture_output=True, text=True, timeout=300, check=True)


def test_under_ci_turning_the_kernels_off_is_a_failure_where_a_compiler_exists() -> None:
    code = "from rnnkit.engine.native import ci_native_failure; print(ci_native_failure())"
    under_ci = _python(code, CI="true", RNNKIT_NATIVE="0").stdout.strip()
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        assert under_ci == "None"  # no compiler: the torch-operator fallback is the design
    else:
        assert "RNNKIT_NATIVE=0" in under_ci and under_ci.startswith("CI is set")
    assert _python(code, RNNKIT_NATIVE="0").stdout.strip() == "None"  # not under CI


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("yes", True),
                                                 ("", False), ("0", False), ("False", False)])
def test_which_values_of_ci_mean_ci(monkeypatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert ci_is_set() is expected


def _pytest_run(tmp_path: Path, body: str, **environment: str) -> subprocess.CompletedProcess:
    """A pytest run of one small test file under this suite's conftest, as a plugin."""
    test_file = tmp_path / "test_policy_example.py"
    test_file.write_text("import pytest\n\n" + body)
    env = {key: value for key, value in os.environ.items()
           if key not in ("CI", "RNNKIT_NATIVE", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    paths = [str(TESTS), *(os.path.abspath(path) for path in
                           env.get("PYTHONPATH", "").split(os.pathsep) if path)]
    env["PYTHONPATH"] = os.pathsep.join(paths)  # absolute: the run starts in tmp_path
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(test_file)],
        env={**env, **environment}, capture_output=True, text=True, timeout=300, cwd=tmp_path)


SKIPS = '''
def test_runs():
    pass


@pytest.mark.skip(reason="needs a CUDA device")
def test_on_a_gpu():
    pass


@pytest.mark.skip(reason="abc2midi is not installed")
def test_with_a_tool():
    pass
'''


def test_under_ci_a_skip_whose_reason_is_not_allowed_fails_the_run(tmp_path: Path) -> None:
    run = _pytest_run(tmp_path, SKIPS, CI="true", RNNKIT_NATIVE="1")
    assert run.returncode == 1, run.stdout + run.stderr
    offenders = [line for line in run.stdout.splitlines() if line.startswith("SKIP NOT ALLOWED")]
    assert offenders == ["SKIP NOT ALLOWED test_policy_example.py::test_with_a_tool: "
                         "abc2midi is not installed"]


def test_outside_ci_skips_pass_and_allowed_ones_pass_under_ci(tmp_path: Path) -> None:
    assert _pytest_run(tmp_path, SKIPS).returncode == 0
    allowed = SKIPS.split("@pytest.mark.skip(reason=\"abc2midi")[0]
    assert _pytest_run(tmp_path, allowed, CI="true").returncode == 0
