"""``rnnkit diagnose gradients``: how gradients flow through time in a fresh cell."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.arguments import SEED, finite_float, positive_int, value_type
from rnnkit.validation import MAX_SIZE


def add_commands(commands: Any) -> None:
    """Register ``diagnose gradients`` on the top-level subparsers."""
    from rnnkit.cells.catalog import CELL_NAMES

    diagnose = commands.add_parser("diagnose", help="measure how gradients flow through time")
    probes = diagnose.add_subparsers(dest="probe", required=True)
    gradients = probes.add_parser(
        "gradients", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="||dL/dh_t|| for every step of a fresh cell, loss at the last step")
    gradients.add_argument("--cell", required=True, choices=CELL_NAMES)
    gradients.add_argument("--compare", nargs="+", default=[], choices=CELL_NAMES,
                           metavar="CELL", help="more cells to overlay in the same plot")
    gradients.add_argument("--length", type=value_type(int, "[2, 100000]"), default=100,
                           help="time steps T")
    gradients.add_argument("--hidden-size", type=positive_int(4096), default=64,
                           help="hidden size")
    gradients.add_argument("--input-size", type=positive_int(MAX_SIZE), default=8)
    gradients.add_argument("--batch-size", type=positive_int(100000), default=32)
    gradients.add_argument("--forget-bias", type=finite_float(), default=1.0,
                           help="for the LSTM")
    gradients.add_argument("--seed", type=SEED, default=0)
    gradients.add_argument("--out", required=True, help="directory for the JSON files and plot")
    gradients.set_defaults(handler=run_diagnose_gradients)


def run_diagnose_gradients(args: argparse.Namespace) -> int:
    from rnnkit.analysis.gradients import probe, save_gradient_flows

    flows = [probe(cell, length=args.length, hidden_size=args.hidden_size,
                   input_size=args.input_size, batch_size=args.batch_size, seed=args.seed,
                   forget_bias=args.forget_bias)
             for cell in dict.fromkeys([args.cell, *args.compare])]
    for flow in flows:
        print(f"{flow.cell:>9}: ||dL/dh_1|| / ||dL/dh_T|| = {flow.first_over_last:.3e}, "
              f"mean Jacobian spectral norm {sum(flow.jacobian_norms) / flow.length:.3f}")
    for path in save_gradient_flows(flows, args.out):
        print(f"wrote {path}")
    return 0
