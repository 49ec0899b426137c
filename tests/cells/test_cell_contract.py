"""The shared cell contract (tests/contract.py) over every cell configuration."""

import pytest

from contract import CELL_CONFIGS, cell_checks_for, run_cell_check

CASES = [pytest.param(config, check, id=f"{config.id}-{check}")
         for config in CELL_CONFIGS for check in cell_checks_for(config)]


@pytest.mark.parametrize(("config", "check"), CASES)
def test_cell_contract(config, check, tmp_path):
    run_cell_check(config, check, tmp_path)
