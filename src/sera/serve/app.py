"""The REST API and web page of ``sera serve``: one FastAPI app around one loaded model.

>>> from sera.serve.app import create_app
>>> app = create_app("my-bundle/", workers=2)      # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints (the OpenAPI schema is at ``/openapi.json``, browsable at ``/docs``):

- ``POST /v1/predict``: the emotion of one clip, ``{"path", "label", "scores"}``.
- ``POST /v1/analyze``: the emotion of every utterance of a recording,
  ``{"path", "duration", "segments": [{"start", "end", "label", "scores"}]}``.
- ``GET /v1/health``, ``GET /v1/model``; the web page at ``/``.

Audio is sent as the ``file`` field of a ``multipart/form-data`` body, or as the whole body with
an ``audio/*`` (or ``application/octet-stream``) content type. It is decoded from memory; nothing
is written to disk. ``path`` in the answers is the uploaded file's name, reduced to its last
component for display and never used to open anything (``null`` for a raw body).

Every error is ``{"error": "<one line>"}``: 400 unreadable, silent, too short or too long audio
(and a malformed multipart body); 413 a body over the size limit (checked from Content-Length and
again while the body streams in, so an oversized upload is never read whole); 415 a body that is
not audio in a format sera reads (WAV, FLAC, OGG, MP3, AIFF, AU, CAF); 422 bad parameters or no
``file`` field; 503 with ``Retry-After`` when all inference workers are busy and the queue is
full. Silence is a 400 for ``predict`` (a silent clip has no emotion to report) and a 200 with no
segments for ``analyze`` (a recording in which nobody speaks is a valid answer: no utterances).

Inference runs off the event loop on a pool of ``workers`` threads (feature extraction and
onnxruntime release the GIL); ``queue`` more requests may wait for one, and the rest are turned
away at once with a 503 rather than piling up.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import numpy as np
import soundfile as sf
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import FormParser, parse_options_header
from starlette.exceptions import HTTPException as StarletteHTTPException

from sera import __version__
from sera.audio import to_mono
from sera.errors import AudioError
from sera.formats import to_json
from sera.infer import Model
from sera.segment import SegmenterParams
from sera.serve import MAX_DURATION_S, MAX_UPLOAD_MB, QUEUE

#: The web page's files.
STATIC = Path(__file__).resolve().with_name("static")

#: Seconds a client turned away with a 503 is asked to wait.
RETRY_AFTER_S = 1

#: How each audio container libsndfile reads begins: alternatives of ``(offset, bytes)`` pairs
#: that must all match. The upload's first bytes are trusted, never its name or content type.
AUDIO_SIGNATURES: dict[str, tuple[tuple[tuple[int, bytes], ...], ...]] = {
    "WAV": (((0, b"RIFF"), (8, b"WAVE")), ((0, b"RIFX"), (8, b"WAVE")),
            ((0, b"RF64"), (8, b"WAVE")), ((0, b"riff\x2e\x91\xcf\x11"),)),
    "FLAC": (((0, b"fLaC"),),),
    "OGG": (((0, b"OggS"),),),
    # An ID3 tag, or the frame sync of an MPEG-1/2/2.5 layer III frame.
    "MP3": (((0, b"ID3"),), ((0, b"\xff\xfb"),), ((0, b"\xff\xfa"),), ((0, b"\xff\xf3"),),
            ((0, b"\xff\xf2"),), ((0, b"\xff\xe3"),)),
    "AIFF": (((0, b"FORM"), (8, b"AIFF")), ((0, b"FORM"), (8, b"AIFC"))),
    "AU": (((0, b".snd"),),),
    "CAF": (((0, b"caff"),),),
}

#: The page loads nothing from elsewhere; ``blob:`` is for the recorder's AudioWorklet module.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' blob:; "
                               "img-src 'self' data:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# --- answers ---------------------------------------------------------------------------------

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class PredictResponse(BaseModel):
    """The emotion of one clip (an item of ``sera predict --json``)."""

    path: str | None = Field(description="The uploaded file's name (last component only, for "
                                          "display); null for a raw audio body.")
    label: str = Field(description="The most probable emotion.")
    scores: dict[str, Probability] = Field(description="Probability of each label.")


class SegmentResponse(BaseModel):
    """One utterance: its span in seconds and its emotion."""

    start: Seconds
    end: Seconds
    speaker: str = Field(description="S1, S2, ... in order of first appearance.")
    label: str
    scores: dict[str, Probability]


class AnalyzeResponse(BaseModel):
    """Every utterance of a recording (``sera analyze --json``)."""

    path: str | None = Field(description="As for predict.")
    duration: Seconds = Field(description="Length of the recording in seconds.")
    speakers: list[str] = Field(description="The speakers, in order of first appearance.")
    adapt: str = Field(description="The normalisation that ran: recording or none.")
    segments: list[SegmentResponse] = Field(description="In time order; empty when no speech "
                                                        "is found.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="The sera version serving.")
    model: str = Field(description="The model's name.")
    workers: int = Field(description="Inference threads.")
    queue: int = Field(description="Requests that may wait for a thread.")
    in_flight: int = Field(description="Requests being received, queued or run now.")


class Limits(BaseModel):
    max_upload_mb: float = Field(description="Largest request body, in MiB.")
    max_duration_s: float = Field(description="Longest audio, in seconds.")


class ModelInfo(BaseModel):
    name: str = Field(description="The model's name (e.g. logreg).")
    version: str = Field(description="The sera version serving.")
    bundle_version: str | None = Field(description="The sera version that wrote the bundle.")
    labels: list[str] = Field(description="The labels, in the order of every scores object.")
    colors: dict[str, str] = Field(description="Display colour (CSS hex) of each label.")
    features: dict[str, Any] = Field(description="The feature set and its parameters.")
    metrics: dict[str, Any] = Field(description="Evaluation figures recorded in the bundle.")
    card: str = Field(description="The model card (markdown).")
    limits: Limits


class ErrorResponse(BaseModel):
    error: str = Field(description="What is wrong, in one line.")


class ApiError(Exception):
    """A request that cannot be served: answered with ``{"error": message}`` and ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


