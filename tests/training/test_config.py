"""Configuration layering: defaults < file < flags, and which bound a run stops at."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.training.config import DEFAULT_MAX_STEPS, RunConfig, apply_overrides, load_config_file


def test_a_run_that_names_no_bound_gets_the_default_step_bound() -> None:
    config = apply_overrides(RunConfig(), {"train": {"lr": 0.1}})
    assert (config.train.max_steps, config.train.max_epochs, config.train.max_time) == (
        DEFAULT_MAX_STEPS, None, None)


@pytest.mark.parametrize("bound", [{"max_time": 2.0}, {"max_epochs": 3}])
def test_a_named_bound_replaces_the_default_step_bound(tmp_path: Path, bound: dict) -> None:
    key, value = next(iter(bound.items()))
    path = tmp_path / "run.toml"
    path.write_text(f"[train]\n{key} = {value}\n", encoding="utf-8")
    config = load_config_file(path)
    assert config.train.max_steps is None
    assert getattr(config.train, key) == value


def test_a_bound_in_a_file_replaces_the_default_over_any_base(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nmax_time = 6.0\n", encoding="utf-8")
    base = RunConfig.from_dict({"data": {"dataset": "irish_abc"}, "train": {"out_dir": "x"}})
    config = load_config_file(path, base)
    assert (config.train.max_steps, config.train.max_time) == (None, 6.0)


def test_flags_add_a_bound_to_the_files_bounds(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[train]\nmax_time = 2.0\n", encoding="utf-8")
    config = apply_overrides(load_config_file(path), {"train": {"max_steps": 50}})
    assert (config.train.max_steps, config.train.max_time) == (50, 2.0)


def test_unknown_keys_and_sections_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hiden_size"):
        apply_overrides(RunConfig(), {"model": {"hiden_size": 3}})
    with pytest.raises(ValueError, match="optim"):
        apply_overrides(RunConfig(), {"optim": {}})


def test_a_saved_config_round_trips_through_its_dict() -> None:
    config = apply_overrides(RunConfig(), {"train": {"max_time": 1.5, "lr": 0.01},
                                           "model": {"hidden_size": 12}})
    assert RunConfig.from_dict(config.to_dict()) == config
