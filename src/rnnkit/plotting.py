"""The one way rnnkit draws and saves a figure: off-screen, written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_bytes


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the off-screen Agg backend, imported on first use.

    matplotlib loads only when a plot is drawn, so ``import rnnkit`` stays light.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` as a PNG at ``path`` (temp file, then rename) and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=dpi, format="png")
    pyplot().close(figure)
    return atomic_write_bytes(path, buffer.getvalue())
