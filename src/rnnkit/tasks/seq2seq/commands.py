"""`rnnkit g2p train|eval|attention`, `rnnkit translation train` and `rnnkit translate`.

``g2p train`` takes one flag per field of :class:`~rnnkit.tasks.seq2seq.g2p.G2PConfig` and of
:class:`~rnnkit.models.seq2seq.Seq2SeqConfig` (``--attention none|additive|dot|general``,
``--architecture rnn|transformer``); ``translation train`` the same with
:class:`~rnnkit.tasks.seq2seq.translation.TranslationConfig`. ``rnnkit train --task seq2seq
--dataset cmudict|django_de ...`` is the same as those two (:func:`seq2seq_train_argv`).
``translate`` reads one line at a time from standard input: a word for a G2P checkpoint
(its phonemes are printed), a message for a translation checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rnnkit.arguments import BEAM
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.flags import add_config_flag, add_dataclass_flags, configs_from_args
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.seq2seq.g2p import G2PConfig
from rnnkit.tasks.seq2seq.translation import TranslationConfig

MODEL_NOT_FLAGS = {"source_vocab_size", "target_vocab_size", "pad_id", "bos_id", "eos_id"}


def add_commands(commands: Any) -> None:
    """Register ``g2p`` (train, eval) and ``translate`` on the CLI's subcommands."""

    g2p = commands.add_parser("g2p", help="grapheme-to-phoneme models on the CMU dictionary")
    actions = g2p.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train an encoder-decoder, report WER and PER",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_flag(train, "g2p")
    add_dataclass_flags(train, "g2p", G2PConfig, skip=set())
    add_dataclass_flags(train, "model", Seq2SeqConfig, skip=MODEL_NOT_FLAGS)
    train.set_defaults(handler=run_g2p_train)
    evaluate = actions.add_parser("eval", help="WER and PER of a checkpoint on a split")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--split", default="test", choices=("valid", "test"))
    evaluate.add_argument("--beam-width", type=BEAM, default=1, help="beam width (1: greedy)")
    evaluate.add_argument("--strip-stress", action="store_true",
                          help="score on the 39 phonemes: stress digits dropped from the "
                               "outputs and the references before they are compared")
    evaluate.set_defaults(handler=run_g2p_eval)
    attention = actions.add_parser("attention", help="attention heat maps as a PNG")
    attention.add_argument("--checkpoint", required=True)
    attention.add_argument("--words", nargs="+", required=True)
    attention.add_argument("--out", required=True, help="PNG file to write")
    attention.set_defaults(handler=run_g2p_attention)
    translation = commands.add_parser("translation",
                                      help="English-to-German models on Django's messages")
    translation_actions = translation.add_subparsers(dest="action", required=True)
    train_translation = translation_actions.add_parser(
        "train", help="train an encoder-decoder, report BLEU and chrF",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_flag(train_translation, "translation")
    add_dataclass_flags(train_translation, "translation", TranslationConfig, skip=set())
    add_dataclass_flags(train_translation, "model", Seq2SeqConfig, skip=MODEL_NOT_FLAGS)
    train_translation.set_defaults(handler=run_translation_train)
    translate = commands.add_parser("translate", help="lines from stdin through a seq2seq "
                                    "checkpoint (words to phonemes, or English to German)")
    translate.add_argument("--checkpoint", required=True)
    translate.add_argument("--beam-width", type=BEAM, default=5, help="beam width (1: greedy)")
    translate.set_defaults(handler=run_translate)


def run_g2p_train(args: argparse.Namespace) -> int:
    from rnnkit.tasks.seq2seq.g2p import train_g2p

    return _run_pair_training(args, "g2p", G2PConfig, train_g2p)


def run_translation_train(args: argparse.Namespace) -> int:
    from rnnkit.tasks.seq2seq.translation import train_translation

    return _run_pair_training(args, "translation", TranslationConfig, train_translation)


def _run_pair_training(args: argparse.Namespace, section: str, config_class: type,
                       train: Any) -> int:
    """Build the task and model configs from the recipe and flags, train, print the test
    figures."""

    configs = configs_from_args(args, section, {section: config_class, "model": Seq2SeqConfig})
    results = train(configs[section], configs["model"])
    print(json.dumps({key: results[key] for key in ("parameters", "trained_s", "test_greedy",
                                                    "test_beam")}))
    return 0


SEQ2SEQ_DATASETS = {"cmudict": ["g2p", "train"], "django_de": ["translation", "train"]}


def seq2seq_train_argv(rest: list[str]) -> list[str]:
    """``train --task seq2seq --dataset NAME REST`` as the command it stands for
    (``g2p train REST`` or ``translation train REST``); ``rest`` is the line after
    ``train`` without ``--task seq2seq``."""
    rest = list(rest)
    if "--dataset" not in rest or rest.index("--dataset") + 1 >= len(rest):
        raise ValueError(f"--task seq2seq needs --dataset, one of {sorted(SEQ2SEQ_DATASETS)}")
    where = rest.index("--dataset")
    dataset = rest[where + 1]
    if dataset not in SEQ2SEQ_DATASETS:
        raise ValueError(f"--task seq2seq trains on {sorted(SEQ2SEQ_DATASETS)}, "
                         f"got --dataset {dataset!r}")
    del rest[where:where + 2]
    return [*SEQ2SEQ_DATASETS[dataset], *rest]


def run_g2p_eval(args: argparse.Namespace) -> int:
    from rnnkit.tasks.seq2seq.g2p import evaluate_words, load_g2p_data
    from rnnkit.tasks.seq2seq.pair_training import load_pair_model
    from rnnkit.training.checkpoint import load_checkpoint_config

    document = load_checkpoint_config(args.checkpoint, tag="best")
    config = G2PConfig(**run_settings(document, "g2p", args.checkpoint))
    model, _ = load_pair_model(args.checkpoint)
    data = load_g2p_data(config)
    print(json.dumps(evaluate_words(model, data, args.split, config,
                                    beam_width=args.beam_width,
                                    strip_stress=args.strip_stress)))
    return 0


def run_g2p_attention(args: argparse.Namespace) -> int:
    from rnnkit.tasks.seq2seq.g2p import plot_attention

    model, letters, phonemes = _load(args.checkpoint)
    print(plot_attention(model, letters, phonemes, [w.lower() for w in args.words], args.out))
    return 0


def run_translate(args: argparse.Namespace) -> int:
    from rnnkit.tasks.seq2seq.pair_training import load_pair_model
    from rnnkit.training.checkpoint import load_checkpoint_config

    document = load_checkpoint_config(args.checkpoint, tag="best")
    if "translation" not in document and "g2p" not in document:
        kind = next((what for name, what in RUN_KINDS.items() if name in document),
                    "a run of an unknown kind")
        raise ValueError(f"{args.checkpoint} is not a G2P or translation run: it holds "
                         f"{kind}")
    model, saved = load_pair_model(args.checkpoint)
    translate = (_message_translator(model, saved) if "translation" in saved.config
                 else _word_translator(model, saved))
    beam = args.beam_width
    for number, line in enumerate(sys.stdin, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            raise ValueError(f"line {number} is empty: give one input per line")
        print(f"{text}\t{translate(text, number, beam)}", flush=True)
    return 0


def _word_translator(model: Any, saved: Any):
    """A word's phonemes, spaced, from a G2P checkpoint."""
    from rnnkit.tasks.seq2seq.g2p import g2p_tables, pronounce

    letters, phonemes = g2p_tables(saved)

    def translate(text: str, number: int, beam: int) -> str:
        word = text.strip().lower()
        letters.encode(word, f"line {number}")  # names the line of an unknown character
        return " ".join(pronounce(model, letters, phonemes, [word], 32, beam_width=beam)[0])

    return translate


def _message_translator(model: Any, saved: Any):
    """A message's translation from a translation checkpoint."""
    from rnnkit.tasks.seq2seq.translation import translate_lines, translation_tables

    source, target = translation_tables(saved)
    settings = saved.config["translation"]  # the caller checked that it is there
    max_output, ratio = settings["max_output"], settings.get("output_ratio")

    def translate(text: str, number: int, beam: int) -> str:
        source.encode(text, f"line {number}")  # names the line of an unknown character
        return translate_lines(model, source, target, [text], max_output, beam, ratio)[0]

    return translate


def _load(checkpoint: str):
    from rnnkit.tasks.seq2seq.g2p import load_g2p_model
    from rnnkit.training.checkpoint import load_checkpoint_config

    run_settings(load_checkpoint_config(checkpoint, tag="best"), "g2p", checkpoint)
    return load_g2p_model(checkpoint)


RUN_KINDS = {"g2p": "a G2P run (`rnnkit g2p train`)",
             "translation": "a translation run (`rnnkit translation train`)",
             "classify": "a classify run", "tag": "a tag run", "forecast": "a forecast run",
             "train": "a language-model run"}


def run_settings(config: dict[str, Any], section: str, checkpoint: str) -> dict[str, Any]:
    """The ``section`` settings of a saved run's config, or an error that says which kind
    of run ``checkpoint`` holds instead."""
    if section in config and isinstance(config[section], dict):
        return config[section]
    kind = next((what for name, what in RUN_KINDS.items() if name in config),
                "a run of an unknown kind")
    raise ValueError(f"{checkpoint} is not {RUN_KINDS[section].split(' (')[0]}: it holds "
                     f"{kind}, without [{section}] settings")


PLUGIN = Plugin(add_commands, train_tasks={"seq2seq": seq2seq_train_argv})
