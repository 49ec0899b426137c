"""What ``precision = "auto"`` chooses for each language-model recipe on this machine.

For every recipe named (default: the shipped language-model and music recipes) the
recipe's model is built at its data's vocabulary size and given a batch of its shape
(``batch_size`` x ``seq_len`` random tokens: speed does not depend on which tokens), and
:func:`rnnkit.training.auto_precision.choose_precision` probes it exactly as a run does
at its start, with ``--steps`` timed steps per precision. Prints the choice, the time per
step of each precision and the loss difference.

    python benchmarks/auto_precision_choice.py --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from common import machine_line, print_table
from torch.nn import functional as F

from rnnkit.models.factory import build_language_model
from rnnkit.recipes import config_path
from rnnkit.tasks.language_model.training import probe_model_config
from rnnkit.training.auto_precision import candidates, choose_precision
from rnnkit.training.config import RunConfig, apply_overrides, read_toml

#: Vocabulary sizes of the recipes' data sets (docs/results.md, docs/music.md).
VOCABULARY = {"shakespeare": 84, "ptb": 10000, "irish_abc": 83, "oneills_abc": 83}
RECIPES = ("shakespeare_char", "shakespeare_char_long", "shakespeare_char_mingru",
           "shakespeare_char_minlstm", "shakespeare_char_transformer", "zaremba_small",
           "zaremba_medium", "irish_folk_small")


def probe(recipe: str, steps: int, seed: int) -> list[object]:
    tables = read_toml(config_path(recipe))
    tables.pop("task", None)  # a music recipe's own table: not the model's business here
    config = apply_overrides(RunConfig(), tables)
    vocab = VOCABULARY[config.data.dataset]
    model_config = probe_model_config(dataclasses.replace(config.model, vocab_size=vocab))
    torch.manual_seed(seed)
    model = build_language_model(model_config).train()
    batch, length = config.train.batch_size, config.train.seq_len
    tokens = torch.randint(0, vocab, (batch, length + 1))

    def loss_of() -> torch.Tensor:
        logits, _ = model(tokens[:, :-1])
        return F.cross_entropy(logits.reshape(-1, vocab).float(), tokens[:, 1:].reshape(-1))

    choice = choose_precision(loss_of, model, torch.device("cpu"), steps=steps)
    fp32 = choice.step_seconds["fp32"]
    bf16 = choice.step_seconds.get("bf16")
    shape = (f"{model_config.num_layers}x{model_config.hidden_size} {model_config.cell}"
             if model_config.architecture == "rnn" else
             f"{model_config.num_layers}x{model_config.hidden_size} transformer")
    return [recipe, shape, f"{batch}x{length}", f"{fp32 * 1e3:.1f}",
            "-" if bf16 is None else f"{bf16 * 1e3:.1f}",
            "-" if bf16 is None else f"{fp32 / bf16:.2f}",
            "-" if bf16 is None else f"{choice.losses['bf16'] - choice.losses['fp32']:+.4f}",
            f"**{choice.chosen}**"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    print(f"# candidates here: {candidates(torch.device('cpu')) or 'none (fp32 only)'}; "
          f"{args.steps} timed steps per precision after one warm-up, seed {args.seed}")
    start = time.perf_counter()
    rows = []
    for recipe in args.recipes:
        rows.append(probe(recipe, args.steps, args.seed))
        print(f"{recipe} done", flush=True)
    print_table(["recipe", "model", "batch x seq", "fp32 ms/step", "bf16 ms/step",
                 "bf16 speed-up", "bf16 - fp32 loss", "auto chooses"], rows)
    print(f"# wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
