"""The ``sera`` command. Thin: it parses, calls the library, formats."""

from __future__ import annotations

import sys

from sera.cli._app import INTERRUPTED, app, err, fail

# Each module registers its commands on ``app`` when imported.
from sera.cli import (  # noqa: E402,F401  isort: skip
    corpus, evaluate, features, infer, plot, robustness, serve, synth, train)


#: The extra that installs each package a command may need beyond the base (inference)
#: install, by top-level module name.
EXTRAS = {
    **dict.fromkeys(("torch", "sklearn", "skl2onnx", "onnx", "onnxscript", "librosa", "scipy",
                     "pandas", "pyarrow", "matplotlib", "markdown_it"), "train"),
    **dict.fromkeys(("fastapi", "uvicorn", "python_multipart", "multipart", "starlette"),
                    "serve"),
    **dict.fromkeys(("dask", "distributed"), "scale"),
    "transformers": "hf",
    "sounddevice": "listen",
}


def main() -> None:
    """Entry point of the ``sera`` console script."""
    from sera.errors import SeraError

    try:
        app()
    except SeraError as exc:
        fail(exc)
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        fail(f"this command needs {exc.name}, which the base install leaves out: "
             f"pip install sera[{extra}]")
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(INTERRUPTED)
