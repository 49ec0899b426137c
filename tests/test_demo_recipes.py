"""``make demo`` and ``make music`` run as the Makefile writes them, with the bounds shrunk.

The commands are read from the Makefile's ``demo`` and ``music`` targets and run through
``rnnkit``'s entry point with the recipe files they name; only the bounds change (a few
steps, a validation at the last one, shorter samples, fewer and shorter tunes), plus the
output folder, no progress bar and no TensorBoard. The saved configuration must hold every
value the recipe sets, and what the commands write must exist and load.

Data: the Irish tunes come from a temporary ``$RNNKIT_DATA`` cache filled with
``tests/fixtures/irish.abc``, which is byte for byte the pinned file, so ``rnnkit data fetch
irish_abc`` verifies it and the recipe trains on its own data set. Shakespeare's cache is
pinned to the real 5 MB corpus (no small text can pass its sha256, and the test has no
network), so the demo trains on a small local text given with ``--text-file`` instead;
``rnnkit data fetch shakespeare`` is the one command not run.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.registry import cache_dir
from rnnkit.export.web import read_manifest
from rnnkit.inference import load_language_model
from rnnkit.recipes import recipe_names
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import read_toml

ROOT = Path(__file__).resolve().parents[1]
IRISH = Path(__file__).resolve().parent / "fixtures" / "irish.abc"
SHRUNK = {"max_steps": 3, "eval_every": 3, "sample_length": 20}
# What the test changes besides the bounds: where the run writes, and its terminal output.
NOT_THE_RECIPE = {"out_dir", "progress", "tensorboard"}


def make_target(name: str) -> list[list[str]]:
    """The ``rnnkit`` commands of a Makefile target, as argument lists."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{name}:")))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        words = shlex.split(line)
        assert words[0] == "$(BIN)/rnnkit", line
        commands.append(words[1:])
    return commands


def with_flags(command: list[str], **flags: str) -> list[str]:
    """``command`` with each ``--flag value`` replaced (or added)."""
    result, skip = [], False
    names = {"--" + name.replace("_", "-"): value for name, value in flags.items()}
    for word in command:
        if skip:
            skip = False
        elif word in names:
            skip = True
        else:
            result.append(word)
    for flag, value in names.items():
        result += [flag] if value is None else [flag, value]
    return result


def assert_recipe_used(run: Path, recipe: str, replaced: frozenset = frozenset()) -> dict:
    """The run's saved config holds every value of ``recipe`` but the bounds and
    ``replaced``."""
    saved = load_checkpoint(run).config
    for section, values in read_toml(recipe).items():
        for key, value in values.items():
            if key in NOT_THE_RECIPE | replaced:
                continue
            wanted = SHRUNK.get(key, value)
            assert saved[section][key] == wanted, f"[{section}] {key}"
    for key, value in SHRUNK.items():
        assert saved["train"][key] == value
    return saved


def test_make_demo_trains_the_recipe_samples_and_writes_the_playground(tmp_path: Path,
                                                                       capsys) -> None:
    fetch, train, sample, web = make_target("demo")
    assert fetch == ["data", "fetch", "shakespeare"]  # needs the network: not run
    text_file = tmp_path / "plays.txt"
    text_file.write_text("HAMLET.\nTo be, or not to be, that is the question.\n"
                         "OPHELIA.\nGood my lord, how does your honour?\n" * 60,
                         encoding="utf-8")
    run = tmp_path / "shakespeare_char"
    assert main(with_flags(train, text_file=str(text_file), max_steps="3", eval_every="3",
                           sample_length="20", out_dir=str(run), no_progress=None,
                           no_tensorboard=None)) == 0
    # --text-file takes the place of the data set
    saved = assert_recipe_used(run, "shakespeare_char", frozenset({"dataset"}))
    assert saved["data"]["text_file"] == str(text_file) and saved["data"]["dataset"] is None
    loaded = load_language_model(run, device="cpu")
    assert (loaded.model.config.hidden_size, loaded.model.config.num_layers) == (256, 2)
    assert train[train.index("--config") + 1] == "shakespeare_char"  # a shipped recipe
    capsys.readouterr()
    assert sample[sample.index("--checkpoint") + 1] == "runs/shakespeare_char"
    assert int(sample[sample.index("--length") + 1]) == 400
    length = 40
    assert main(with_flags(sample, checkpoint=str(run), length=str(length))) == 0
    text = capsys.readouterr().out
    prime = sample[sample.index("--prime") + 1]
    assert text.startswith(prime) and len(text.rstrip("\n")) == len(prime) + length
    assert_playground_written(web, run, tmp_path / "web", "text", capsys)


def assert_playground_written(web: list[str], run: Path, out: Path, page: str,
                              capsys) -> dict:
    """The Makefile's ``rnnkit web`` line names the run it trained and writes its page."""
    assert web[0] == "web" and web[web.index("--checkpoint") + 1] == f"runs/{run.name}"
    assert main(with_flags(web, checkpoint=str(run), out=str(out))) == 0
    assert "open it with" in capsys.readouterr().out
    manifest = read_manifest(out)
    assert manifest["page"] == page
    return manifest


def test_make_music_fetches_trains_the_recipe_generates_and_writes_the_playground(
        tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "data"))
    folder = cache_dir("irish_abc")
    folder.mkdir(parents=True)
    data = IRISH.read_bytes()
    shutil.copyfile(IRISH, folder / "text.txt")
    (folder / "manifest.json").write_text(json.dumps({
        "name": "irish_abc", "source": "tests/fixtures/irish.abc", "licence": "MIT",
        "files": {"text": {"file": "text.txt", "sha256": hashlib.sha256(data).hexdigest(),
                           "size": len(data)}}}), encoding="utf-8")
    fetch, train, generate, web = make_target("music")
    assert fetch == ["data", "fetch", "irish_abc"]
    assert main(fetch) == 0  # the cache verifies against the pinned sha256
    run = tmp_path / "irish_folk_small"
    assert main(with_flags(train, max_steps="3", eval_every="3", sample_length="20",
                           out_dir=str(run), no_progress=None, no_tensorboard=None)) == 0
    saved = assert_recipe_used(run, "irish_folk_small")
    assert saved["data"]["dataset"] == "irish_abc" and saved["data"]["text_file"] is None
    tunes = tmp_path / "tunes"
    capsys.readouterr()
    assert main(with_flags(generate, checkpoint=str(run), n="2", max_length="200",
                           out=str(tunes), no_progress=None, no_audio=None)) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["generated"] == 2
    summary = json.loads(Path(report["summary"]).read_text(encoding="utf-8"))
    assert summary["generated"] == 2
    written = sorted(tunes.glob("*.abc"))
    assert len(written) == 2 and all(path.read_text(encoding="utf-8") for path in written)
    manifest = assert_playground_written(web, run, tmp_path / "web", "music", capsys)
    assert {"value": "D major", "line": "K:D Major"} in manifest["music"]["keys"]


@pytest.mark.parametrize("target", ["demo", "music"])
def test_the_makefile_targets_name_the_recipes(target: str) -> None:
    commands = make_target(target)
    configs = [command[command.index("--config") + 1] for command in commands
               if "--config" in command]
    assert len(configs) == 1 and configs[0] in recipe_names()
