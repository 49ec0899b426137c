"""``rnnkit web``: a checkpoint as a static page that runs it in the browser."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rnnkit.arguments import value_type
from rnnkit.export.commands import add_checkpoint_flags

if TYPE_CHECKING:  # the playground module brings torch and onnx: not at parser build
    from rnnkit.export.web.playground import TrainingText


def add_web_command(commands: Any, training_text: TrainingText | None = None) -> None:
    """Register ``rnnkit web`` on the CLI's subcommands; ``training_text`` is how the
    music page learns the training tunes' key and meter spellings."""
    parser = commands.add_parser(
        "web", help="write a page that runs a checkpoint in the browser (the playground)",
        description="Write a static folder: index.html, the model as one ONNX step with "
                    "its gates, the vocabulary and the vendored onnxruntime-web and abcjs. "
                    "Nothing is fetched when the page runs; a browser opens it from a local "
                    "server (--serve, or any static server of the folder).")
    add_checkpoint_flags(parser)
    parser.add_argument("--out", required=True,
                        help="folder to write (a new or empty one, or an earlier playground)")
    parser.add_argument("--page", default="auto", choices=("auto", "text", "music"),
                        help="text: sampling and activations; music: tunes drawn and "
                             "played (auto: music for a music run)")
    parser.add_argument("--serve", action="store_true",
                        help="then serve the folder on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=value_type(int, "[0, 65535]"), default=8000,
                        help="port for --serve (0: any free one)")
    parser.set_defaults(handler=run_web, training_text=training_text)


def run_web(args: argparse.Namespace) -> int:
    from rnnkit.export.web import write_playground

    playground = write_playground(args.checkpoint, args.out, tag=args.tag, page=args.page,
                                  training_text=args.training_text)
    print(json.dumps({"out": str(playground.folder), "page": playground.page,
                      "max_abs_difference": playground.max_abs_difference}))
    if not args.serve:
        print(f"open it with: rnnkit web --checkpoint {args.checkpoint} --out {args.out} "
              f"--serve   (or python -m http.server -d {args.out} -b 127.0.0.1)")
        return 0
    return _serve(playground.folder, args.port)


def _serve(folder: Any, port: int) -> int:
    from rnnkit.export.web.serve import address, make_server

    server = make_server(folder, port)
    print(f"serving the playground at {address(server)}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
