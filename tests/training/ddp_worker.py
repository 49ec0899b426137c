"""Run by test_distributed.py under torchrun: train a few steps, save this rank's weights.

Usage: ``torchrun --nproc_per_node N ddp_worker.py CONFIG.json OUT_DIR``; writes
``OUT_DIR/rank<r>.safetensors`` with every rank's parameters after training, and
``OUT_DIR/rank<r>.json`` with its step bound, the steps it took and its precision.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(config_path: str, out_dir: str) -> None:
    from safetensors.torch import save_file

    from rnnkit.tasks.language_model.training import prepare_run
    from rnnkit.training.config import RunConfig
    from rnnkit.training.records import QuietRecords
    from rnnkit.training.trainer import training_loop

    config = RunConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
    run = prepare_run(config)
    training_loop(run, QuietRecords())
    weights = {name: value.detach().contiguous() for name, value in run.model.state_dict().items()}
    save_file(weights, str(Path(out_dir) / f"rank{run.distributed.rank}.safetensors"))
    planned = {"max_steps": run.settings.max_steps, "steps": run.progress.step,
               "precision": run.precision.precision}
    (Path(out_dir) / f"rank{run.distributed.rank}.json").write_text(json.dumps(planned))


if __name__ == "__main__":
    main(*sys.argv[1:])
