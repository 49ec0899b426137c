"""The playground: a trained model in the browser, writing and showing what its cells do.

``rnnkit web --checkpoint DIR --out DIR [--serve]`` writes a static folder
(:func:`write_playground`) and serves it on 127.0.0.1 (:func:`serving`). The page runs the
model one step at a time with onnxruntime-web, from the folder alone.
"""

from rnnkit.export.web.playground import (
    MANIFEST,
    Playground,
    read_manifest,
    write_playground,
)
from rnnkit.export.web.serve import make_server, serving

__all__ = ["MANIFEST", "Playground", "make_server", "read_manifest", "serving",
           "write_playground"]
