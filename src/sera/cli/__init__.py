"""The ``sera`` command. Thin: it parses, calls the library, formats."""

from __future__ import annotations

import sys

from sera.cli._app import app, err

# Each module registers its commands on ``app`` when imported.
from sera.cli import (  # noqa: E402,F401  isort: skip
    corpus, evaluate, features, infer, plot, robustness, serve, synth, train)


def main() -> None:
    """Entry point of the ``sera`` console script."""
    from sera.errors import SeraError

    try:
        app()
    except SeraError as exc:
        err.print(f"[red]error[/red]: {exc}", markup=True, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
