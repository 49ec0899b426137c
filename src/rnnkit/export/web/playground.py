"""Write the playground: a static folder that runs a trained model in the browser.

The folder holds the page (``index.html``, its scripts and style), the model as one ONNX
step with its gates out (:mod:`rnnkit.export.onnx_step`, checked against the eager model
before anything is written), the vocabulary, a manifest the page reads
(``playground.json``), and the JavaScript it runs on, vendored from npm
(:mod:`rnnkit.export.web.vendor`). Nothing is fetched from elsewhere when the page runs.
For a music model the page draws and plays tunes, so the folder also gets the training
tunes' key and meter spellings (header priming, as ``rnnkit music generate`` does) and the
note samples the player uses (:mod:`rnnkit.export.web.notes`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_bytes, atomic_write_json
from rnnkit.export.onnx_step import (
    activation_channels,
    build_step_model,
    recurrence_mode,
    state_names,
    step_blocker,
    verify_step,
)
from rnnkit.export.web.notes import write_note_samples
from rnnkit.export.web.vendor import copy_vendored, vendored_versions
from rnnkit.validation import check_choice

FORMAT = "rnnkit-playground"
MANIFEST = "playground.json"
PAGES = ("auto", "text", "music")
TOLERANCE = 1e-4  # largest difference from the eager model accepted for the step graph
TEXT_PRIME = "\n"
MUSIC_TASK = "music"

# The training text of a run, when its task can say (the CLI asks the task plugins).
TrainingText = Callable[[Any], str | None]


@dataclass(frozen=True)
class Playground:
    """What :func:`write_playground` wrote: the folder, its page kind and the step graph's
    largest difference from the eager model."""

    folder: Path
    page: str
    max_abs_difference: float


def write_playground(checkpoint: str | Path, out: str | Path, *, tag: str | None = None,
                     page: str = "auto",
                     training_text: TrainingText | None = None) -> Playground:
    """Write the playground of ``checkpoint`` to the folder ``out``.

    ``page`` is ``"text"`` (sampling and the activation views), ``"music"`` (tunes drawn
    and played; a model a music run trained) or ``"auto"`` (music for a music run).
    ``training_text(loaded)`` gives the run's training text, from which a music page
    learns how the tunes spell keys and meters; without it the page offers no key or
    meter choice. ``out`` is written whole or not at all: it is built beside itself and
    swapped in, and an existing folder is replaced only if it is a playground.

    Raises ``ValueError`` naming the checkpoint and the reason when the page cannot run
    the model (a Transformer, ``proj_size``, layer normalization, word level ...; a
    conditional tune model runs on the music page only).
    """
    from rnnkit.inference import load_language_model

    check_choice("rnnkit web", "page", page, PAGES)
    target = _writable_target(Path(out))
    loaded = load_language_model(checkpoint, tag=tag, device="cpu")
    blocker = _blocker(loaded)
    if blocker is not None:
        raise ValueError(f"{checkpoint}: the playground cannot run this model: {blocker}")
    kind = _page_kind(page, loaded)
    data = build_step_model(loaded.model).SerializeToString()
    difference = verify_step(data, loaded.model)
    if difference > TOLERANCE:
        raise RuntimeError(f"the step graph differs from the eager model by "
                           f"{difference:.3g} (> {TOLERANCE}); nothing was written")
    text = training_text(loaded) if (kind == "music" and training_text) else None
    manifest = _manifest(checkpoint, loaded, kind, difference, text)
    target.parent.mkdir(parents=True, exist_ok=True)  # only once there is a page to write
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as scratch:
        staging = Path(scratch) / "playground"
        _write_folder(staging, data, loaded, manifest)
        _swap_in(staging, target)
    return Playground(target, kind, difference)


def _blocker(loaded: Any) -> str | None:
    reason = step_blocker(loaded.model)
    if reason is None and loaded.vocab.level != "char":
        reason = (f"its vocabulary is {loaded.vocab.level} level; the page writes and "
                  "colours characters, so it runs character-level models")
    return reason


def _page_kind(page: str, loaded: Any) -> str:
    is_music = loaded.task.get("name") == MUSIC_TASK
    if page == "auto":
        return "music" if is_music else "text"
    if page == "music" and not is_music:
        raise ValueError("--page music needs a model a music run trained (rnnkit music "
                         "train); this checkpoint is a plain language model's")
    if page == "text" and loaded.config.model.condition_sizes:
        raise ValueError("--page text: this is a conditional model (a key and a meter class "
                         "with every character), which only the music page feeds; use "
                         "--page music")
    return page


def _writable_target(target: Path) -> Path:
    """``target`` resolved, refused if it is something a user saved that is not a
    playground (a file, or a folder with other things in it)."""
    target = target.expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ValueError(f"--out {target} is a file; give a folder for the playground")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ValueError(f"--out {target} is a folder with other files in it and no "
                         f"{MANIFEST}; the playground replaces only a playground folder, "
                         "so give a new or empty folder")
    return target


def _swap_in(staging: Path, target: Path) -> None:
    """Put the finished ``staging`` folder where ``target`` is, the old one out of the way
    first, so that a crash leaves either the old playground or the new one."""
    if target.exists():
        retired = staging.parent / "retired"
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)


def _write_folder(folder: Path, model_data: bytes, loaded: Any,
                  manifest: dict[str, Any]) -> None:
    folder.mkdir()
    static = resources.files("rnnkit.export.web") / "static"
    for entry in static.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            (folder / entry.name).write_bytes(entry.read_bytes())
    copy_vendored(folder / "vendor")
    atomic_write_bytes(folder / "model.onnx", model_data)
    atomic_write_json(folder / "vocab.json", {"level": loaded.vocab.level,
                                              "tokens": list(loaded.vocab.tokens)})
    if manifest["page"] == "music":
        write_note_samples(folder / "notes")
    atomic_write_json(folder / MANIFEST, manifest)


def _manifest(checkpoint: str | Path, loaded: Any, kind: str, difference: float,
              training_text: str | None) -> dict[str, Any]:
    model = loaded.model
    config = model.config
    states_in, states_out = state_names(model)
    document: dict[str, Any] = {
        "format": FORMAT, "version": 1, "page": kind,
        "title": Path(checkpoint).resolve().name,
        "model": {"cell": config.cell, "mode": recurrence_mode(model), "layers": config.num_layers,
                  "hidden_size": config.hidden_size, "vocab_size": config.vocab_size,
                  "channels": list(activation_channels(model)),
                  "state_inputs": states_in, "state_outputs": states_out,
                  "parameters": sum(p.numel() for p in model.parameters())},
        "data": {"dataset": getattr(loaded.config.data, "dataset", None)},
        "verification": {"max_abs_difference": difference, "tolerance": TOLERANCE},
        "vendor": vendored_versions(),
        "defaults": {"prime": _default_prime(loaded, kind), "temperature": 0.8,
                     "top_k": 0, "top_p": 1.0 if kind == "text" else 0.95,
                     "length": 500 if kind == "text" else 1500, "seed": 1},
    }
    if kind == "music":
        document["music"] = _music_choices(training_text)
        if config.condition_sizes:
            document["music"]["conditions"] = _condition_classes(training_text,
                                                                 config.condition_sizes)
    document["model"]["condition_sizes"] = list(config.condition_sizes)
    return document


def _condition_classes(training_text: str | None,
                       sizes: tuple[int, ...]) -> dict[str, list[str]]:
    """The key and meter classes a conditional model was trained with, rebuilt from its
    training tunes as ``rnnkit music generate`` does, and checked against the model."""
    from rnnkit.music.conditions import ConditionVocabulary

    if training_text is None:
        raise ValueError("this conditional model needs its training tunes to name its key "
                         "and meter classes, and no task could read them")
    classes = ConditionVocabulary.build(training_text)
    if classes.sizes != tuple(sizes):
        raise ValueError(f"the training tunes give {classes.sizes} key and meter classes "
                         f"but the model was trained with {tuple(sizes)}")
    return {"keys": list(classes.keys), "meters": list(classes.meters)}


def _default_prime(loaded: Any, kind: str) -> str:
    if kind == "music":
        return "X:"
    tokens = set(loaded.vocab.tokens)
    for prime in ("ROMEO:\n", "The ", TEXT_PRIME):
        if set(prime) <= tokens:
            return prime
    return loaded.vocab.tokens[0]


def _music_choices(training_text: str | None) -> dict[str, Any]:
    """The keys and meters the training tunes use, each with the header line that asks
    for it, most used first (empty without the training text)."""
    if training_text is None:
        return {"keys": [], "meters": []}
    from rnnkit.music.tunes import HeaderSpellings

    spellings = HeaderSpellings(training_text)

    def choices(table: dict, line: Callable[[str], str]) -> list[dict[str, str]]:
        ordered = sorted(table, key=lambda value: (-sum(table[value].values()), value))
        return [{"value": value, "line": line(value)} for value in ordered]

    return {"keys": choices(spellings.keys, spellings.key_line),
            "meters": choices(spellings.meters, spellings.meter_line)}


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a playground folder (``ValueError`` if the folder is not one)."""
    path = Path(folder) / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{folder} is not a playground folder ({path}: {error})") from None
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a playground manifest (format "
                         f"{document.get('format')!r})")
    return document
