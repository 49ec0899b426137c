"""``rnnkit music``: ``train`` on ABC tunes, ``generate`` tunes, ``play`` an ABC file.

``music train`` is the language model's training on the music task's corpus
(:mod:`rnnkit.tasks.music.corpus`): its recipes are a language model's ``[data] [model]
[train]`` plus ``[task] name = "music"`` (:mod:`rnnkit.tasks.music.config`).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.arguments import (
    LENGTH,
    OPTIONAL_TOP_K,
    SEED,
    TEMPERATURE,
    TOP_P,
    checkpoint_tag,
    positive_int,
)
from rnnkit.data.text import load_text_file
from rnnkit.music.abc_tunes import split_tunes
from rnnkit.tasks.flags import section_values
from rnnkit.tasks.language_model.commands import add_training_flags, config_from_args, run_train
from rnnkit.tasks.music.config import (
    MusicConfig,
    is_music_table,
    music_config_from_table,
    saved_music_config,
)
from rnnkit.tasks.plugin import Plugin

if TYPE_CHECKING:
    from rnnkit.training.config import RunConfig

LOG = logging.getLogger(__name__)
# `rnnkit music train` starts from these; --config and flags come on top.
MUSIC_DEFAULTS = {"data": {"dataset": "irish_abc"}, "train": {"out_dir": "runs/music"}}


def add_commands(commands: Any) -> None:
    """Register ``music train|generate|play`` on the top-level subparsers."""
    music = commands.add_parser("music", help="train on ABC tunes, generate and play tunes")
    actions = music.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                               help="train a character model on ABC tunes (default: the "
                                    "Irish tunes of the course lab, split by tune)")
    add_training_flags(train, task_config=MusicConfig)
    train.set_defaults(handler=run_music_train)
    _add_generate(actions)
    _add_play(actions)


def _add_generate(actions: Any) -> None:
    generate = actions.add_parser("generate", help="write tunes as .abc, .mid, .wav and PNG",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    generate.add_argument("--checkpoint", required=True, help="directory a training run wrote")
    generate.add_argument("--tag", default=None, type=checkpoint_tag,
                          help="which checkpoint: latest or best (none given: best, where "
                               "the run saved one)")
    generate.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    generate.add_argument("--n", type=positive_int(100000), default=10, help="how many tunes")
    generate.add_argument("--out", required=True, help="directory for the tunes")
    generate.add_argument("--seed", type=SEED, default=0)
    generate.add_argument("--temperature", type=TEMPERATURE, default=0.8,
                          help="0.8 keeps most tunes valid (docs/music.md); the lab uses 1.0")
    generate.add_argument("--top-k", type=OPTIONAL_TOP_K, default=None)
    generate.add_argument("--top-p", type=TOP_P, default=0.95,
                          help="nucleus sampling; with temperature 0.8 it keeps 92-94%% of "
                               "the tunes valid (docs/music.md); 1.0 turns it off")
    generate.add_argument("--max-length", type=LENGTH, default=1500,
                          help="characters; a tune still going by then is unfinished")
    generate.add_argument("--key", help="ask for a key, e.g. D, Em, 'A dorian'")
    generate.add_argument("--meter", help="ask for a meter, e.g. 6/8, C")
    generate.add_argument("--condition", default="auto", choices=("auto", "header", "vector"),
                          help="how a key/meter request is met: header priming, or the "
                               "conditioning vector of a model trained with [task] "
                               "condition = 'key_meter' (auto: vector for such a model)")
    generate.add_argument("--no-midi", dest="midi", action="store_false",
                          help="write .abc only (no abc2midi needed)")
    generate.add_argument("--no-audio", dest="audio", action="store_false",
                          help="skip the .wav files")
    generate.add_argument("--no-progress", dest="progress", action="store_false")
    generate.set_defaults(handler=run_music_generate)


def _add_play(actions: Any) -> None:
    play = actions.add_parser("play", help="convert an ABC tune to MIDI and WAV")
    play.add_argument("file", help="an .abc file")
    play.add_argument("--tune", type=positive_int(), default=1,
                      help="which tune of the file (from 1)")
    play.add_argument("--out", help="the .wav to write (default: FILE with .wav); the .mid "
                                    "goes beside it")
    play.set_defaults(handler=run_music_play)


def run_music_train(args: argparse.Namespace) -> int:
    from rnnkit.tasks.music.corpus import music_corpus

    config, music = music_configs_from_args(args)
    return run_train(args, config, music_corpus(music))


def music_configs_from_args(args: argparse.Namespace) -> tuple[RunConfig, MusicConfig]:
    """The language model's configuration and the music settings of ``music train``:
    :data:`MUSIC_DEFAULTS`, then the ``--config`` recipe (its ``[task]`` table: the music
    settings), then the flags."""
    from rnnkit.training.config import RunConfig, read_toml

    tables = read_toml(args.config) if args.config else {}
    music = music_config_from_table(tables.pop("task", None), args.config)
    music = replace(music, **section_values(args, "task"))
    config = config_from_args(args, RunConfig.from_dict(MUSIC_DEFAULTS), tables)
    music.check_data(config.data)
    return config, music


def run_music_generate(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from rnnkit.inference import load_language_model
    from rnnkit.music.convert import ABC2MIDI, find_converter, synthesizer_available
    from rnnkit.music.render import render_tune, summarize, writable_directory, write_summary
    from rnnkit.music.tunes import SamplingSettings, TuneRequest, generate_tunes

    request = TuneRequest(args.key, args.meter)
    settings = SamplingSettings(args.temperature, args.top_k, args.top_p, args.max_length)
    folder = writable_directory(args.out)
    if args.midi:
        find_converter(ABC2MIDI)  # fail before sampling, not after
    audio = args.midi and args.audio and synthesizer_available()
    if args.midi and args.audio and not audio:
        LOG.warning("timidity is not installed: writing MIDI without WAV "
                    "(`make music-tools` installs it)")
    loaded = load_language_model(args.checkpoint, tag=args.tag, device=args.device)
    music = saved_music_config(loaded.task)
    method = _conditioning_method(args.condition, music is not None and
                                  music.condition is not None)
    spellings, conditions = _request_helpers(loaded.config.data, music, method, request)
    tunes, records = [], []
    stream = generate_tunes(loaded.model, loaded.vocab, args.n, seed=args.seed,
                            settings=settings, request=request, spellings=spellings,
                            conditions=conditions)
    for tune in tqdm(stream, total=args.n, unit="tune", disable=not args.progress):
        tunes.append(tune)
        records.append(render_tune(tune, folder, midi=args.midi, audio=audio))
    run_settings = {"checkpoint": str(args.checkpoint), "tag": loaded.tag, "seed": args.seed,
                    "temperature": args.temperature, "top_k": args.top_k,
                    "top_p": args.top_p, "max_length": args.max_length,
                    "condition": method}
    summary = summarize(tunes, records, settings=run_settings, request=request,
                        audio=_audio_note(args.midi, args.audio, audio))
    path = write_summary(folder, summary)
    print(json.dumps({key: summary[key] for key in ("generated", "valid", "valid_rate",
                                                    "failures")} | {"summary": str(path)}))
    return 0


def _request_helpers(data_config: Any, music: MusicConfig | None, method: str,
                     request: Any) -> tuple[Any, Any]:
    """What a request needs from the training tunes: header spellings or condition classes."""
    from rnnkit.music.conditions import ConditionVocabulary
    from rnnkit.music.tunes import HeaderSpellings

    if method == "vector":
        return None, ConditionVocabulary.build(_training_text(data_config, music))
    if request.empty:
        return None, None
    return HeaderSpellings(_training_text(data_config, music)), None


def _training_text(data_config: Any, music: MusicConfig | None) -> str:
    """The training part of the run's text, split as the run split it: by tune for a music
    run, as plain text for a language model's."""
    from rnnkit.data.corpus import read_texts
    from rnnkit.tasks.music.corpus import tune_texts

    return (read_texts(data_config) if music is None else tune_texts(data_config))[0]["train"]


