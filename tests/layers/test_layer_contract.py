"""The shared layer contract (tests/contract.py) over every layer configuration."""

import pytest

from contract import LAYER_CONFIGS, layer_checks_for, run_layer_check

CASES = [pytest.param(config, check, id=f"{config.id}-{check}")
         for config in LAYER_CONFIGS for check in layer_checks_for(config)]


@pytest.mark.parametrize(("config", "check"), CASES)
def test_layer_contract(config, check, tmp_path):
    run_layer_check(config, check, tmp_path)
