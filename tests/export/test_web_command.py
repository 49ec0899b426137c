"""``rnnkit web`` from the command line: what it writes, what it refuses and why, and
``--serve``. (The page itself is tested in a browser: test_playground_page.py.)"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.export.web import read_manifest

TRAIN = ["--hidden-size", "8", "--embedding-size", "4", "--num-layers", "2", "--batch-size",
         "4", "--seq-len", "8", "--max-steps", "2", "--eval-every", "2", "--no-progress",
         "--no-tensorboard", "--sample-length", "2"]


@pytest.fixture(scope="module")
def words(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "words.txt"
    rng = random.Random(0)
    path.write_text("".join(rng.choice(["the ", "cat ", "sat.\n"]) for _ in range(400)))
    return path


def train(words: Path, out: Path, *extra: str) -> Path:
    assert main(["train", "--text-file", str(words), "--out-dir", str(out), *TRAIN,
                 *extra]) == 0
    return out


@pytest.fixture(scope="module")
def gru_run(words, tmp_path_factory) -> Path:
    return train(words, tmp_path_factory.mktemp("gru") / "run", "--cell", "gru")


def test_the_folder_holds_the_page_the_model_and_the_vendored_scripts(gru_run, tmp_path,
                                                                     capsys):
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(tmp_path / "web")]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    folder = Path(report["out"])
    assert report["page"] == "text" and report["max_abs_difference"] < 1e-4
    manifest = read_manifest(folder)
    assert manifest["model"]["channels"] == ["hidden", "reset_gate", "update_gate",
                                             "candidate"]
    assert manifest["model"]["state_inputs"] == ["h_0"]
    names = {path.relative_to(folder).as_posix() for path in folder.rglob("*")}
    assert {"index.html", "app.js", "model.onnx", "vocab.json", "playground.json",
            "vendor/ort.wasm.bundle.min.mjs", "vendor/ort-wasm-simd-threaded.wasm",
            "vendor/abcjs-basic-min.js", "vendor/versions.json"} <= names
    assert set(manifest["vendor"]) == {"onnxruntime-web", "abcjs"}
    lock = json.loads((Path(__file__).parents[2] / "web" / "package-lock.json").read_text())
    for name, version in manifest["vendor"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    # The page loads nothing from elsewhere: no address outside the folder in its files.
    for page_file in ("index.html", "app.js", "model.js", "text_page.js", "music_page.js"):
        assert "http" not in (folder / page_file).read_text().replace("http://127", "")


def test_a_second_run_replaces_the_playground_whole(gru_run, tmp_path):
    out = tmp_path / "web"
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(out)]) == 0
    (out / "stale.txt").write_text("from the first playground")
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(out)]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web"]  # no staging left behind


def test_a_folder_that_is_not_a_playground_is_never_replaced(gru_run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--out" in error and "playground" in error
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    file = tmp_path / "file"
    file.write_text("x")
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(file)]) == 1
    assert "is a file" in capsys.readouterr().err and file.read_text() == "x"


@pytest.mark.parametrize(("extra", "words_in_error"), [
    (["--cell", "gru", "--layer-norm"], ["layer_norm = true"]),
    (["--cell", "lstm", "--proj-size", "4"], ["proj_size = 4"]),
    (["--level", "word"], ["word level", "character-level"]),
    (["--architecture", "transformer", "--num-heads", "2", "--context", "8"],
     ["TransformerLanguageModel"]),
])
def test_a_checkpoint_the_page_cannot_run_gets_one_line_saying_why(
        words, tmp_path, capsys, extra, words_in_error):
    run = train(words, tmp_path / "run", *extra)
    capsys.readouterr()
    assert main(["web", "--checkpoint", str(run), "--out", str(tmp_path / "new" / "web")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rnnkit web: error: ") and error.count("\n") == 1, error
    assert "cannot run this model" in error and all(w in error for w in words_in_error), error
    assert not (tmp_path / "new").exists()  # not even the folder around it


def test_a_music_page_needs_a_music_run(gru_run, tmp_path, capsys):
    assert main(["web", "--checkpoint", str(gru_run), "--out", str(tmp_path / "w"),
                 "--page", "music"]) == 1
    assert "--page music" in capsys.readouterr().err


def test_a_conditional_tune_model_gets_its_classes_and_only_the_music_page(tmp_path, capsys):
    tunes = tmp_path / "tunes.abc"
    tune = "X:1\nT:A\nM:6/8\nL:1/8\nK:D\n|:dfa afd|dfa afd:|"
    tunes.write_text("\n\n".join([tune] * 12), encoding="utf-8")
    assert main(["music", "train", "--text-file", str(tunes), "--condition", "key_meter",
                 "--out-dir", str(tmp_path / "run"), *TRAIN]) == 0
    assert main(["web", "--checkpoint", str(tmp_path / "run"), "--out",
                 str(tmp_path / "text"), "--page", "text"]) == 1
    assert "conditional model" in capsys.readouterr().err
    assert main(["web", "--checkpoint", str(tmp_path / "run"), "--out",
                 str(tmp_path / "music")]) == 0
    manifest = read_manifest(tmp_path / "music")
    assert manifest["model"]["condition_sizes"] == [2, 2]
    assert manifest["music"]["conditions"] == {"keys": ["<other>", "D major"],
                                               "meters": ["<other>", "6/8"]}


def test_serve_prints_the_address_and_serves_the_folder_until_interrupted(gru_run, tmp_path):
    out = tmp_path / "web"
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "web", "--checkpoint", str(gru_run), "--out",
         str(out), "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A pytest-xdist worker ignores SIGINT, and a child would inherit that: Ctrl-C as
        # a terminal sends it must reach the server.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        address = lines[1].split("serving the playground at ", 1)[1].split()[0]
        assert address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(address) as response:
            assert b"rnnkit playground" in response.read()
        # A browser runs a module or WebAssembly only when served as one.
        for name, kind in (("ort.wasm.bundle.min.mjs", "text/javascript"),
                           ("ort-wasm-simd-threaded.wasm", "application/wasm")):
            with urllib.request.urlopen(f"{address}vendor/{name}") as response:
                assert response.headers["Content-Type"] == kind
    finally:
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=30)
    assert status == 0, process.stderr.read()
