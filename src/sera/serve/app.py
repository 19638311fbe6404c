"""The REST API and web page of ``sera serve``: one FastAPI app around one loaded model.

>>> from sera.serve.app import create_app
>>> app = create_app("my-bundle/", workers=2)      # doctest: +SKIP
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
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from sera import __version__
from sera.conversation import check_speakers
from sera.errors import InputError
from sera.features.executors import cpu_count
from sera.infer import Model
from sera.segment import SegmenterParams
from sera.serve import (
    MAX_DURATION_S,
    MAX_EXPORT_MB,
    MAX_EXPORT_SEGMENTS,
    MAX_UPLOAD_MB,
    QUEUE,
)
from sera.serve.examples import EXAMPLES, render_example
from sera.serve.exports import export_file
from sera.serve.pool import InferencePool, analyze_upload, predict_upload, warm_up
from sera.serve.schemas import (
    AUDIO_BODY,
    AUDIO_ERRORS,
    AUTH_ERRORS,
    EXPORT_BODY,
    EXPORT_ERRORS,
    AnalyzeResponse,
    ApiError,
    ErrorResponse,
    Health,
    Limits,
    ModelInfo,
    PredictResponse,
    describe,
)
from sera.serve.schemas import Example as ExampleInfo
from sera.serve.uploads import BodyLimits, Upload, read_body, receive_upload

log = logging.getLogger("sera.serve")

#: The web page's files.
STATIC = Path(__file__).resolve().with_name("static")

#: The page loads nothing from elsewhere; ``blob:`` is for the recorder's AudioWorklet module
#: and for the audio and exported files the page makes.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' blob:; "
                               "img-src 'self' data:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

#: The API docs pages: Swagger UI and ReDoc run inline scripts and styles, and nothing they
#: might fetch from elsewhere (ReDoc's footer logo) is allowed to leave the machine.
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

#: Where the docs pages' assets (from the fastapi-offline package) are served.
DOCS_ASSETS = "/static-docs"

#: The file types of ``/v1/export``.
EXPORT_TYPES = {"json": "application/json", "csv": "text/csv", "srt": "application/x-subrip"}


@dataclass
class Service:
    """Everything the endpoints share: the model, its pool, the limits and the token."""

    model: Model
    pool: InferencePool
    body: BodyLimits
    max_duration_s: float
    info: ModelInfo
    token: str | None
    export_body: BodyLimits
    max_export_segments: int
    examples: dict[str, bytes] = dataclasses.field(default_factory=dict)


# --- dependencies ----------------------------------------------------------------------------

def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]

_bearer = HTTPBearer(auto_error=False, description="The token `sera serve` was started with "
                                                   "(--token or SERA_TOKEN), if any.")


def authorized(svc: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                       Depends(_bearer)]) -> None:
    """Nothing when the server has no token; else the request must carry it as a bearer
    token (compared in constant time)."""
    if svc.token is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), svc.token.encode()):
        raise ApiError(401, "a valid token is required: send 'Authorization: Bearer <token>'"
                       if given == "" else "the token is wrong",
                       headers={"WWW-Authenticate": "Bearer"})


async def received_upload(request: Request, svc: ServiceDep) -> Upload:
    """The request's audio, read whole (bounded in size and time) before anything else."""
    return await receive_upload(request, svc.body)


async def received_export(request: Request, svc: ServiceDep) -> bytes:
    """An export's JSON body, read whole (bounded in size and time) once the token is checked:
    a body declared as an endpoint parameter would be read and parsed before any dependency."""
    return await read_body(request, svc.export_body)


def admitted(svc: ServiceDep) -> Iterator[None]:
    """A place among the running and waiting requests, held until the answer is ready."""
    with svc.pool.admission():
        yield


UploadDep = Annotated[Upload, Depends(received_upload)]
ExportBodyDep = Annotated[bytes, Depends(received_export)]
# Declared after the upload, so a place is taken only once the body is in; released as soon
# as the endpoint returns (scope="function"), not after the answer is sent.
AdmittedDep = Annotated[None, Depends(admitted, scope="function")]

api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)], responses=AUTH_ERRORS)
public = APIRouter()


# --- endpoints -------------------------------------------------------------------------------

def allowed_labels(svc: ServiceDep, labels: Annotated[str | None, Query(
        description="Answer among these classes only, comma-separated (e.g. "
                    "angry,happy,neutral,sad): the calibrated scores of the others are dropped "
                    "and the rest renormalised.", max_length=200)] = None) -> Model:
    """The served model, restricted to the ``labels`` query parameter when given."""
    if labels is None:
        return svc.model
    try:
        return svc.model.with_labels([label for label in labels.split(",") if label.strip()])
    except InputError as err:
        raise ApiError(422, f"labels: {err}") from None


LabelledModelDep = Annotated[Model, Depends(allowed_labels)]


@api.post("/predict", response_model=PredictResponse, responses=AUDIO_ERRORS,
          openapi_extra=AUDIO_BODY, summary="The emotion of one clip")
