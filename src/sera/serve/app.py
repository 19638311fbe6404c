"""The REST API and web page of ``sera serve``: one FastAPI app around one loaded model.

>>> from sera.serve.app import create_app
>>> from sera.serve.settings import ServeSettings
>>> app = create_app(ServeSettings(model_dir="my-bundle/", workers=2))   # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints (the OpenAPI schema is at ``/openapi.json``, browsable offline at ``/docs`` and
``/redoc``):

- ``POST /v1/predict``: the emotion of one clip, ``{"path", "label", "scores"}``.
- ``POST /v1/analyze``: the emotion of every utterance of a recording,
  ``{"path", "duration", "speakers", "adapt", "segments": [{"start", "end", "speaker",
  "label", "scores"}]}``.
- ``POST /v1/export/{json,csv,srt}``: an analyze answer as the file ``sera analyze`` writes.
- ``GET /v1/model``, ``GET /v1/examples/{name}``; ``GET``/``HEAD /v1/health`` and ``/`` (the
  web page).

Audio is sent as the ``file`` field of a ``multipart/form-data`` body, or as the whole body with
an ``audio/*`` (or ``application/octet-stream``) content type. It is decoded from memory; nothing
is written to disk. ``path`` in the answers is the uploaded file's name, reduced to its last
component for display and never used to open anything (``null`` for a raw body).

Every error is ``{"error": "<one line>"}``: 400 unreadable, silent, too short or too long audio
(and a malformed multipart body); 401 a missing or wrong token (when the server has one); 408 a
body that stalls (no data for ``body_idle_s``) or trickles in for longer than
``body_timeout_s``; 413 a body over the size limit (checked from Content-Length and again while
the body streams in); 415 a body that is not audio in a format sera reads (WAV, FLAC, OGG, MP3,
AIFF, AU, CAF); 422 bad parameters or no ``file`` field; 503 with ``Retry-After`` when all
inference workers are busy and the queue is full. Silence is a 400 for ``predict`` and a 200
with no segments for ``analyze``. What another library said about a failure goes to the log,
never to the client.

A request takes its place among the ``workers`` running and ``queue`` waiting requests only once
its body has arrived, so slow or stalled uploads hold connections, not workers.

This module only wires the app: the settings (:mod:`sera.serve.settings`) become its state, the
endpoints are :mod:`sera.serve.routes`, the error bodies :mod:`sera.serve.errors`, and the
lifespan starts the inference pool (:mod:`sera.serve.pool`) and shuts it down.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sera import __version__
from sera.infer import Model
from sera.serve.errors import add_error_handlers
from sera.serve.examples import EXAMPLES, render_example
from sera.serve.pool import InferencePool, warm_up
from sera.serve.routes import DOCS_ASSETS, STATIC, Service, api, public
from sera.serve.schemas import Example, Limits, ModelInfo
from sera.serve.settings import ServeSettings
from sera.serve.uploads import BodyLimits

DESCRIPTION = ("Speech emotion recognition: the emotion of a clip, and of every utterance of a "
               "recording. Send audio (WAV, FLAC, OGG, MP3) as the `file` field of a multipart "
               "form, or as the body with an audio/* content type. Errors are "
               "`{\"error\": \"...\"}`.")


def create_app(settings: ServeSettings | None = None, *, model: Model | None = None) -> FastAPI:
    """The sera web service around one model.

    Parameters
    ----------
    settings : ServeSettings, optional
        Limits, workers, token and CORS origins (default: ``ServeSettings()``, read from the
        ``SERA_*`` environment variables where set).
    model : sera.infer.Model, optional
        A model already loaded, served instead of loading ``settings.model_dir``.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn. Its lifespan starts the inference pool, classifies a second of
        noise (see :func:`sera.serve.pool.warm_up`), makes the example clips, and at the end
        shuts the pool down.

    Raises
    ------
    sera.errors.BundleError
        The model cannot be loaded.
    sera.errors.InputError
        ``ServeSettings()`` finds a bad ``SERA_*`` variable.
    """
    from sera.infer import load

    settings = ServeSettings() if settings is None else settings
    model = load(settings.model_dir) if model is None else model
    app = FastAPI(title="sera", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.service = make_service(model, settings)
    add_error_handlers(app)
    app.include_router(api)
    app.include_router(public)
    mount_static(app)
    if settings.cors_origins:
        allow_origins(app, settings.cors_origins)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """The running app's state: its inference pool, warmed up, and the example clips it made.

    Each run (a uvicorn server, a test client) has its own pool, shut down when it ends.
    """
    settings: ServeSettings = app.state.settings
    pool = InferencePool(settings.workers, settings.queue)
    try:
        await pool.run(warm_up, app.state.service.model)
        examples = {item.name: await pool.run(render_example, item) for item in EXAMPLES}
        yield {"pool": pool, "examples": examples}
    finally:
        pool.shutdown()


def make_service(model: Model, settings: ServeSettings) -> Service:
    """What the endpoints share: ``model`` and the limits and token of ``settings``."""
    def limits(max_mb: float) -> BodyLimits:
        return BodyLimits(int(max_mb * 2**20), settings.body_idle_s, settings.body_timeout_s)

    return Service(model=model, info=describe_model(model, settings),
                   body=limits(settings.max_upload_mb), export_body=limits(settings.max_export_mb),
                   max_duration_s=settings.max_duration_s,
                   max_export_segments=settings.max_export_segments, token=settings.token)


def describe_model(model: Model, settings: ServeSettings) -> ModelInfo:
    """What ``/v1/model`` answers: the model, its card, the limits and the examples."""
    from sera.labels import EMOTION_COLORS

    return ModelInfo(
        name=str(model.config["model"].get("name", "model")), version=__version__,
        bundle_version=model.config.get("sera_version"), labels=list(model.labels),
        colors={label: EMOTION_COLORS.get(label, "#888888") for label in model.labels},
        feature_set=model.feature_set.name, features=model.feature_set.to_config(),
        metrics=model.metrics, card=model.card, card_html=render_card(model.card or ""),
        limits=Limits(max_upload_mb=settings.max_upload_mb,
                      max_duration_s=settings.max_duration_s,
                      max_export_mb=settings.max_export_mb,
                      max_export_segments=settings.max_export_segments),
        examples=[Example(name=e.name, title=e.title) for e in EXAMPLES])


def render_card(markdown: str) -> str:
    """A model card as HTML that is safe to show: markdown-it-py's ``js-default`` preset
    (CommonMark and tables; raw HTML in the card is escaped, ``javascript:`` links refused),
    with table alignment as classes rather than inline styles, which the page's
    Content-Security-Policy forbids.

    >>> render_card("<b>x</b>")
    '<p>&lt;b&gt;x&lt;/b&gt;</p>\\n'
    """
    from markdown_it import MarkdownIt

    html = MarkdownIt("js-default").render(markdown)
    return re.sub(r' style="text-align:(left|right|center)"', r' class="align-\1"', html)


def mount_static(app: FastAPI) -> None:
    """The web page's files, and Swagger UI and ReDoc from the fastapi-offline package (not
    from a CDN)."""
    import fastapi_offline

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(
        directory=Path(fastapi_offline.__file__).with_name("static")), name="docs-assets")


def allow_origins(app: FastAPI, origins: list[str]) -> None:
    """Let pages from ``origins`` call the API from a browser (CORS)."""
    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(CORSMiddleware, allow_origins=origins,
                       allow_methods=["GET", "HEAD", "POST"],
                       allow_headers=["Authorization", "Content-Type"])
