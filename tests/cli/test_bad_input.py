"""Bad input to every command: one clear line naming the option or file, never a traceback.

Each case is ``(argv, fragments)``: the command must exit non-zero (argparse's 2 or the
handler's 1), print no traceback, end its stderr with exactly one ``rnnkit ...: error:``
line, and that line must hold every fragment (the flag, ``[section] key`` or file, and
usually the value). Almost every case fails while the arguments or the config are read,
before any data is loaded or any model is built, so the battery runs in-process in a few
seconds. ``{tmp}`` stands for a folder of prepared files and ``{ckpt}`` for the run folder
of a tiny language model saved once for the module.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main, run_handler
from rnnkit.data.vocab import Vocabulary
from rnnkit.models.language_model import LanguageModel
from rnnkit.training.checkpoint import model_state_for_saving, save_checkpoint
from rnnkit.training.config import RunConfig, TrainConfig

MISSING = "{tmp}/no_such_file"
NOT_UTF8 = b"hello \xff\xfe world\n"

# name -> contents of the files every case may name as {tmp}/<name>
FILES: dict[str, bytes | str] = {
    "text.txt": "the cat sat on the mat\n" * 40,
    "empty.txt": "",
    "latin1.txt": NOT_UTF8,
    "latin1.csv": b"text,label\n\xe9t\xe9,1\n",
    "series.csv": "month,value\n1,2\n2,3\n",
    "resume.toml": '[train]\nresume = "no"\n',
    "lr_nan.toml": "[train]\nlr = nan\n",
    "clip_inf.toml": "[train]\nclip_norm = inf\n",
    "hidden_str.toml": '[model]\nhidden_size = "big"\n',
    "steps_float.toml": "[train]\nmax_steps = 1.5\n",
    "steps_zero.toml": "[train]\nmax_steps = 0\n",
    "warmup.toml": "[train]\nwarmup_steps = -5\n",
    "momentum.toml": "[train]\nmomentum = 1.0\n",
    "dropout_bool.toml": "[model]\ndropout = true\n",
    "compile_int.toml": "[train]\ncompile = 1\n",
    "cell_int.toml": "[model]\ncell = 3\n",
    "valid_two.toml": "[data]\nvalid_fraction = 2.0\n",
    "broken.toml": "[train\nlr = 1\n",
    "not_table.toml": "train = 3\n",
    "unknown_key.toml": "[model]\nhiden_size = 9\n",
    "unknown_section.toml": "[optim]\nlr = 1\n",
    "latin1.toml": b'[train]\nout_dir = "caf\xe9"\n',
    "both_clips.toml": "[train]\nclip_value = 1.0\n",
    "classify_lr.toml": '[task]\nname = "classify"\n[train]\nlr = "fast"\n',
    "classify_table.toml": "[train]\nlr = 0.1\n",
    "forecast_window.toml": '[task]\nname = "forecast"\nwindow = 0\n',
    "tag_resume.toml": '[task]\nname = "tag"\n[data]\nlowercase = "yes"\n',
    "music_condition.toml": '[task]\nname = "music"\ncondition = "key"\n',
}

CASES: list[tuple[list[str], list[str]]] = [
    # --- train: the language-model flags, checked as they are parsed --------------------
    (["train", "--clip-norm", "-1"], ["--clip-norm", "> 0 or none", "got -1"]),
    (["train", "--clip-norm", "nan"], ["--clip-norm", "finite", "nan"]),
    (["train", "--clip-value", "0"], ["--clip-value", "> 0", "got 0"]),
    (["train", "--warmup-steps", "-5"], ["--warmup-steps", ">= 0", "-5"]),
    (["train", "--max-steps", "0"], ["--max-steps", ">= 1", "got 0"]),
    (["train", "--max-steps", "-3"], ["--max-steps", "-3"]),
    (["train", "--max-time", "-1"], ["--max-time", "> 0", "-1"]),
    (["train", "--max-time", "0"], ["--max-time", "> 0"]),
    (["train", "--max-epochs", "0"], ["--max-epochs", ">= 1"]),
    (["train", "--lr", "nan"], ["--lr", "finite", "nan"]),
    (["train", "--lr", "0"], ["--lr", "> 0"]),
    (["train", "--lr", "-0.1"], ["--lr", "-0.1"]),
    (["train", "--lr", "inf"], ["--lr", "inf"]),
    (["train", "--lr", "1e309"], ["--lr", "1e309"]),
    (["train", "--lr", "fast"], ["--lr", '"fast"']),
    (["train", "--momentum", "1"], ["--momentum", "[0, 1)"]),
    (["train", "--momentum", "-0.5"], ["--momentum", "-0.5"]),
    (["train", "--weight-decay", "-1"], ["--weight-decay", ">= 0"]),
    (["train", "--decay-factor", "0"], ["--decay-factor", "(0, 1]"]),
    (["train", "--decay-factor", "1.5"], ["--decay-factor", "1.5"]),
    (["train", "--min-lr", "-1"], ["--min-lr", ">= 0"]),
    (["train", "--decay-steps", "0"], ["--decay-steps", ">= 1"]),
    (["train", "--plateau-patience", "-1"], ["--plateau-patience", ">= 0"]),
    (["train", "--batch-size", "0"], ["--batch-size", "got 0"]),
    (["train", "--batch-size", "2.5"], ["--batch-size", "an int", "2.5"]),
    (["train", "--batch-size", "99999999"], ["--batch-size", "99999999"]),
    (["train", "--seq-len", "0"], ["--seq-len"]),
    (["train", "--eval-every", "0"], ["--eval-every"]),
    (["train", "--eval-batch-size", "0"], ["--eval-batch-size"]),
    (["train", "--eval-window", "0"], ["--eval-window"]),
    (["train", "--eval-max-tokens", "0"], ["--eval-max-tokens"]),
    (["train", "--early-stop-patience", "0"], ["--early-stop-patience"]),
    (["train", "--explode-factor", "0"], ["--explode-factor", "> 0"]),
    (["train", "--log-every", "0"], ["--log-every"]),
    (["train", "--sample-length", "-1"], ["--sample-length"]),
    (["train", "--seed", "-1"], ["--seed", "got -1"]),
    (["train", "--threads", "0"], ["--threads"]),
    (["train", "--optimizer", "adagrad"], ["--optimizer", '"adam"', '"adagrad"']),
    (["train", "--schedule", "linear"], ["--schedule", '"cosine"']),
    (["train", "--device", "tpu"], ["--device", '"tpu"']),
    (["train", "--precision", "fp64"], ["--precision", '"fp64"']),
    (["train", "--hidden-size", "0"], ["--hidden-size", "got 0"]),
    (["train", "--hidden-size", "100000000"], ["--hidden-size", "65536"]),
    (["train", "--embedding-size", "0"], ["--embedding-size"]),
    (["train", "--num-layers", "0"], ["--num-layers"]),
    (["train", "--num-layers", "100000"], ["--num-layers", "100000"]),
    (["train", "--dropout", "1"], ["--dropout", "[0, 1)"]),
    (["train", "--dropout", "-0.1"], ["--dropout", "-0.1"]),
    (["train", "--recurrent-dropout", "1.5"], ["--recurrent-dropout"]),
    (["train", "--weight-dropout", "nan"], ["--weight-dropout", "nan"]),
    (["train", "--cell", "transformer"], ["--cell", '"lstm"']),
    (["train", "--architecture", "cnn"], ["--architecture", '"cnn"']),
    (["train", "--embedding", "onehot"], ["--embedding", '"one-hot"']),
    (["train", "--init", "random"], ["--init", '"orthogonal"']),
    (["train", "--num-heads", "0"], ["--num-heads"]),
    (["train", "--context", "0"], ["--context"]),
    (["train", "--proj-size", "-1"], ["--proj-size"]),
    (["train", "--forget-bias", "nan"], ["--forget-bias", "nan"]),
    (["train", "--condition-size", "0"], ["--condition-size"]),
    (["train", "--valid-fraction", "0"], ["--valid-fraction", "(0, 1)"]),
    (["train", "--valid-fraction", "1"], ["--valid-fraction", "got 1"]),
    (["train", "--max-vocab", "1"], ["--max-vocab", ">= 2"]),
    (["train", "--level", "byte"], ["--level", '"char"']),
    (["train", "--split-seed", "-1"], ["--split-seed"]),
    (["train", "--nproc", "0"], ["--nproc", "got 0"]),
    (["train", "--nproc", "two"], ["--nproc", '"two"']),
    (["train", "--hidden-size"], ["--hidden-size", "expected one argument"]),
    (["train", "--task", "bogus"], ["--task", "bogus"]),
    (["train", "--task", "seq2seq"], ["--task seq2seq", "--dataset"]),
    (["train", "--task", "seq2seq", "--dataset", "wmt"], ["--dataset", "wmt"]),
    (["train", "--task", "classify", "--lr", "-1"], ["--lr", "-1"]),
    # --- train: rules between fields ----------------------------------------------------
    (["train", "--clip-value", "1"], ["clip_norm", "clip_value", "none"]),
    (["train", "--min-lr", "1", "--lr", "0.1"], ["min_lr", "lr", "0.1"]),
    (["train", "--max-steps", "none"], ["needs a bound", "max_steps"]),
    (["train", "--proj-size", "600"], ["proj_size", "hidden_size", "600"]),
    (["train", "--peephole", "--cell", "gru"], ["peephole", "gru"]),
    (["train", "--architecture", "transformer", "--hidden-size", "10"], ["num_heads", "10"]),
    # --- train: values from a config file name the file, the table and the key ----------
    (["train", "--config", "{tmp}/resume.toml"],
     ["resume.toml", "[train] resume", "bool (true/false)", 'got "no"']),
    (["train", "--config", "{tmp}/lr_nan.toml"], ["lr_nan.toml", "[train] lr", "nan"]),
    (["train", "--config", "{tmp}/clip_inf.toml"], ["clip_inf.toml", "[train] clip_norm", "inf"]),
    (["train", "--config", "{tmp}/hidden_str.toml"],
     ["hidden_str.toml", "[model] hidden_size", '"big"']),
    (["train", "--config", "{tmp}/steps_float.toml"],
     ["steps_float.toml", "[train] max_steps", "an int", "1.5"]),
    (["train", "--config", "{tmp}/steps_zero.toml"], ["steps_zero.toml", "[train] max_steps"]),
    (["train", "--config", "{tmp}/warmup.toml"], ["warmup.toml", "[train] warmup_steps", "-5"]),
    (["train", "--config", "{tmp}/momentum.toml"], ["momentum.toml", "[train] momentum"]),
    (["train", "--config", "{tmp}/dropout_bool.toml"],
     ["dropout_bool.toml", "[model] dropout", "True"]),
    (["train", "--config", "{tmp}/compile_int.toml"],
     ["compile_int.toml", "[train] compile", "bool"]),
    (["train", "--config", "{tmp}/cell_int.toml"], ["cell_int.toml", "[model] cell", "got 3"]),
    (["train", "--config", "{tmp}/valid_two.toml"],
     ["valid_two.toml", "[data] valid_fraction", "2.0"]),
    (["train", "--config", "{tmp}/broken.toml"], ["broken.toml", "not valid TOML"]),
    (["train", "--config", "{tmp}/not_table.toml"], ["not_table.toml", "[train]", "table"]),
    (["train", "--config", "{tmp}/unknown_key.toml"], ["unknown_key.toml", "hiden_size"]),
    (["train", "--config", "{tmp}/unknown_section.toml"], ["unknown_section.toml", "optim"]),
    (["train", "--config", "{tmp}/latin1.toml"], ["latin1.toml", "not UTF-8", "offset 22"]),
    (["train", "--config", MISSING], ["config file", "no_such_file", "does not exist"]),
    (["train", "--config", "{tmp}"], ["config file", "not a regular file"]),
    (["train", "--config", "{tmp}/both_clips.toml"], ["both_clips.toml", "clip_value"]),
    # --- train: input files -------------------------------------------------------------
    (["train", "--text-file", "{tmp}/latin1.txt", "--out-dir", "{tmp}/run"],
     ["latin1.txt", "not UTF-8", "0xff", "offset 6"]),
    (["train", "--text-file", MISSING, "--out-dir", "{tmp}/run"],
     ["no_such_file", "does not exist"]),
    (["train", "--text-file", "{tmp}/empty.txt", "--out-dir", "{tmp}/run"],
     ["empty.txt", "empty"]),
    (["train", "--dataset", "no_such_corpus", "--out-dir", "{tmp}/run"],
     ["no_such_corpus", "shakespeare"]),
    # --- eval ---------------------------------------------------------------------------
    (["eval", "--checkpoint", "{ckpt}", "--window", "0"], ["--window", "got 0"]),
    (["eval", "--checkpoint", "{ckpt}", "--window", "-5"], ["--window", "-5"]),
    (["eval", "--checkpoint", MISSING], ["no_such_file", "does not exist"]),
    (["eval", "--checkpoint", "{ckpt}", "--split", "dev"], ["--split", "dev"]),
    (["eval", "--checkpoint", "{ckpt}", "--tag", "../up"], ["--tag", "../up"]),
    (["eval", "--checkpoint", "{ckpt}", "--tag", "nosuch"], ["nosuch", "latest"]),
    (["eval", "--checkpoint", "{ckpt}", "--text-file", "{tmp}/latin1.txt"],
     ["latin1.txt", "not UTF-8"]),
    (["eval", "--checkpoint", "{ckpt}", "--text-file", MISSING], ["no_such_file"]),
    (["eval"], ["--checkpoint", "required"]),
    # --- sample -------------------------------------------------------------------------
    (["sample", "--checkpoint", "{ckpt}", "--length", "0"], ["--length", "got 0"]),
    (["sample", "--checkpoint", "{ckpt}", "--length", "many"], ["--length", '"many"']),
    (["sample", "--checkpoint", "{ckpt}", "--temperature", "nan"], ["--temperature", "nan"]),
    (["sample", "--checkpoint", "{ckpt}", "--temperature", "-1"], ["--temperature", "-1"]),
    (["sample", "--checkpoint", "{ckpt}", "--top-k", "0"], ["--top-k", ">= 1"]),
    (["sample", "--checkpoint", "{ckpt}", "--top-p", "0"], ["--top-p", "(0, 1]"]),
    (["sample", "--checkpoint", "{ckpt}", "--top-p", "1.5"], ["--top-p", "1.5"]),
    (["sample", "--checkpoint", "{ckpt}", "--seed", "-1"], ["--seed", "-1"]),
    (["sample", "--checkpoint", "{ckpt}", "--device", "gpu"], ["--device", "gpu"]),
    (["sample", "--checkpoint", "{ckpt}", "--prime", "xyz"], ["'x'"]),
    # --- data ---------------------------------------------------------------------------
    (["data", "fetch", "no_such_set"], ["no_such_set", "rnnkit data list"]),
    (["data", "fetch"], ["name", "required"]),
    (["data", "bogus"], ["bogus"]),
    # --- diagnose gradients -------------------------------------------------------------
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--length", "1"],
     ["--length", "[2, 100000]", "got 1"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--hidden-size", "0"],
     ["--hidden-size"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--hidden-size",
      "100000"], ["--hidden-size", "100000"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--input-size", "0"],
     ["--input-size"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--batch-size", "0"],
     ["--batch-size"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--forget-bias", "inf"],
     ["--forget-bias", "inf"]),
    (["diagnose", "gradients", "--cell", "lstm", "--out", "{tmp}/d", "--seed", "-1"],
     ["--seed"]),
    (["diagnose", "gradients", "--cell", "nope", "--out", "{tmp}/d"], ["--cell", "nope"]),
    (["diagnose", "gradients", "--cell", "lstm"], ["--out", "required"]),
    # --- task adding / copy / digits ----------------------------------------------------
    (["task", "adding", "--cell", "lstm", "--length", "1"], ["length", ">= 2", "got 1"]),
    (["task", "adding", "--cell", "lstm", "--length", "0"], ["--length", "got 0"]),
    (["task", "copy", "--cell", "lstm", "--length", "0"], ["--length", "got 0"]),
    (["task", "digits", "--cell", "lstm", "--lr", "inf"], ["--lr", "inf"]),
    (["task", "adding", "--cell", "lstm", "--clip-norm", "0"], ["--clip-norm", "> 0"]),
    (["task", "adding", "--cell", "lstm", "--clip-value", "-1"], ["--clip-value", "-1"]),
    (["task", "adding", "--cell", "lstm", "--hidden-size", "0"], ["--hidden-size"]),
    (["task", "adding", "--cell", "lstm", "--max-steps", "0"], ["--max-steps"]),
    (["task", "adding", "--cell", "lstm", "--batch-size", "0"], ["--batch-size"]),
    (["task", "adding", "--cell", "lstm", "--test-size", "0"], ["--test-size"]),
    (["task", "adding", "--cell", "lstm", "--eval-every", "0"], ["--eval-every"]),
    (["task", "adding", "--cell", "lstm", "--target", "-1"], ["target", "-1"]),
    (["task", "copy", "--cell", "lstm", "--target", "2"], ["target", "[0, 1]"]),
    (["task", "adding", "--cell", "lstm", "--seed", "-1"], ["--seed"]),
    (["task", "adding", "--cell", "lstm", "--forget-bias", "nan"], ["--forget-bias", "nan"]),
    (["task", "adding", "--cell", "lstm", "--optimizer", "adagrad"], ["--optimizer"]),
    (["task", "digits", "--cell", "lstm", "--pixel-order", "cols"], ["--pixel-order"]),
    (["task", "adding", "--resume"], ["resume continues the run in out_dir"]),
    # --- music --------------------------------------------------------------------------
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--n", "0"],
     ["--n", "got 0"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--temperature",
      "-0.5"], ["--temperature", ">= 0", "-0.5"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--top-p", "2"],
     ["--top-p", "got 2"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--top-k", "0"],
     ["--top-k"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--max-length",
      "0"], ["--max-length"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--seed", "-1"],
     ["--seed"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--condition",
      "both"], ["--condition", "both"]),
    (["music", "generate", "--checkpoint", "{ckpt}", "--out", "{tmp}/m", "--condition",
      "vector", "--no-midi"], ["--condition vector", "key_meter"]),
    (["music", "play", MISSING], ["no_such_file", "does not exist"]),
    (["music", "play", "{tmp}/latin1.txt"], ["latin1.txt", "not UTF-8"]),
    (["music", "play", "{tmp}/text.txt"], ["text.txt", "not an ABC file"]),
    (["music", "play", "{tmp}/text.txt", "--tune", "0"], ["--tune", "got 0"]),
    (["music", "train", "--lr", "nan"], ["--lr", "nan"]),
    (["music", "train", "--config", "{tmp}/resume.toml"], ["resume.toml", "[train] resume"]),
    (["music", "train", "--condition", "key"], ["--condition", '"key_meter"']),
    (["music", "train", "--condition", "key_meter", "--level", "word"],
     ["[task] condition", "key_meter", "level", "'word'"]),
    (["music", "train", "--config", "{tmp}/music_condition.toml"],
     ["music_condition.toml", "[task] condition", '"key"']),
    # --- export -------------------------------------------------------------------------
    (["export", "--checkpoint", "{ckpt}", "--format", "pickle", "--out", "{tmp}/x"],
     ["--format", "pickle"]),
    (["export", "--checkpoint", "{ckpt}", "--format", "onnx", "--out", "{tmp}/x", "--tag",
      "a/b"], ["--tag", "a/b"]),
    (["export", "--checkpoint", MISSING, "--format", "onnx", "--out", "{tmp}/x"],
     ["no_such_file"]),
    (["export", "--checkpoint", "{ckpt}", "--format", "onnx"], ["--out", "required"]),
    # --- g2p ----------------------------------------------------------------------------
    (["g2p", "train", "--beam-width", "0"], ["--beam-width", "got 0"]),
    (["g2p", "train", "--teacher-forcing", "1.5"], ["--teacher-forcing", "[0, 1]"]),
    (["g2p", "train", "--valid-fraction", "0"], ["--valid-fraction"]),
    (["g2p", "train", "--valid-fraction", "0.6", "--test-fraction", "0.5"],
     ["valid_fraction + test_fraction", "0.6"]),
    (["g2p", "train", "--eval-words", "0"], ["--eval-words"]),
    (["g2p", "train", "--attention", "cosine"], ["--attention", "cosine"]),
    (["g2p", "train", "--max-length", "0"], ["--max-length"]),
    (["g2p", "train", "--clip-norm", "0"], ["--clip-norm"]),
    (["g2p", "train", "--max-epochs", "0"], ["--max-epochs"]),
    (["g2p", "train", "--average-decay", "1"], ["--average-decay", "[0, 1)"]),
    (["g2p", "train", "--lr-decay", "0"], ["--lr-decay", "(0, 1]"]),
    (["g2p", "train", "--max-time", "nan"], ["--max-time", "nan"]),
    (["g2p", "eval", "--checkpoint", "{ckpt}", "--beam-width", "0"], ["--beam-width", "got 0"]),
    (["g2p", "eval", "--checkpoint", "{ckpt}"], ["not a G2P run", "language-model"]),
    (["g2p", "eval", "--checkpoint", "{ckpt}", "--split", "train"], ["--split"]),
    (["g2p", "attention", "--checkpoint", "{ckpt}", "--words", "ab", "--out", "{tmp}/a.png"],
     ["not a G2P run"]),
    (["g2p", "attention", "--checkpoint", "{ckpt}", "--out", "{tmp}/a.png"],
     ["--words", "required"]),
    # --- translation and translate ------------------------------------------------------
    (["translation", "train", "--output-ratio", "0"], ["--output-ratio", "> 0"]),
    (["translation", "train", "--max-output", "0"], ["--max-output"]),
    (["translation", "train", "--dataset", "wmt"], ["--dataset", "django_de"]),
    (["translation", "train", "--num-heads", "0"], ["--num-heads"]),
    (["translate", "--checkpoint", "{ckpt}", "--beam-width", "0"], ["--beam-width", "got 0"]),
    (["translate", "--checkpoint", "{ckpt}"], ["not a G2P or translation run"]),
    # --- classify -----------------------------------------------------------------------
    (["classify", "train", "--word-dropout", "1"], ["--word-dropout", "[0, 1)"]),
    (["classify", "train", "--adversarial-epsilon", "-1"], ["--adversarial-epsilon"]),
    (["classify", "train", "--distill-weight", "2"], ["--distill-weight", "[0, 1]"]),
    (["classify", "train", "--max-words", "0"], ["--max-words"]),
    (["classify", "train", "--min-count", "0"], ["--min-count"]),
    (["classify", "train", "--pooling", "sum"], ["--pooling", "sum"]),
    (["classify", "train", "--hidden-size", "-4"], ["--hidden-size", "-4"]),
    (["classify", "train", "--dataset", "imdb"], ["dataset", "imdb"]),
    (["classify", "train", "--csv", MISSING, "--out-dir", "{tmp}/c"], ["no_such_file"]),
    (["classify", "train", "--csv", "{tmp}/latin1.csv", "--out-dir", "{tmp}/c"],
     ["latin1.csv", "not UTF-8"]),
    (["classify", "train", "--config", "{tmp}/classify_lr.toml"],
     ["classify_lr.toml", "[train] lr", '"fast"']),
    (["classify", "train", "--config", "{tmp}/classify_table.toml"],
     ["classify_table.toml", "a classify recipe names its task", "rnnkit train --config"]),
    (["classify", "eval", "--checkpoint", "{ckpt}"], ["not a classification checkpoint"]),
    (["classify", "eval"], ["--checkpoint", "required"]),
    # --- tag ----------------------------------------------------------------------------
    (["tag", "train", "--dataset", "conll2003"], ["--dataset", "conll2003"]),
    (["tag", "train", "--file", MISSING, "--out-dir", "{tmp}/t"], ["CoNLL file", "no_such"]),
    (["tag", "train", "--file", "{tmp}/latin1.txt", "--out-dir", "{tmp}/t"],
     ["CoNLL file", "latin1.txt", "not UTF-8"]),
    (["tag", "train", "--max-word-chars", "1"], ["--max-word-chars", ">= 2"]),
    (["tag", "train", "--dataset", "wnut16", "--file", "{tmp}/x"], ["not both"]),
    (["tag", "train", "--char-width", "0"], ["--char-width"]),
    (["tag", "train", "--config", "{tmp}/tag_resume.toml"],
     ["tag_resume.toml", "[data] lowercase", '"yes"']),
    # --- forecast -----------------------------------------------------------------------
    (["forecast", "train", "--window", "0"], ["--window", "got 0"]),
    (["forecast", "train", "--season", "0"], ["--season"]),
    (["forecast", "train", "--dataset", "no_series"], ["--dataset", "no_series"]),
    (["forecast", "train", "--horizon", "0"], ["--horizon"]),
    (["forecast", "train", "--mode", "one-to-one"], ["--mode"]),
    (["forecast", "train", "--csv", "{tmp}/latin1.csv", "--column", "label", "--out-dir",
      "{tmp}/f"], ["latin1.csv", "not UTF-8"]),
    (["forecast", "train", "--csv", "{tmp}/series.csv"], ["column"]),
    (["forecast", "eval", "--checkpoint", MISSING], ["no_such_file"]),
    (["forecast", "train", "--config", "{tmp}/forecast_window.toml"],
     ["forecast_window.toml", "[task] window"]),
    # --- predict and the top level ------------------------------------------------------
    (["predict", "--checkpoint", "{ckpt}"], ["not a classify, tag or forecast run"]),
    (["predict", "--checkpoint", MISSING], ["no_such_file"]),
    ([], ["command", "required"]),
    (["nonsense"], ["nonsense"]),
]


def _case_id(case: tuple[list[str], list[str]]) -> str:
    return " ".join(case[0])[:60] or "(no arguments)"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the cases name, in one folder."""
    folder = tmp_path_factory.mktemp("bad_input")
    for name, contents in FILES.items():
        path = folder / name
        if isinstance(contents, bytes):
            path.write_bytes(contents)
        else:
            path.write_text(contents, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def checkpoint(prepared: Path) -> Path:
    """A language-model run folder holding an untrained tiny model, tagged latest and best
    (made once for the module; nothing runs the model, so no kernel is built)."""
    text = str(FILES["text.txt"])
    vocab = Vocabulary.build(text)
    config = RunConfig.from_dict({
        "data": {"dataset": None, "text_file": str(prepared / "text.txt")},
        "model": {"vocab_size": len(vocab), "hidden_size": 8, "embedding_size": 4,
                  "num_layers": 1},
        "train": {"max_steps": 1, "out_dir": str(prepared / "lm_run")}})
    tensors, aliases = model_state_for_saving(LanguageModel(config.model))
    for tag in ("latest", "best"):
        save_checkpoint(prepared / "lm_run", model_state=tensors, config=config.to_dict(),
                        vocab=vocab.to_dict(), trainer_state={"model_aliases": aliases},
                        tag=tag)
    return prepared / "lm_run"


class ReachedTraining(BaseException):
    """Raised if a case gets past validation into a long-range run (not an ``Exception``,
    so the CLI's handler does not report it as one of its errors)."""


@pytest.fixture(autouse=True)
def nothing_to_fetch_or_train(prepared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If a check that a case relies on were broken, the case must fail at once rather than
    train for minutes or reach for the network: an empty data cache, every download sent
    to a closed local port, and the long-range trainer replaced by a tripwire."""
    monkeypatch.setenv("RNNKIT_DATA", str(prepared / "empty_cache"))
    for name in ("PIP_INDEX_URL", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def tripwire(config: object) -> None:
        raise ReachedTraining(f"validation let {config} through")

    monkeypatch.setattr("rnnkit.tasks.long_range.training.train_long_range", tripwire)


def _expand(argv: list[str], request: pytest.FixtureRequest, prepared: Path) -> list[str]:
    """``{tmp}`` and ``{ckpt}`` replaced by the prepared folder and the trained run."""
    values = {"tmp": str(prepared)}
    if any("{ckpt}" in item for item in argv):
        values["ckpt"] = str(request.getfixturevalue("checkpoint"))
    return [item.format(**values) if "{" in item else item for item in argv]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    return status, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_bad_input_gets_one_line_that_names_it(case, request, prepared, capsys, monkeypatch):
    argv, fragments = case
    monkeypatch.chdir(prepared)  # a run's default folders land in the scratch folder
    status, err = _run(_expand(argv, request, prepared), capsys)
    assert status in (1, 2), err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    error_lines = [line for line in lines if ": error: " in line]
    assert len(error_lines) == 1 and lines[-1] == error_lines[0], err
    assert lines[-1].startswith("rnnkit"), err
    for fragment in fragments:
        assert fragment.format(tmp=prepared) in lines[-1], (fragment, lines[-1])


def test_the_battery_covers_every_command() -> None:
    """Every command and subcommand of ``rnnkit --help`` has bad-input cases."""
    commands = {" ".join(argv[:2]) if argv and argv[0] in SUBCOMMANDED else
                (argv[0] if argv else "") for argv, _ in CASES}
    wanted = {"train", "eval", "sample", "data fetch", "diagnose gradients", "task adding",
              "task copy", "task digits", "music train", "music generate", "music play",
              "export", "g2p train", "g2p eval", "g2p attention", "translation train",
              "translate", "classify train", "classify eval", "tag train", "forecast train",
              "forecast eval", "predict"}
    assert wanted <= commands, wanted - commands
    assert len(CASES) >= 100


SUBCOMMANDED = {"data", "diagnose", "task", "music", "g2p", "translation", "classify", "tag",
                "forecast"}


# --- the handler itself ---------------------------------------------------------------------
def _failing(error: BaseException) -> argparse.Namespace:
    def handler(args: argparse.Namespace) -> int:
        raise error

    return argparse.Namespace(command="train", handler=handler)


def test_an_unexpected_error_is_one_line_with_its_type_and_a_hint(capsys) -> None:
    assert run_handler(_failing(ZeroDivisionError("division by zero"))) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "rnnkit train: error: unexpected ZeroDivisionError: division by zero" in err
    assert "--debug" in err


def test_debug_shows_the_traceback(capsys) -> None:
    assert run_handler(_failing(ZeroDivisionError("division by zero")), debug=True) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("rnnkit train: error:")


def test_memory_and_bare_key_errors_become_sentences(capsys) -> None:
    assert run_handler(_failing(MemoryError())) == 1
    assert "out of memory" in capsys.readouterr().err
    assert run_handler(_failing(KeyError("momentum"))) == 1
    err = capsys.readouterr().err
    assert "the key 'momentum' is missing" in err and err.strip() != "rnnkit train: error: momentum"


def test_standard_input_that_is_not_utf8_is_named(capsys) -> None:
    assert run_handler(_failing(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid"))) == 1
    err = capsys.readouterr().err
    assert "standard input or a file it read is not UTF-8 text: byte 0xff" in err


def test_interrupt_exits_130(capsys) -> None:
    assert run_handler(_failing(KeyboardInterrupt())) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_real_process_prints_one_line_and_no_traceback(prepared: Path) -> None:
    """Two commands in their own processes (run side by side): a flag argparse refuses and a
    config file the handler refuses."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    commands = [["train", "--clip-norm", "-1"],
                ["train", "--config", str(prepared / "resume.toml")]]
    processes = [subprocess.Popen([sys.executable, "-m", "rnnkit", *argv], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for argv in commands]
    (_, flag_err), (_, file_err) = (process.communicate(timeout=120) for process in processes)
    assert [process.returncode for process in processes] == [2, 1]
    assert "Traceback" not in flag_err and "Traceback" not in file_err
    assert flag_err.splitlines()[-1] == (
        "rnnkit train: error: --clip-norm must be a finite number > 0 or none, got -1")
    assert file_err.strip() == (f"rnnkit train: error: config file {prepared / 'resume.toml'}:"
                                ' [train] resume must be a bool (true/false), got "no"')


def test_debug_anywhere_on_the_line_adds_the_traceback(prepared: Path, capsys) -> None:
    for argv in (["--debug", "train"], ["train", "--debug"]):
        status, err = _run([*argv, "--config", str(prepared / "resume.toml")], capsys)
        assert status == 1
        assert "Traceback" in err and "ValueError" in err
        assert err.splitlines()[-1].startswith("rnnkit train: error: config file")


# --- the Python API -------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "name"), [
    ({"lr": float("nan")}, "lr"),
    ({"clip_norm": -1.0}, "clip_norm"),
    ({"max_steps": 0}, "max_steps"),
    ({"max_time": -1.0, "max_steps": None}, "max_time"),
    ({"warmup_steps": -5}, "warmup_steps"),
    ({"momentum": float("inf")}, "momentum"),
])
def test_the_python_api_refuses_nonsense_values(options: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^TrainConfig: {name} must be "):
        TrainConfig(**options)


@pytest.mark.parametrize(("options", "name"), [
    ({"resume": "no"}, "resume"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"lr": "0.1"}, "lr"),
    ({"max_steps": 10.0}, "max_steps"),
])
def test_the_python_api_refuses_wrong_types(options: dict, name: str) -> None:
    with pytest.raises(TypeError, match=rf"^TrainConfig: {name} must be "):
        TrainConfig(**options)


def test_an_int_for_a_float_field_is_kept_as_a_float() -> None:
    config = TrainConfig(lr=1, max_time=2)
    assert isinstance(config.lr, float) and isinstance(config.max_time, float)
