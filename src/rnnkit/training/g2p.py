"""Grapheme-to-phoneme training and evaluation for :class:`~rnnkit.models.seq2seq.Seq2Seq`
and its Transformer baseline (``Seq2SeqConfig(architecture="transformer")``).

The CMU dictionary is split by word (:func:`rnnkit.data.cmudict.split_words`); every
pronunciation of a training word is a training pair, and a held-out word is scored against
all of its pronunciations (:mod:`rnnkit.training.sequence_metrics`). Each epoch visits the
training pairs in length buckets, then greedy-decodes ``eval_words`` validation words for
word and phoneme error rates; the best epoch by validation word error rate is kept
(checkpoint tag ``best``), and the run ends with the test split decoded greedily and with
a beam.

This loop is written for sequence pairs alone; the language-model trainer
(:mod:`rnnkit.training.trainer`) does not run it yet.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnkit.atomic import atomic_write_json
from rnnkit.data.cmudict import Pronunciations, parse_cmudict, split_words
from rnnkit.data.pairs import PAD_ID, SymbolTable, bucketed_batches, pad_batch
from rnnkit.data.registry import load_splits
from rnnkit.decode import beam_search, greedy_decode
from rnnkit.models.factory import build_seq2seq
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnkit.training.clipping import clip_gradients
from rnnkit.training.sequence_metrics import error_rates
from rnnkit.training.trainer import resolve_device, seed_everything

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class G2PConfig:
    """Data split and optimization of a G2P run (the model is a :class:`Seq2SeqConfig`)."""

    split_seed: int = 0
    strip_stress: bool = False  # the 39-phoneme set of most published G2P results
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    batch_size: int = 64
    lr: float = 2e-3
    lr_decay: float = 1.0  # times the rate when validation WER has not improved for 2 epochs
    warmup_steps: int = 0  # batches over which the rate rises linearly to lr
    clip_norm: float = 5.0
    epochs: int = 10
    max_time: float | None = None  # minutes of training, evaluation excluded
    teacher_forcing: float = 1.0
    eval_words: int = 2000
    beam_width: int = 5
    max_output: int = 32
    seed: int = 1337
    out_dir: str = "runs/g2p"
    progress: bool = True
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.warmup_steps < 0:
            raise ValueError(f"G2PConfig expected warmup_steps >= 0, got {self.warmup_steps}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"G2PConfig expected lr_decay in (0, 1] (1 keeps the rate), "
                             f"got {self.lr_decay}")


@dataclass
class G2PData:
    """The split dictionary and the symbol tables of both sides."""

    splits: dict[str, Pronunciations]
    letters: SymbolTable
    phonemes: SymbolTable

    def pairs(self, split: str) -> list[tuple[list[int], list[int]]]:
        """Every (word, pronunciation) pair of a split, as ids."""
        return [(self.letters.encode(word, "word"), self.phonemes.encode(pron, "phonemes"))
                for word, prons in self.splits[split].items() for pron in prons]


def load_g2p_data(config: G2PConfig, text: str | None = None) -> G2PData:
    """Read and split the CMU dictionary (``text`` replaces the registry's copy)."""
    entries = parse_cmudict(text if text is not None else load_splits("cmudict")["text"])
    if config.strip_stress:
        entries = strip_stress(entries)
    splits = split_words(entries, valid_fraction=config.valid_fraction,
                         test_fraction=config.test_fraction, seed=config.split_seed)
    train = splits["train"]
    letters = SymbolTable.build(entries)  # every letter, so no held-out word is unknown
    phonemes = SymbolTable.build(pron for prons in train.values() for pron in prons)
    return G2PData(splits, letters, phonemes)


def strip_stress(entries: Pronunciations) -> Pronunciations:
    """The pronunciations without their stress digits (``AH0`` -> ``AH``), duplicates that
    this makes (``AH0``/``AH1`` variants) kept once."""
    stripped: Pronunciations = {}
    for word, prons in entries.items():
        unique = dict.fromkeys(tuple(phoneme.rstrip("012") for phoneme in pron)
                               for pron in prons)
        stripped[word] = list(unique)
    return stripped


def train_g2p(config: G2PConfig, model_config: Seq2SeqConfig,
              text: str | None = None) -> dict[str, Any]:
    """Train, keep the best epoch, evaluate it on the test split; returns the results
    (also written to ``out_dir/results.json``)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    data = load_g2p_data(config, text)
    model_config = Seq2SeqConfig(**{**asdict(model_config),
                                    "source_vocab_size": len(data.letters),
                                    "target_vocab_size": len(data.phonemes)})
    model = build_seq2seq(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=config.lr_decay,
                                                           patience=1)
                if config.lr_decay < 1.0 else None)
    train_pairs = data.pairs("train")
    out_dir = Path(config.out_dir)
    history, best_wer, trained_s, steps = [], math.inf, 0.0, 0
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        seconds, steps = _train_epoch(model, optimizer, train_pairs, config, epoch, steps,
                                      generator, device, None if config.max_time is None
                                      else config.max_time * 60 - trained_s)
        trained_s += seconds
        rates = evaluate_words(model, data, "valid", config, limit=config.eval_words)
        history.append({"epoch": epoch + 1, "trained_s": round(trained_s, 1),
                        "lr": optimizer.param_groups[0]["lr"], **rates})
        log.info("epoch %d: validation WER %.4f, PER %.4f (%.0f s of training)", epoch + 1,
                 rates["word_error_rate"], rates["phoneme_error_rate"], trained_s)
        if schedule is not None:
            schedule.step(rates["word_error_rate"])
        _save(model, data, config, history, out_dir, "latest")
        if rates["word_error_rate"] < best_wer:
            best_wer = rates["word_error_rate"]
            _save(model, data, config, history, out_dir, "best")
        if config.max_time is not None and trained_s >= config.max_time * 60:
            break
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    results = {"parameters": sum(p.numel() for p in model.parameters()),
               "trained_s": round(trained_s, 1), "history": history,
               "split_words": {name: len(part) for name, part in data.splits.items()},
               "test_greedy": evaluate_words(model, data, "test", config),
               "test_beam": evaluate_words(model, data, "test", config,
                                           beam_width=config.beam_width),
               "test_by_length": error_by_length(model, data, "test", config)}
    atomic_write_json(out_dir / "results.json", results)
    return results


def _train_epoch(model: Seq2Seq, optimizer: torch.optim.Optimizer, pairs, config: G2PConfig,
                 epoch: int, steps: int, generator: torch.Generator, device: torch.device,
                 budget_s: float | None) -> tuple[float, int]:
    """One pass over the training pairs (or until ``budget_s`` seconds) from optimizer step
    ``steps``; returns the seconds it took and the steps taken by its end."""
    model.train()
    batches = bucketed_batches(pairs, config.batch_size, seed=config.seed + epoch)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}", disable=not config.progress, unit="batch")
    seconds, words = 0.0, 0
    for batch in bar:
        start = time.perf_counter()
        batch = batch.to(device)
        if steps < config.warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * (steps + 1) / config.warmup_steps
        output = model(batch.source, batch.source_lengths, batch.target_input,
                       teacher_forcing=config.teacher_forcing, generator=generator)
        loss = F.cross_entropy(output.logits.reshape(-1, output.logits.shape[-1]),
                               batch.target_output.reshape(-1), ignore_index=PAD_ID)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), clip_norm=config.clip_norm, clip_value=None)
        optimizer.step()
        steps += 1
        seconds += time.perf_counter() - start
        words += batch.source.shape[0]
        bar.set_postfix({"loss": f"{loss.item():.3f}", "words/s": f"{words / seconds:.0f}"},
                        refresh=False)
        if budget_s is not None and seconds >= budget_s:
            break
    bar.close()
    return seconds, steps


@torch.no_grad()
def pronounce(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable, words: list[str],
              max_output: int, beam_width: int = 1) -> list[list[str]]:
    """Pronunciations of ``words`` (greedy with width 1, else beam search), 256 at a time."""
    device = next(model.parameters()).device
    results: list[list[str]] = []
    for start in range(0, len(words), 256):
        chunk = words[start:start + 256]
        batch = pad_batch([(letters.encode(w, "word"), [0]) for w in chunk]).to(device)
        if beam_width == 1:
            ids = greedy_decode(model, batch.source, batch.source_lengths, max_output)
        else:
            ids = beam_search(model, batch.source, batch.source_lengths, max_output,
                              beam_width=beam_width)
        results.extend(phonemes.decode(row) for row in ids)
    return results


def decode_words(model: Seq2Seq, data: G2PData, words: list[str], config: G2PConfig,
                 beam_width: int = 1) -> list[list[str]]:
    """:func:`pronounce` with a run's symbol tables and output bound."""
    return pronounce(model, data.letters, data.phonemes, words, config.max_output, beam_width)


def evaluate_words(model: Seq2Seq, data: G2PData, split: str, config: G2PConfig,
                   limit: int | None = None, beam_width: int = 1) -> dict[str, float]:
    """Word and phoneme error rates on a split, or on ``limit`` of its words taken at
    even steps through the (alphabetical) word list."""
    words = list(data.splits[split])
    if limit is not None and limit < len(words):
        words = words[::len(words) // limit][:limit]
    hypotheses = decode_words(model, data, words, config, beam_width)
    return error_rates(hypotheses, [data.splits[split][w] for w in words])


def error_by_length(model: Seq2Seq, data: G2PData, split: str,
                    config: G2PConfig) -> list[dict[str, float]]:
    """Greedy word and phoneme error rates per word length (letters), for the bottleneck."""
    words = list(data.splits[split])
    hypotheses = decode_words(model, data, words, config)
    by_length: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        by_length.setdefault(len(word), []).append(index)
    rows = []
    for length in sorted(by_length):
        chosen = by_length[length]
        rates = error_rates([hypotheses[i] for i in chosen],
                            [data.splits[split][words[i]] for i in chosen])
        rows.append({"length": length, "words": len(chosen), **rates})
    return rows


def _save(model: Seq2Seq, data: G2PData, config: G2PConfig, history: list[dict],
          out_dir: Path, tag: str) -> None:
    save_checkpoint(out_dir, model_state=dict(model.state_dict()),
                    config={"model": asdict(model.config), "g2p": asdict(config)},
                    vocab={"letters": data.letters.to_dict(),
                           "phonemes": data.phonemes.to_dict()},
                    trainer_state={"history": history}, tag=tag)


def load_g2p_model(checkpoint: str | Path, tag: str = "best"
                   ) -> tuple[Seq2Seq, SymbolTable, SymbolTable]:
    """The model and the letter and phoneme tables of a G2P checkpoint (no pickle)."""
    return g2p_model_from(load_checkpoint(checkpoint, tag=tag))


def g2p_model_from(saved: Checkpoint) -> tuple[Seq2Seq, SymbolTable, SymbolTable]:
    """:func:`load_g2p_model` for a checkpoint already loaded."""
    model = build_seq2seq(Seq2SeqConfig(**saved.config["model"]))
    model.load_state_dict(saved.model_state)
    return (model.eval(), SymbolTable.from_dict(saved.vocab["letters"]),
            SymbolTable.from_dict(saved.vocab["phonemes"]))


@torch.no_grad()
def attention_weights(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable,
                      word: str, max_output: int = 32) -> tuple[list[str], torch.Tensor]:
    """The greedy pronunciation of ``word`` and the attention weights that produced it,
    (output steps including the end token, letters)."""
    if model.config.architecture == "transformer":
        raise ValueError("a Transformer has one attention map per head and layer: there is "
                         "no single alignment to show")
    if not model.has_attention:
        raise ValueError(f"this model has attention={model.config.attention!r}: there are "
                         "no attention weights to show")
    ids = letters.encode(word, "word")
    source, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    output = greedy_decode(model, source, lengths, max_output)[0]
    target = torch.tensor([[model.config.bos_id, *output]])
    weights = model(source, lengths, target).attention[0]  # (output + 1, letters)
    return phonemes.decode(output), weights


def plot_attention(model: Seq2Seq, letters: SymbolTable, phonemes: SymbolTable,
                   words: list[str], path: str | Path) -> Path:
    """One heat map per word: output phonemes (rows) against input letters (columns)."""
    from rnnkit.plotting import pyplot, save_figure

    plt = pyplot()
    figure, axes = plt.subplots(1, len(words), figsize=(3.2 * len(words), 3.6), squeeze=False)
    for axis, word in zip(axes[0], words, strict=True):
        output, weights = attention_weights(model, letters, phonemes, word)
        axis.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axis.set_xticks(range(len(word)), list(word))
        axis.set_yticks(range(len(output) + 1), [*output, "</s>"])
        axis.set_title(word)
    figure.suptitle(f"attention ({model.config.attention}): phonemes against letters")
    figure.tight_layout()
    return save_figure(figure, path)