_AUDIO_ERRORS = {
    400: {"model": ErrorResponse, "description": "Unreadable, silent, too short or too long "
                                                 "audio, or a malformed multipart body."},
    413: {"model": ErrorResponse, "description": "The body is over the size limit."},
    415: {"model": ErrorResponse, "description": "Not audio in a format sera reads."},
    422: {"model": ErrorResponse, "description": "Bad parameters, or no 'file' field."},
    503: {"model": ErrorResponse, "description": "Every worker is busy and the queue is full.",
          "headers": {"Retry-After": {"description": "Seconds to wait before trying again.",
                                      "schema": {"type": "integer"}}}},
}

_BINARY = {"type": "string", "format": "binary"}

#: The request body of the audio endpoints: a form with a ``file`` field, or the audio itself.
_AUDIO_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": _BINARY}}},
    "audio/*": {"schema": _BINARY},
    "application/octet-stream": {"schema": _BINARY},
}}}


# --- uploads ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """An uploaded body: the audio's bytes and the name the client gave it, if any."""

    data: bytes
    filename: str | None

    @property
    def name(self) -> str:
        """How error messages name it."""
        return self.filename or "upload"


def clean_filename(name: str | None) -> str | None:
    """A client's file name reduced to something safe to show: its last path component
    (``/`` or ``\\`` separated), printable characters only, at most 255 of them.

    >>> clean_filename("../../etc/passwd")
    'passwd'
    >>> clean_filename("C:\\\\clips\\\\a.wav")
    'a.wav'
    """
    if not name:
        return None
    last = PurePosixPath(name.replace("\\", "/")).name
    shown = "".join(char for char in last if char.isprintable()).strip()[:255]
    return shown if shown not in ("", ".", "..") else None


def audio_format(head: bytes) -> str | None:
    """The container (``"WAV"``, ``"FLAC"``, ...) that bytes starting with ``head`` hold, or
    ``None`` when they are not audio sera reads."""
    for name, alternatives in AUDIO_SIGNATURES.items():
        if any(all(head[offset:offset + len(magic)] == magic for offset, magic in signature)
               for signature in alternatives):
            return name
    return None


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"the upload is larger than the limit of {max_bytes / 2**20:g} MiB")


