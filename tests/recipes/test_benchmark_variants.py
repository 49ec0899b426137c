"""The recipe variants under ``benchmarks/``: each is a shipped recipe with a few settings
written in (a step count a documented run planned, its precision, a thread count), and
docs/results.md reports its figures as the shipped recipe's. So each must stay a valid
configuration that differs from its recipe in exactly the settings it says it fixes: a
change to the shipped recipe that the variant missed fails here, not in a figure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from rnnkit.training.config import load_config_file
from rnnkit.training.planned_regularization import dropout_for_passes, planned_passes

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

#: Each variant: the shipped recipe it varies, and the settings (section.key) it changes.
VARIANTS = {
    "shakespeare_char_30min_16137": ("shakespeare_char_30min", {
        "train.max_steps", "train.max_time", "train.precision", "train.threads"}),
    "shakespeare_char_30min_1mb_15670": ("shakespeare_char_30min", {
        "train.max_steps", "train.max_time", "train.precision", "train.threads",
        "train.decay_steps"}),
    "shakespeare_char_long_6686": ("shakespeare_char_long", {
        "train.max_steps", "train.max_time", "train.threads"}),
    "shakespeare_char_long_6400": ("shakespeare_char_long", {"train.max_steps"}),
    "shakespeare_char_long_here": ("shakespeare_char_long", {
        "model.dropout", "train.max_steps"}),
    "shakespeare_char_long_no_dropout": ("shakespeare_char_long", {
        "model.dropout", "train.max_steps"}),
    "shakespeare_char_transformer_10min": ("shakespeare_char_transformer", {
        "train.max_time", "train.out_dir"}),
}


def flat_settings(config: Any) -> dict[str, Any]:
    """A run configuration as ``{"section.key": value}``."""
    return {f"{section}.{key}": value
            for section, table in dataclasses.asdict(config).items()
            if isinstance(table, dict) for key, value in table.items()}


def test_every_toml_under_benchmarks_is_a_known_variant() -> None:
    assert sorted(path.stem for path in BENCHMARKS.glob("*.toml")) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_variant_changes_only_the_settings_it_fixes(variant: str) -> None:
    recipe, fixed = VARIANTS[variant]
    shipped = flat_settings(load_config_file(recipe))
    varied = flat_settings(load_config_file(BENCHMARKS / f"{variant}.toml"))
    changed = {key for key in shipped if shipped[key] != varied[key]}
    assert changed == fixed


def test_the_fixed_step_variants_write_in_their_documented_runs_plans() -> None:
    thirty = load_config_file(BENCHMARKS / "shakespeare_char_30min_16137.toml").train
    long = load_config_file(BENCHMARKS / "shakespeare_char_long_6686.toml").train
    assert (thirty.max_steps, thirty.precision, thirty.threads) == (16137, "bf16", 1)
    assert (long.max_steps, long.precision, long.threads) == (6686, "fp32", 1)
    small = load_config_file(BENCHMARKS / "shakespeare_char_30min_1mb_15670.toml").train
    assert (small.max_steps, small.decay_steps, small.precision, small.threads) == (
        15670, 17359, "bf16", 1)
    # the 1 MB text's 899,998 training characters: the documented run's dropout 0.5
    assert dropout_for_passes(planned_passes(small, 899_998, 1)) == 0.5
    # the clock must never stop a fixed-step run first
    assert min(thirty.max_time, long.max_time, small.max_time) >= 300
