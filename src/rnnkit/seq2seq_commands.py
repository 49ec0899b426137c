"""`rnnkit g2p train|eval|attention` and `rnnkit translate`: seq2seq on the command line.

``g2p train`` takes one flag per field of :class:`~rnnkit.training.g2p.G2PConfig` and of
:class:`~rnnkit.models.seq2seq.Seq2SeqConfig` (``--attention none|additive|dot|general``);
``translate`` reads one word per line from standard input and prints its phonemes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.training.g2p import G2PConfig

MODEL_NOT_FLAGS = {"source_vocab_size", "target_vocab_size", "pad_id", "bos_id", "eos_id"}


def add_seq2seq_commands(commands: Any) -> None:
    """Register ``g2p`` (train, eval) and ``translate`` on the CLI's subcommands."""
    from rnnkit.cli import add_dataclass_flags

    g2p = commands.add_parser("g2p", help="grapheme-to-phoneme models on the CMU dictionary")
    actions = g2p.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train an encoder-decoder, report WER and PER",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_dataclass_flags(train, "g2p", G2PConfig, skip=set())
    add_dataclass_flags(train, "model", Seq2SeqConfig, skip=MODEL_NOT_FLAGS)
    train.set_defaults(handler=run_g2p_train)
    evaluate = actions.add_parser("eval", help="WER and PER of a checkpoint on a split")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--split", default="test", choices=("valid", "test"))
    evaluate.add_argument("--beam", type=int, default=1, help="beam width (1: greedy)")
    evaluate.set_defaults(handler=run_g2p_eval)
    attention = actions.add_parser("attention", help="attention heat maps as a PNG")
    attention.add_argument("--checkpoint", required=True)
    attention.add_argument("--words", nargs="+", required=True)
    attention.add_argument("--out", required=True, help="PNG file to write")
    attention.set_defaults(handler=run_g2p_attention)
    translate = commands.add_parser("translate", help="words from stdin to phonemes")
    translate.add_argument("--checkpoint", required=True)
    translate.add_argument("--beam", type=int, default=5, help="beam width (1: greedy)")
    translate.set_defaults(handler=run_translate)


def run_g2p_train(args: argparse.Namespace) -> int:
    from rnnkit.cli import section_values
    from rnnkit.training.g2p import train_g2p

    config = replace(G2PConfig(), **section_values(args, "g2p"))
    model_config = replace(Seq2SeqConfig(), **section_values(args, "model"))
    results = train_g2p(config, model_config)
    print(json.dumps({key: results[key] for key in ("parameters", "trained_s", "test_greedy",
                                                    "test_beam")}))
    return 0


def run_g2p_eval(args: argparse.Namespace) -> int:
    from rnnkit.training.checkpoint import load_checkpoint
    from rnnkit.training.g2p import evaluate_words, g2p_model_from, load_g2p_data

    saved = load_checkpoint(args.checkpoint, tag="best")
    config = G2PConfig(**saved.config["g2p"])
    model, _, _ = g2p_model_from(saved)
    data = load_g2p_data(config)
    print(json.dumps(evaluate_words(model, data, args.split, config, beam_width=args.beam)))
    return 0


def run_g2p_attention(args: argparse.Namespace) -> int:
    from rnnkit.training.g2p import plot_attention

    model, letters, phonemes = _load(args.checkpoint)
    print(plot_attention(model, letters, phonemes, [w.lower() for w in args.words], args.out))
    return 0


def run_translate(args: argparse.Namespace) -> int:
    from rnnkit.training.g2p import pronounce

    model, letters, phonemes = _load(args.checkpoint)
    for number, line in enumerate(sys.stdin, start=1):
        word = line.strip().lower()
        if not word:
            raise ValueError(f"line {number} is empty: give one word per line")
        letters.encode(word, f"line {number}")  # names the line of an unknown character
        output = pronounce(model, letters, phonemes, [word], 32, beam_width=max(args.beam, 1))[0]
        print(f"{word}\t{' '.join(output)}", flush=True)
    return 0


def _load(checkpoint: str):
    from rnnkit.training.g2p import load_g2p_model

    return load_g2p_model(checkpoint)