async def _body_chunks(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The body as it streams in; stops with a 413 as soon as it passes ``max_bytes``."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes)
        yield chunk


async def receive_upload(request: Request, max_bytes: int) -> Upload:
    """Read the audio of a request: the ``file`` field of a multipart form, or the whole body.

    Raises
    ------
    ApiError
        413 over ``max_bytes``, 415 another content type or a body that is not audio, 400 an
        empty or malformed body, 422 a form without a ``file`` field.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    media_type, options = parse_options_header(request.headers.get("content-type"))
    media_type = media_type.decode("latin-1").lower()
    if media_type == "multipart/form-data":
        upload = await _receive_form(request, options.get(b"boundary"), max_bytes)
    elif media_type.startswith("audio/") or media_type == "application/octet-stream":
        upload = Upload(b"".join([chunk async for chunk in _body_chunks(request, max_bytes)]),
                        None)
    else:
        raise ApiError(415, f"unsupported content type {media_type or '(none)'!r}: send "
                            f"multipart/form-data with a 'file' field, or the audio itself "
                            f"with an audio/* content type")
    if not upload.data:
        raise ApiError(400, f"{upload.name}: empty upload (0 bytes)")
    if audio_format(upload.data[:16]) is None:
        raise ApiError(415, f"{upload.name}: not an audio file sera reads (send "
                            f"{', '.join(AUDIO_SIGNATURES)})")
    return upload


async def _receive_form(request: Request, boundary: bytes | None, max_bytes: int) -> Upload:
    """The ``file`` field of a multipart body, parsed in memory as the body streams in."""
    if not boundary:
        raise ApiError(400, "malformed multipart body: its Content-Type has no boundary")
    parts: list[tuple[bytes | None, bytes | None, bytes]] = []
    ended = False

    def on_end() -> None:
        nonlocal ended
        ended = True

    parser = FormParser(
        "multipart/form-data", boundary=boundary, on_end=on_end,
        on_field=lambda field: parts.append((field.field_name, None, field.value or b"")),
        on_file=lambda file: parts.append((file.field_name, file.file_name,
                                           file.file_object.getvalue())),
        # Files stay in memory (the body is already bounded by max_bytes), never on disk.
        config={"MAX_MEMORY_FILE_SIZE": float("inf"), "MAX_BODY_SIZE": max_bytes})
    try:
        async for chunk in _body_chunks(request, max_bytes):
            parser.write(chunk)
    except FormParserError as err:
        raise ApiError(400, f"malformed multipart body ({err})") from None
    if not ended:
        raise ApiError(400, "malformed multipart body: it ends before its closing boundary")
    files = [(filename, data) for field, filename, data in parts if field == b"file"]
    if not files:
        raise ApiError(422, "no 'file' field in the form: send the audio as the field 'file'")
    if len(files) > 1:
        raise ApiError(422, f"{len(files)} 'file' fields in the form: send one per request")
    filename, data = files[0]
    return Upload(data, clean_filename(filename.decode("utf-8", "replace") if filename else None))


def decode(upload: Upload, max_duration_s: float) -> tuple[np.ndarray, int]:
    """Decode an upload from memory to mono float32 and its sample rate.

    At most ``max_duration_s`` of audio is ever decoded: a longer file is refused from its
    header, or, if the header understates it, once one more frame than allowed has been read.

    Raises
    ------
    ApiError
        400 when libsndfile cannot read it or it is too long.
    """
    too_long = ApiError(400, f"{upload.name}: too long (at most {max_duration_s:g} s of audio "
                             f"allowed)")
    try:
        with sf.SoundFile(io.BytesIO(upload.data)) as audio:
            rate = audio.samplerate
            most = int(max_duration_s * rate)
            if audio.frames > most:
                raise too_long
            y = audio.read(most + 1, dtype="float32", always_2d=True)
    except sf.SoundFileError as err:
        problem = getattr(err, "error_string", None) or str(err)
        raise ApiError(400, f"{upload.name}: not readable audio ({problem})") from None
    if y.shape[0] > most:
        raise too_long
    return to_mono(y), rate


# --- inference -------------------------------------------------------------------------------

class InferencePool:
    """``workers`` threads run inference; ``queue`` more requests may wait; the rest get a 503.

    Admission is counted on the event loop (one thread), so a plain counter is exact. A request
    holds its place from before its body is read until its answer is ready, so a saturated
    server reads no more uploads.
    """

    def __init__(self, workers: int, queue: int):
        self.workers = workers
        self.queue = queue
        self.in_flight = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sera-infer")

    @contextmanager
    def admission(self) -> Iterator[None]:
        if self.in_flight >= self.workers + self.queue:
            raise ApiError(503, f"the server is busy ({self.workers} requests running, "
                                f"{self.queue} waiting); try again shortly",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def run(self, function: Callable, *args):
        """``function(*args)`` on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))


def predict_upload(model: Model, upload: Upload, max_duration_s: float) -> dict:
    """The ``predict`` answer for one upload."""
    y, rate = decode(upload, max_duration_s)
    try:
        prediction = model.predict(y, sample_rate=rate)
    except AudioError as err:
        raise ApiError(400, f"{upload.name}: {err.problem}") from None
    return {**prediction.to_dict(), "path": upload.filename}


