"""Serve a playground folder on 127.0.0.1, for a browser (and the page tests)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

HOST = "127.0.0.1"
# Python's table lacks or misnames these; a browser refuses a module or WebAssembly
# served as anything else.
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".onnx": "application/octet-stream"}


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rewritten playground shows at once
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the terminal shows the address, not every request


def make_server(folder: str | Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server of ``folder`` on 127.0.0.1 (``port`` 0: a free one), not started."""
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise ValueError(f"{folder} holds no index.html: write a playground there first "
                         "(rnnkit web --checkpoint DIR --out DIR)")
    handler = functools.partial(_Handler, directory=str(folder))
    try:
        return http.server.ThreadingHTTPServer((HOST, port), handler)
    except OSError as error:
        raise ValueError(f"--port {port}: cannot listen on {HOST}:{port} ({error.strerror}); "
                         "give another port, or 0 for any free one") from None


@contextmanager
def serving(folder: str | Path, port: int = 0) -> Iterator[str]:
    """Serve ``folder`` in a background thread; yields its address (``http://127.0.0.1:N/``)."""
    server = make_server(folder, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield address(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def address(server: http.server.HTTPServer) -> str:
    """The page's address on ``server``."""
    return f"http://{HOST}:{server.server_address[1]}/"