async def predict(svc: ServiceDep, model: LabelledModelDep, upload: UploadDep,
                  _: AdmittedDep) -> dict:
    """Classify one clip. Silent audio is a 400: it carries no emotion."""
    return await svc.pool.run(predict_upload, model, upload, svc.max_duration_s)


@api.post("/analyze", response_model=AnalyzeResponse, responses=AUDIO_ERRORS,
          openapi_extra=AUDIO_BODY, summary="The emotion of every utterance")
async def analyze(
    svc: ServiceDep,
    model: LabelledModelDep,
    upload: UploadDep,
    _: AdmittedDep,
    adapt: Literal["speaker", "recording", "none"] = Query(
        "speaker", description="Normalise features by each diarized speaker's statistics "
                               "(speaker), the whole recording's (recording) or the training "
                               "statistics alone (none)."),
    speakers: int | None = Query(None, ge=1, le=32, description="How many speakers (default: "
                                                                "found from the voices; 1: "
                                                                "all S1)."),
    min_speakers: int | None = Query(None, ge=1, le=32, description="Least number of speakers "
                                                                    "to find (not with "
                                                                    "speakers)."),
    max_speakers: int | None = Query(None, ge=1, le=32, description="Most speakers to find "
                                                                    "(a meeting of three to "
                                                                    "five: min 3, max 5)."),
    threshold: float = Query(0.5, gt=0.0, le=1.0, description="Speech probability that "
                                                               "starts speech."),
    min_silence: float = Query(0.25, ge=0.0, le=10.0, description="Pause (s) that ends an "
                                                                  "utterance."),
    min_speech: float = Query(0.25, ge=0.0, le=10.0, description="Shorter utterances (s) "
                                                                 "are dropped."),
    max_utterance: float = Query(10.0, ge=0.5, le=60.0, description="Longer speech (s) is "
                                                                    "split."),
) -> dict:
    """Find the utterances of a recording (silero-vad) and classify each. A recording
    without speech, silence included, gives no segments."""
    params = SegmenterParams(threshold=threshold, min_silence=min_silence,
                             min_speech=min_speech, max_utterance=max_utterance)
    try:
        check_speakers(speakers, min_speakers, max_speakers)
    except InputError as err:
        raise ApiError(422, f"speakers: {err}") from None
    return await svc.pool.run(analyze_upload, model, upload, svc.max_duration_s, params,
                              adapt, speakers, min_speakers, max_speakers)


@api.post("/export/{kind}", summary="An analysis as a file", openapi_extra=EXPORT_BODY,
          response_class=Response, responses={
              200: {"description": "The file `sera analyze --json`, `--csv` or `--srt` writes.",
                    "content": {media: {} for media in EXPORT_TYPES.values()}},
              **EXPORT_ERRORS})
async def export(svc: ServiceDep, kind: Literal["json", "csv", "srt"], body: ExportBodyDep,
                 _: AdmittedDep) -> Response:
    """Turn what ``/v1/analyze`` answered into the file the command line writes for the same
    recording: JSON (``--json``), CSV (``--csv``) or SubRip subtitles (``--srt``). The body
    is read only once the token is checked, and is bounded in size and in segments (413)."""
    text, stem = await svc.pool.run(export_file, body, kind, svc.model.labels,
                                    svc.max_export_segments)
    return Response(text, media_type=EXPORT_TYPES[kind], headers={
        "Content-Disposition": f'attachment; filename="{_ascii(stem)}.{kind}"'})


@api.get("/model", response_model=ModelInfo, summary="The model being served")
async def model_info(svc: ServiceDep) -> ModelInfo:
    """Its labels and their colours, card, evaluation figures, feature set, the limits on
    uploads and the example clips on offer."""
    return svc.info


@api.get("/examples/{name}", response_class=Response, summary="An example clip",
         responses={200: {"content": {"audio/wav": {}}, "description": "A synthetic clip."},
                    404: {"model": ErrorResponse, "description": "No such example."}})
async def example(svc: ServiceDep, name: str) -> Response:
    """One of the synthetic example clips listed by ``/v1/model`` (16-bit WAV)."""
    if name not in svc.examples:
        raise ApiError(404, f"no example named {name[:60]!r}")
    return Response(svc.examples[name], media_type="audio/wav")


@public.head("/v1/health", include_in_schema=False)
@public.get("/v1/health", response_model=Health, summary="Whether the service is up")
async def health(svc: ServiceDep) -> dict:
    """Open to all (no token), for uptime checks."""
    pool = svc.pool
    return {"status": "ok", "version": __version__, "model": svc.info.name,
            "workers": pool.workers, "queue": pool.queue, "in_flight": pool.in_flight}


@public.head("/", include_in_schema=False)
@public.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


@public.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title="sera API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        # No online validator badge: it would send the schema's address elsewhere.
        swagger_ui_parameters={"validatorUrl": None})
    page.headers.update(DOCS_HEADERS)
    return page


@public.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(openapi_url=request.app.openapi_url, title="sera API",
                          redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                          with_google_fonts=False)
    page.headers.update(DOCS_HEADERS)
    return page


