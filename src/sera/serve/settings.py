"""How ``sera serve`` runs: one :class:`ServeSettings`, built by the ``sera serve`` options or
read from ``SERA_*`` environment variables, and taken by :func:`sera.serve.app.create_app`.

>>> from sera.serve.settings import ServeSettings
>>> ServeSettings(workers=2, max_upload_mb=5).max_upload_mb
5.0
>>> ServeSettings(queue=-1)
Traceback (most recent call last):
...
sera.errors.InputError: queue: Input should be greater than or equal to 0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sera import serve
from sera.errors import InputError
from sera.features.executors import cpu_count
from sera.serve.schemas import describe


class ServeSettings(BaseSettings):
    """Everything ``sera serve`` and :func:`~sera.serve.app.create_app` are told.

    Each setting can also come from the environment as ``SERA_<NAME>`` (``SERA_WORKERS=4``,
    ``SERA_TOKEN=...``, ``SERA_CORS_ORIGINS='["https://a.test"]'``); values given to the
    constructor win. A value out of range is an :class:`~sera.errors.InputError` naming it.

    Attributes
    ----------
    host, port : str, int
        Where uvicorn listens (``sera serve`` only).
    model_dir : Path, optional
        Model bundle directory; ``None`` for the shipped default model.
    workers : int
        Inference threads (default: one per CPU core available).
    queue : int
        Requests that may wait for a worker; beyond ``workers + queue``, 503.
    max_upload_mb, max_duration_s : float
        Largest request body in MiB (413 beyond it) and longest audio in seconds (400).
    max_export_mb, max_export_segments : float, int
        Largest ``/v1/export`` body in MiB and most segments in it (413 beyond either).
    body_idle_s, body_timeout_s : float
        Longest wait for the next piece of a request body, and for the whole body (408).
    header_timeout_s : float
        Seconds a connection may take to send a request's headers (``sera serve`` only).
    max_connections : int
        Most open connections; beyond them, 503 (``sera serve`` only).
    token : str, optional
        When given, every ``/v1`` endpoint but ``/v1/health`` needs
        ``Authorization: Bearer <token>`` (401 otherwise).
    cors_origins : list of str
        Origins whose pages may call the API from a browser (CORS); none by default.
    access_log : bool
        Log one line per request (``sera serve`` only).
    """

    model_config = SettingsConfigDict(env_prefix="SERA_", extra="forbid", frozen=True)

    host: str = serve.HOST
    port: int = Field(serve.PORT, ge=1, le=65535)
    model_dir: Path | None = None
    workers: int = Field(default_factory=cpu_count, ge=1)
    queue: int = Field(serve.QUEUE, ge=0)
    max_upload_mb: float = Field(serve.MAX_UPLOAD_MB, gt=0)
    max_duration_s: float = Field(serve.MAX_DURATION_S, gt=0)
    max_export_mb: float = Field(serve.MAX_EXPORT_MB, gt=0)
    max_export_segments: int = Field(serve.MAX_EXPORT_SEGMENTS, ge=1)
    body_idle_s: float = Field(serve.BODY_IDLE_S, gt=0)
    body_timeout_s: float = Field(serve.BODY_TIMEOUT_S, gt=0)
    header_timeout_s: float = Field(serve.HEADER_TIMEOUT_S, ge=0.1)
    max_connections: int = Field(serve.MAX_CONNECTIONS, ge=1)
    # Kept out of the repr, so that logging the settings does not log the token.
    token: str | None = Field(None, repr=False)
    cors_origins: list[str] = []
    access_log: bool = True

    def __init__(self, **values: Any):
        # One error family for bad arguments: pydantic's errors become one InputError line.
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise InputError(describe(err.errors())) from None

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, token: str | None) -> str | None:
        if token is not None and not token.strip():
            raise PydanticCustomError("blank_token", "the token is empty")
        return token
