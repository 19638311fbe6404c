"""Uploads to ``sera serve``: reading a request's audio body (bounded in size and in time) and
decoding it from memory. Nothing here touches the disk or holds an inference worker.

Every failure is an :class:`sera.serve.errors.ApiError` with a plain one-line message; what a
library said about it (libsndfile, the multipart parser) goes to the log, not to the client.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import soundfile as sf
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import FormParser, parse_options_header
from starlette.requests import ClientDisconnect

from sera.audio import check_format, read_mono
from sera.errors import AudioError
from sera.serve.errors import ApiError

log = logging.getLogger("sera.serve")

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

#: Longest multipart boundary, in characters: python-multipart's own limit (RFC 2046 asks
#: for 70 at most; some clients use more).
MAX_BOUNDARY = 256

#: Longest file name kept from a form, in characters (longer ones are cut).
MAX_FILENAME = 255


@dataclass(frozen=True)
class Upload:
    """An uploaded body: the audio's bytes and the name the client gave it, if any."""

    data: bytes
    filename: str | None

    @property
    def name(self) -> str:
        """How error messages name it."""
        return self.filename or "upload"


@dataclass(frozen=True)
class BodyLimits:
    """How much a request body may be, and how long it may take to arrive.

    Attributes
    ----------
    max_bytes : int
        Largest body (413 beyond it).
    idle_s : float
        Longest wait for the next piece of the body (408 beyond it).
    total_s : float
        Longest time for the whole body (408 beyond it): a client trickling a byte at a time
        is cut off too.
    """

    max_bytes: int
    idle_s: float = 10.0
    total_s: float = 60.0


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
    shown = "".join(char for char in last if char.isprintable()).strip()[:MAX_FILENAME]
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
    return ApiError(413, f"the body is larger than the limit of {max_bytes / 2**20:g} MiB")