# --- errors ----------------------------------------------------------------------------------

def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _error(exc.status, exc.message, exc.headers)


async def _bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _error(422, describe(exc.errors(), skip=1))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _error(exc.status_code, str(exc.detail), exc.headers)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error")


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


def _ascii(name: str) -> str:
    """A file name safe in a Content-Disposition header."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return kept[:100] or "recording"


# --- the app ---------------------------------------------------------------------------------

def create_app(model: Model | str | os.PathLike | None = None, *,
               max_upload_mb: float = MAX_UPLOAD_MB, max_duration_s: float = MAX_DURATION_S,
               workers: int | None = None, queue: int = QUEUE, token: str | None = None,
               cors_origins: Sequence[str] = (), body_idle_s: float = 10.0,
               body_timeout_s: float = 60.0, max_export_mb: float = MAX_EXPORT_MB,
               max_export_segments: int = MAX_EXPORT_SEGMENTS) -> FastAPI:
    """The sera web service around one model.

    Parameters
    ----------
    model : sera.infer.Model, path or None
        A loaded model, a bundle directory, or ``None`` for the shipped default model.
    max_upload_mb : float
        Largest request body in MiB (413 beyond it).
    max_duration_s : float
        Longest audio in seconds (400 beyond it).
    workers : int, optional
        Inference threads (default: one per CPU core available).
    queue : int
        Requests that may wait for a worker; beyond ``workers + queue``, 503.
    token : str, optional
        When given, every ``/v1`` endpoint but ``/v1/health`` needs
        ``Authorization: Bearer <token>`` (401 otherwise).
    cors_origins : sequence of str
        Origins whose pages may call the API from a browser (CORS); none by default.
    body_idle_s, body_timeout_s : float
        Longest wait for the next piece of a request body, and for the whole body (408).
    max_export_mb, max_export_segments : float, int
        Largest ``/v1/export`` body in MiB and most segments in it (413 beyond either).

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn. Its startup classifies a second of noise (see
        :func:`sera.serve.pool.warm_up`) and makes the example clips.

    Raises
    ------
    sera.errors.BundleError
        The model cannot be loaded.
    ValueError
        A limit that is not positive, or an empty token.
    """
    import fastapi_offline

    from sera.infer import load
    from sera.labels import EMOTION_COLORS

    workers = cpu_count() if workers is None else workers
    if not (max_upload_mb > 0 and max_duration_s > 0 and workers >= 1 and queue >= 0
            and body_idle_s > 0 and body_timeout_s > 0 and max_export_mb > 0
            and max_export_segments >= 1):
        raise ValueError(f"limits must be positive (max_upload_mb={max_upload_mb}, "
                         f"max_duration_s={max_duration_s}, workers={workers}, queue={queue}, "
                         f"body_idle_s={body_idle_s}, body_timeout_s={body_timeout_s}, "
                         f"max_export_mb={max_export_mb}, "
                         f"max_export_segments={max_export_segments})")
    if token is not None and not token.strip():
        raise ValueError("the token is empty")
    if not isinstance(model, Model):
        model = load(model)
    pool = InferencePool(workers, queue)
    info = ModelInfo(
        name=str(model.config["model"].get("name", "model")), version=__version__,
        bundle_version=model.config.get("sera_version"), labels=list(model.labels),
        colors={label: EMOTION_COLORS.get(label, "#888888") for label in model.labels},
        feature_set=model.feature_set.name, features=model.feature_set.to_config(), metrics=model.metrics, card=model.card,
        card_html=render_card(model.card or ""),
        limits=Limits(max_upload_mb=max_upload_mb, max_duration_s=max_duration_s,
                      max_export_mb=max_export_mb, max_export_segments=max_export_segments),
        examples=[ExampleInfo(name=e.name, title=e.title) for e in EXAMPLES])
    svc = Service(model=model, pool=pool, info=info, token=token, max_duration_s=max_duration_s,
                  body=BodyLimits(int(max_upload_mb * 2**20), body_idle_s, body_timeout_s),
                  export_body=BodyLimits(int(max_export_mb * 2**20), body_idle_s, body_timeout_s),
                  max_export_segments=max_export_segments)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.run(warm_up, model)
        for item in EXAMPLES:
            svc.examples[item.name] = await pool.run(render_example, item)
        yield

    app = FastAPI(
        title="sera", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Speech emotion recognition: the emotion of a clip, and of every "
                    "utterance of a recording. Send audio (WAV, FLAC, OGG, MP3) as the "
                    "`file` field of a multipart form, or as the body with an audio/* "
                    "content type. Errors are `{\"error\": \"...\"}`.")
    app.state.service = svc
    app.state.pool = pool
    app.state.model = model
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _bad_parameters)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
    app.include_router(api)
    app.include_router(public)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Swagger UI and ReDoc from the fastapi-offline package, not from a CDN.
    app.mount(DOCS_ASSETS, StaticFiles(
        directory=Path(fastapi_offline.__file__).with_name("static")), name="docs-assets")
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "HEAD", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app
