"""``sera corpus ...`` commands."""

from __future__ import annotations

from sera.cli._app import corpus_app  # noqa: F401