def analyze_upload(model: Model, upload: Upload, max_duration_s: float,
                   params: SegmenterParams, adapt: str) -> dict:
    """The ``analyze`` answer for one upload."""
    y, rate = decode(upload, max_duration_s)
    try:
        analysis = model.analyze(y, sample_rate=rate, params=params, adapt=adapt)
    except AudioError as err:
        raise ApiError(400, f"{upload.name}: {err.problem}") from None
    return to_json(replace(analysis, path=upload.filename))


def warm_up(model: Model) -> None:
    """Classify a second of seeded noise, so that one-time costs (numba compiling librosa's
    kernels, onnxruntime's first run) are paid before the first request, not by it."""
    rate = model.feature_set.sample_rate
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, rate).astype(np.float32)
    model.predict(noise, sample_rate=rate)


# --- the app ---------------------------------------------------------------------------------

def create_app(model: Model | str | os.PathLike | None = None, *,
               max_upload_mb: float = MAX_UPLOAD_MB, max_duration_s: float = MAX_DURATION_S,
               workers: int | None = None, queue: int = QUEUE) -> FastAPI:
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

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn. Its startup classifies a second of noise (see :func:`warm_up`).

    Raises
    ------
    sera.errors.BundleError
        The model cannot be loaded.
    ValueError
        A limit that is not positive.
    """
    from sera.infer import load
    from sera.plots import EMOTION_COLORS

    workers = len(os.sched_getaffinity(0)) if workers is None else workers
    if not (max_upload_mb > 0 and max_duration_s > 0 and workers >= 1 and queue >= 0):
        raise ValueError(f"limits must be positive (max_upload_mb={max_upload_mb}, "
                         f"max_duration_s={max_duration_s}, workers={workers}, queue={queue})")
    if not isinstance(model, Model):
        model = load(model)
    max_bytes = int(max_upload_mb * 2**20)
    pool = InferencePool(workers, queue)
    name = str(model.config["model"].get("name", "model"))
    info = ModelInfo(
        name=name, version=__version__, bundle_version=model.config.get("sera_version"),
        labels=list(model.labels),
        colors={label: EMOTION_COLORS.get(label, "#888888") for label in model.labels},
        features=model.feature_set.to_config(), metrics=model.metrics, card=model.card,
        limits=Limits(max_upload_mb=max_upload_mb, max_duration_s=max_duration_s))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.run(warm_up, model)
        yield

    app = FastAPI(
        title="sera", version=__version__, lifespan=lifespan,
        description="Speech emotion recognition: the emotion of a clip, and of every "
                    "utterance of a recording. Send audio (WAV, FLAC, OGG, MP3) as the "
                    "`file` field of a multipart form, or as the body with an audio/* "
                    "content type. Errors are `{\"error\": \"...\"}`.")
    app.state.pool = pool
    app.state.model = model

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, error['loc'][1:])) or error['loc'][0]}: {error['msg']}"
                    for error in exc.errors()]
        return _error(422, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal server error")

    @app.post("/v1/predict", response_model=PredictResponse, responses=_AUDIO_ERRORS,
              openapi_extra=_AUDIO_BODY, summary="The emotion of one clip")
    async def predict(request: Request) -> dict:
        """Classify one clip. Silent audio is a 400: it carries no emotion."""
        with pool.admission():
            upload = await receive_upload(request, max_bytes)
            return await pool.run(predict_upload, model, upload, max_duration_s)

    @app.post("/v1/analyze", response_model=AnalyzeResponse, responses=_AUDIO_ERRORS,
              openapi_extra=_AUDIO_BODY, summary="The emotion of every utterance")
    async def analyze(
        request: Request,
        adapt: Literal["recording", "none"] = Query(
            "recording", description="Normalise features by the whole recording's statistics "
                                     "(recording) or by the training statistics alone (none)."),
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
        with pool.admission():
            upload = await receive_upload(request, max_bytes)
            return await pool.run(analyze_upload, model, upload, max_duration_s, params, adapt)

    @app.get("/v1/health", response_model=Health, summary="Whether the service is up")
    async def health() -> dict:
        return {"status": "ok", "version": __version__, "model": name, "workers": pool.workers,
                "queue": pool.queue, "in_flight": pool.in_flight}

    @app.get("/v1/model", response_model=ModelInfo, summary="The model being served")
    async def model_info() -> ModelInfo:
        """Its labels and their colours, card, evaluation figures, feature set, and the limits
        on uploads."""
        return info

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