async def body_chunks(request: Request, limits: BodyLimits) -> AsyncIterator[bytes]:
    """The body as it streams in. Stops with a 413 as soon as it passes ``limits.max_bytes``
    and with a 408 when a piece takes longer than ``limits.idle_s`` or the whole longer than
    ``limits.total_s``."""
    received = 0
    deadline = time.monotonic() + limits.total_s
    stream = request.stream().__aiter__()
    while True:
        wait = min(limits.idle_s, deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(anext(stream), timeout=max(wait, 0.0))
        except StopAsyncIteration:
            return
        except ClientDisconnect:
            # Nobody is left to answer; one line in the log, not two tracebacks.
            log.info("the client went away after sending %d bytes of its request body",
                     received)
            raise ApiError(400, "the request body was cut off (the client disconnected)") \
                from None
        except TimeoutError:
            log.info("cut off a request body after %d bytes: it stalled", received)
            raise ApiError(408, "the upload did not arrive in time; send it again") from None
        received += len(chunk)
        if received > limits.max_bytes:
            raise _too_large(limits.max_bytes)
        if chunk:
            yield chunk


def check_declared_length(request: Request, limits: BodyLimits) -> None:
    """A 413 at once for a body whose Content-Length is over the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits.max_bytes)


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """A whole request body, bounded in size (413) and time (408) as :func:`body_chunks`."""
    check_declared_length(request, limits)
    return b"".join([chunk async for chunk in body_chunks(request, limits)])


async def receive_upload(request: Request, limits: BodyLimits) -> Upload:
    """Read the audio of a request: the ``file`` field of a multipart form, or the whole body.

    Raises
    ------
    ApiError
        413 over ``limits.max_bytes``, 408 too slow, 415 another content type or a body that
        is not audio, 400 an empty or malformed body, 422 a form without a ``file`` field.
    """
    check_declared_length(request, limits)
    media_type, options = parse_options_header(request.headers.get("content-type"))
    media_type = media_type.decode("latin-1").lower()
    if media_type == "multipart/form-data":
        upload = await _receive_form(request, options.get(b"boundary"), limits)
    elif media_type.startswith("audio/") or media_type == "application/octet-stream":
        upload = Upload(await read_body(request, limits), None)
    else:
        shown = media_type if len(media_type) <= 60 and media_type.isprintable() else "other"
        raise ApiError(415, f"unsupported content type {shown or '(none)'!r}: send "
                            f"multipart/form-data with a 'file' field, or the audio itself "
                            f"with an audio/* content type")
    if not upload.data:
        raise ApiError(400, f"{upload.name}: empty upload (0 bytes)")
    if audio_format(upload.data[:16]) is None:
        raise ApiError(415, f"{upload.name}: not an audio file sera reads (send "
                            f"{', '.join(AUDIO_SIGNATURES)})")
    return upload


#: What a client is told about a multipart body the parser refused for another reason.
_MULTIPART_PROBLEMS = "malformed multipart body (send it as a browser or HTTP library does)"


async def _receive_form(request: Request, boundary: bytes | None, limits: BodyLimits) -> Upload:
    """The ``file`` field of a multipart body, parsed in memory as the body streams in."""
    if not boundary:
        raise ApiError(400, "malformed multipart body: its Content-Type has no boundary")
    if len(boundary) > MAX_BOUNDARY:
        raise ApiError(400, f"malformed multipart body: its boundary is longer than "
                            f"{MAX_BOUNDARY} characters")
    parts: list[tuple[bytes | None, bytes | None, bytes]] = []
    ended = False

    def on_end() -> None:
        nonlocal ended
        ended = True

    try:
        parser = FormParser(
            "multipart/form-data", boundary=boundary, on_end=on_end,
            on_field=lambda field: parts.append((field.field_name, None, field.value or b"")),
            on_file=lambda file: parts.append((file.field_name, file.file_name,
                                               file.file_object.getvalue())),
            # Files stay in memory (the body is already bounded by max_bytes), never on disk.
            config={"MAX_MEMORY_FILE_SIZE": float("inf"), "MAX_BODY_SIZE": limits.max_bytes})
        async for chunk in body_chunks(request, limits):
            parser.write(chunk)
    except FormParserError as err:
        raise _multipart_problem(err) from None
    if not ended:
        raise ApiError(400, "malformed multipart body: it ends before its closing boundary")
    return _the_file(parts)


def _multipart_problem(err: FormParserError) -> ApiError:
    """The 400 for a body the multipart parser refused. The parser's own words ("Expected
    boundary character 45 ...", "Maximum header size exceeded") mean nothing to a client: they
    go to the log."""
    log.info("malformed multipart body: %s", err)
    if _starts_with_preamble(err):
        return ApiError(400, "malformed multipart body: it must begin with its boundary "
                             "(no text before the first part)")
    if "header" in str(err).lower():
        return ApiError(400, "malformed multipart body: a part's headers are too long "
                             "(a file name of a few hundred characters at most)")
    return ApiError(400, _MULTIPART_PROBLEMS)


def _the_file(parts: list[tuple[bytes | None, bytes | None, bytes]]) -> Upload:
    """The one ``file`` field of a form's ``(field, filename, data)`` parts."""
    files = [(filename, data) for field, filename, data in parts if field == b"file"]
    if not files:
        raise ApiError(422, "no 'file' field in the form: send the audio as the field 'file'")
    if len(files) > 1:
        raise ApiError(422, f"{len(files)} 'file' fields in the form: send one per request")
    filename, data = files[0]
    return Upload(data, clean_filename(filename.decode("utf-8", "replace") if filename else None))


def _starts_with_preamble(err: FormParserError) -> bool:
    """Whether the parser stopped at text before the first boundary."""
    return "boundary" in str(err).lower() and "expected" in str(err).lower()


def decode(upload: Upload, max_duration_s: float) -> tuple[np.ndarray, int]:
    """Decode an upload from memory to mono float32 and its sample rate.

    Decoding is bounded by the limits, never by the upload (a few hundred KB of FLAC can say
    it holds gigabytes): the header's rate and channels are checked against
    :data:`sera.audio.MAX_SAMPLE_RATE` and :data:`sera.audio.MAX_CHANNELS`, its length against
    ``max_duration_s``, and the audio is downmixed a block at a time while at most
    ``max_duration_s`` of it is read, however much the header understates it.
    A float file may hold finite samples far beyond full scale (1e19, say), which overflow the
    features and blind the voice detector; such audio is scaled to a peak of 1, as a player
    would have to, so that predict and analyze both see a usable waveform.

    Raises
    ------
    ApiError
        400 when libsndfile cannot read it, or it is too long or beyond the rate or channel
        limits.
    """
    too_long = ApiError(400, f"{upload.name}: too long (at most {max_duration_s:g} s of audio "
                             f"allowed)")
    try:
        with sf.SoundFile(io.BytesIO(upload.data)) as audio:
            rate = audio.samplerate
            check_format(rate, audio.channels, upload.name)
            most = int(max_duration_s * rate)
            if audio.frames > most:
                raise too_long
            y = read_mono(audio, upload.name, -1, most)
    except AudioError as err:
        if err.problem.startswith("too long"):
            raise too_long from None
        if err.problem.startswith("cannot decode"):
            raise _unreadable(upload, err.problem) from None
        raise ApiError(400, str(err)) from None  # beyond the rate or channel limits
    except (sf.SoundFileError, RuntimeError, ValueError) as err:
        raise _unreadable(upload, err) from None
    return normalise_peak(y), rate


def _unreadable(upload: Upload, err: object) -> ApiError:
    """The 400 for audio libsndfile cannot read; what it said goes to the log."""
    log.info("%s: libsndfile could not read it: %s", upload.name, err)
    return ApiError(400, f"{upload.name}: not readable audio (a damaged or unsupported file)")


def normalise_peak(y: np.ndarray) -> np.ndarray:
    """``y`` scaled to a peak of 1 when it goes beyond full scale; as it is otherwise
    (non-finite samples are left for validation to report).

    >>> normalise_peak(np.array([0.5, -4.0], np.float32)).tolist()
    [0.125, -1.0]
    """
    finite = np.isfinite(y)
    if not finite.all() or y.size == 0:
        return y
    peak = float(np.abs(y).max())
    if peak <= 1.0:
        return y
    return (y.astype(np.float64) / peak).astype(np.float32)
