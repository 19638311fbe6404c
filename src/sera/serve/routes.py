"""The endpoints of ``sera serve`` and the dependencies they share.

:data:`api` holds the ``/v1`` endpoints behind the token; :data:`public` the health check, the
web page and the API docs pages, open to all. What every endpoint needs is a dependency: the
:class:`Service` made by :func:`sera.serve.app.create_app`, the inference pool of the running
app (its lifespan's state), the token check, the upload read whole, a place in the queue.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sera import __version__
from sera.conversation import check_speakers
from sera.errors import InputError
from sera.infer import Model
from sera.options import RecordingAdapt
from sera.segment import SegmenterParams
from sera.serve.errors import ApiError
from sera.serve.exports import export_file
from sera.serve.pool import InferencePool, analyze_upload, predict_upload
from sera.serve.schemas import (
    AUDIO_BODY,
    AUDIO_ERRORS,
    AUTH_ERRORS,
    EXPORT_BODY,
    EXPORT_ERRORS,
    AnalyzeResponse,
    ErrorResponse,
    Health,
    ModelInfo,
    PredictResponse,
)
from sera.serve.uploads import BodyLimits, Upload, read_body, receive_upload

#: The web page's files.
STATIC = Path(__file__).resolve().with_name("static")

#: Where the docs pages' assets (from the fastapi-offline package) are served.
DOCS_ASSETS = "/static-docs"

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

#: The file types of ``/v1/export``.
EXPORT_TYPES = {"json": "application/json", "csv": "text/csv", "srt": "application/x-subrip"}

#: The library's defaults, which the query parameters of ``/v1/analyze`` share.
SEGMENTER = SegmenterParams()
ANALYZE = inspect.signature(Model.analyze).parameters

#: Most speakers a request may ask for or bound the search by.
MAX_SPEAKERS = 32


@dataclass(frozen=True)
class Service:
    """What the endpoints share, fixed when the app is made: the model, what ``/v1/model``
    tells of it, the limits and the token."""

    model: Model
    info: ModelInfo
    body: BodyLimits
    export_body: BodyLimits
    max_duration_s: float
    max_export_segments: int
    token: str | None


# --- dependencies ----------------------------------------------------------------------------

def service(request: Request) -> Service:
    return request.app.state.service


def pool(request: Request) -> InferencePool:
    """The inference pool of the running app (made and shut down by its lifespan)."""
    return request.state.pool


ServiceDep = Annotated[Service, Depends(service)]
PoolDep = Annotated[InferencePool, Depends(pool)]

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


def admitted(workers: PoolDep) -> Iterator[None]:
    """A place among the running and waiting requests, held until the answer is ready."""
    with workers.admission():
        yield


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


UploadDep = Annotated[Upload, Depends(received_upload)]
ExportBodyDep = Annotated[bytes, Depends(received_export)]
# Declared after the upload, so a place is taken only once the body is in; released as soon
# as the endpoint returns (scope="function"), not after the answer is sent. The endpoints
# name the pool after it too, so that a body is refused before the pool is looked up.
AdmittedDep = Annotated[None, Depends(admitted, scope="function")]
LabelledModelDep = Annotated[Model, Depends(allowed_labels)]

api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)], responses=AUTH_ERRORS)
public = APIRouter()


# --- the API ---------------------------------------------------------------------------------

@api.post("/predict", response_model=PredictResponse, responses=AUDIO_ERRORS,
          openapi_extra=AUDIO_BODY, summary="The emotion of one clip")
async def predict(svc: ServiceDep, model: LabelledModelDep, upload: UploadDep,
                  _: AdmittedDep, workers: PoolDep) -> dict[str, Any]:
    """Classify one clip. Silent audio is a 400: it carries no emotion."""
    return await workers.run(predict_upload, model, upload, svc.max_duration_s)


def _speakers(description: str) -> Any:
    return Query(ge=1, le=MAX_SPEAKERS, description=description)


def _seconds(low: float, high: float, description: str) -> Any:
    return Query(ge=low, le=high, description=description)


@api.post("/analyze", response_model=AnalyzeResponse, responses=AUDIO_ERRORS,
          openapi_extra=AUDIO_BODY, summary="The emotion of every utterance")
async def analyze(
    svc: ServiceDep,
    model: LabelledModelDep,
    upload: UploadDep,
    _: AdmittedDep,
    workers: PoolDep,
    adapt: Annotated[RecordingAdapt, Query(
        description="Normalise features by each diarized speaker's statistics (speaker), the "
                    "whole recording's (recording) or the training statistics alone (none).")
    ] = ANALYZE["adapt"].default,
    speakers: Annotated[int | None, _speakers(
        "How many speakers (default: found from the voices; 1: all S1).")] = None,
    min_speakers: Annotated[int | None, _speakers(
        "Least number of speakers to find (not with speakers).")] = None,
    max_speakers: Annotated[int | None, _speakers(
        "Most speakers to find (a meeting of three to five: min 3, max 5).")] = None,
    threshold: Annotated[float, Query(
        gt=0.0, le=1.0, description="Speech probability that starts speech.")
    ] = SEGMENTER.threshold,
    min_silence: Annotated[float, _seconds(0.0, 10.0, "Pause (s) that ends an utterance.")
                           ] = SEGMENTER.min_silence,
    min_speech: Annotated[float, _seconds(0.0, 10.0, "Shorter utterances (s) are dropped.")
                          ] = SEGMENTER.min_speech,
    max_utterance: Annotated[float, _seconds(0.5, 60.0, "Longer speech (s) is split.")
                             ] = SEGMENTER.max_utterance,
) -> dict[str, Any]:
    """Find the utterances of a recording (silero-vad) and classify each. A recording
    without speech, silence included, gives no segments."""
    try:
        check_speakers(speakers, min_speakers, max_speakers)
    except InputError as err:
        raise ApiError(422, f"speakers: {err}") from None
    params = SegmenterParams(threshold=threshold, min_silence=min_silence,
                             min_speech=min_speech, max_utterance=max_utterance)
    return await workers.run(analyze_upload, model, upload, svc.max_duration_s, params,
                             adapt, speakers, min_speakers, max_speakers)


@api.post("/export/{kind}", summary="An analysis as a file", openapi_extra=EXPORT_BODY,
          response_class=Response, responses={
              200: {"description": "The file `sera analyze --json`, `--csv` or `--srt` writes.",
                    "content": {media: {} for media in EXPORT_TYPES.values()}},
              **EXPORT_ERRORS})
async def export(svc: ServiceDep, kind: Literal["json", "csv", "srt"], body: ExportBodyDep,
                 _: AdmittedDep, workers: PoolDep) -> Response:
    """Turn what ``/v1/analyze`` answered into the file the command line writes for the same
    recording: JSON (``--json``), CSV (``--csv``) or SubRip subtitles (``--srt``). The body
    is read only once the token is checked, and is bounded in size and in segments (413)."""
    text, stem = await workers.run(export_file, body, kind, svc.model.labels,
                                   svc.max_export_segments)
    return Response(text, media_type=EXPORT_TYPES[kind], headers={
        "Content-Disposition": f'attachment; filename="{ascii_filename(stem)}.{kind}"'})


@api.get("/model", response_model=ModelInfo, summary="The model being served")
async def model_info(svc: ServiceDep) -> ModelInfo:
    """Its labels and their colours, card, evaluation figures, feature set, the limits on
    uploads and the example clips on offer."""
    return svc.info


@api.get("/examples/{name}", response_class=Response, summary="An example clip",
         responses={200: {"content": {"audio/wav": {}}, "description": "A synthetic clip."},
                    404: {"model": ErrorResponse, "description": "No such example."}})
async def example(request: Request, name: str) -> Response:
    """One of the synthetic example clips listed by ``/v1/model`` (16-bit WAV)."""
    clips: dict[str, bytes] = request.state.examples
    if name not in clips:
        raise ApiError(404, f"no example named {name[:60]!r}")
    return Response(clips[name], media_type="audio/wav")


def ascii_filename(name: str) -> str:
    """A file name safe in a Content-Disposition header.

    >>> ascii_filename("réunion 3")
    'r_union_3'
    """
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return kept[:100] or "recording"


# --- open to all -----------------------------------------------------------------------------

@public.head("/v1/health", include_in_schema=False)
@public.get("/v1/health", response_model=Health, summary="Whether the service is up")
async def health(svc: ServiceDep, workers: PoolDep) -> dict[str, Any]:
    """Open to all (no token), for uptime checks."""
    return {"status": "ok", "version": __version__, "model": svc.info.name,
            "workers": workers.workers, "queue": workers.queue, "in_flight": workers.in_flight}


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