def _audio_note(midi: bool, audio_wanted: bool, audio: bool) -> str:
    if not midi:
        return "no MIDI or WAV (--no-midi)"
    if audio:
        return "WAV written with timidity"
    if not audio_wanted:
        return "no WAV (--no-audio)"
    return "no WAV: timidity is not installed (MIDI only); `make music-tools` installs it"


def _conditioning_method(choice: str, conditional: bool) -> str:
    """How a request is met: ``choice``, checked against the model (``auto``: its own)."""
    if choice == "vector" and not conditional:
        raise ValueError("--condition vector needs a model trained with [task] condition = "
                         "'key_meter'; this checkpoint has no conditioning vector (use "
                         "--condition header)")
    if choice == "header" and conditional:
        raise ValueError("this checkpoint is a conditional model: it needs its conditioning "
                         "vector (--condition vector), it cannot run without one")
    return "vector" if conditional else "header"


def run_music_play(args: argparse.Namespace) -> int:
    from rnnkit.music.convert import abc_to_midi, midi_to_wav, synthesizer_available
    from rnnkit.music.validate import check_tune

    source = Path(args.file)
    tune = _chosen_tune(source, args.tune)
    check = check_tune(tune)
    if {"header", "syntax", "empty"} & set(check.categories):
        raise ValueError(f"{source}: tune {args.tune} is not valid ABC: "
                         + "; ".join(check.problems))
    wav_path = Path(args.out) if args.out else source.with_suffix(".wav")
    with tempfile.TemporaryDirectory() as scratch:  # abc2midi reads one tune from a file
        single = Path(scratch) / "tune.abc"
        single.write_text(tune + "\n", encoding="utf-8")
        midi_path = abc_to_midi(single, wav_path.with_suffix(".mid"))
    if not synthesizer_available():
        print(f"wrote {midi_path} (MIDI only: timidity is not installed, so no WAV; "
              f"`make music-tools` installs it)")
        return 0
    print(f"wrote {midi_to_wav(midi_path, wav_path)} and {midi_path}")
    return 0


def _chosen_tune(source: Path, number: int) -> str:
    text = load_text_file(source)
    try:
        tunes = split_tunes(text)
    except ValueError as error:
        raise ValueError(f"{source} is not an ABC file: {error}") from None
    if not 1 <= number <= len(tunes):
        raise ValueError(f"{source} holds {len(tunes)} tune(s); --tune {number} is not "
                         f"among them")
    return tunes[number - 1]


def run_corpus(table: dict[str, Any]) -> Any:
    """For ``rnnkit eval`` of a run: the loader of its corpus when music wrote it (its saved
    ``task`` table names music), else ``None``."""
    from rnnkit.tasks.music.corpus import music_corpus

    if not table or not is_music_table(table):
        return None  # a plain language model's run, or another task's
    return music_corpus(saved_music_config(table)).load


PLUGIN = Plugin(add_commands, run_corpus=run_corpus)
