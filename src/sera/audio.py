"""Decode, downmix, resample, window and validate audio.

Everything that reads a file goes through :func:`load`; everything that accepts
an array goes through :func:`validate`; a stream from a pipe is opened by :func:`read_pipe`. Both
raise :class:`sera.errors.AudioError`, whose message is one line naming the file and the problem.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from sera.errors import AudioError, InputError

#: The rate sera's own models and segmenter work at.
SAMPLE_RATE = 16000

#: Shortest clip worth classifying, in seconds.
MIN_DURATION = 0.25

#: A clip whose peak stays below this level (dBFS) is treated as silence.
SILENCE_DBFS = -60.0

#: Highest sample rate sera decodes, in Hz: beyond any studio format, so a header claiming
#: more is a damaged or hostile file.
MAX_SAMPLE_RATE = 192_000

#: Most channels sera decodes (ambisonics of the third order have 16).
MAX_CHANNELS = 32

#: Longest audio :func:`load` decodes whole, in seconds (``sera analyze`` reads a recording
#: block by block and has no such limit). With :data:`MAX_SAMPLE_RATE` it bounds what one
#: file can make sera hold: ``MAX_DURATION * MAX_SAMPLE_RATE`` float32 samples (440 MiB).
MAX_DURATION = 600.0

#: Most samples (frames times channels) decoded in one step before they are downmixed, so a
#: block of many channels costs no more than one of few (16 MiB of float32).
BLOCK_SAMPLES = 1 << 22

#: File extensions sera reads as audio (compared case-insensitively).
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3"})

#: Folders never searched for audio (archive debris).
IGNORED_FOLDERS = frozenset({"__MACOSX"})


def is_audio(path: Path) -> bool:
    """Whether a file name has one of :data:`AUDIO_EXTENSIONS`."""
    return path.suffix.lower() in AUDIO_EXTENSIONS


def audio_files(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every audio file under ``root``, sorted, and the folders that could not be read.

    Symbolic links to folders are followed, each folder visited once (a link back up the
    tree is not a loop). Hidden files and folders are left alone; they include the
    ``._name.wav`` resource forks macOS leaves in archives.

    Returns
    -------
    files : list of Path
    unreadable : list of (str, str)
        ``(folder, problem)`` for each folder that could not be listed: never skipped
        without a word.
    """
    found, unreadable = [], []
    seen = {_identity(root)}

    def refused(error: OSError) -> None:
        unreadable.append((str(error.filename or root),
                           f"cannot read this folder ({error.strerror or error})"))

    for folder, subfolders, names in os.walk(root, onerror=refused, followlinks=True):
        kept = []
        for name in subfolders:
            if name.startswith(".") or name in IGNORED_FOLDERS:
                continue
            identity = _identity(Path(folder, name))
            if identity not in seen:
                seen.add(identity)
                kept.append(name)
        subfolders[:] = kept
        found.extend(Path(folder, name) for name in names
                     if not name.startswith(".") and is_audio(Path(name)))
    return sorted(found), sorted(unreadable)


def _identity(folder: Path) -> tuple[int, int] | str:
    """What makes two paths the same folder: device and inode (the resolved path if it
    cannot be looked at; walking it will say why)."""
    try:
        status = folder.stat()
    except OSError:
        return str(folder.resolve())
    return status.st_dev, status.st_ino


def info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate, channels, frames, subtype) without decoding it.

    Raises
    ------
    AudioError
        If the file is missing, unreadable, empty or not audio.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "permission denied")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        meta = sf.info(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(path, f"not a readable audio file ({_short(err)})") from None
    check_format(meta.samplerate, meta.channels, path)
    return meta


def check_format(rate: int, channels: int, source: str | os.PathLike) -> None:
    """Refuse a header whose rate or channel count is beyond what sera decodes.

    Raises
    ------
    AudioError
        A rate outside 1 .. :data:`MAX_SAMPLE_RATE` Hz or more than :data:`MAX_CHANNELS`
        channels (or none).
    """
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise AudioError(source, f"sample rate {rate} Hz is beyond the limit of "
                                 f"{MAX_SAMPLE_RATE} Hz")
    if not 0 < channels <= MAX_CHANNELS:
        raise AudioError(source, f"{channels} channels is beyond the limit of {MAX_CHANNELS}")


def block_frames(channels: int, seconds: float, rate: int) -> int:
    """Frames per decoding step: ``seconds`` of audio, fewer for many channels, so that one
    block holds at most :data:`BLOCK_SAMPLES` samples.

    >>> block_frames(1, 30.0, 16000), block_frames(32, 30.0, 192000)
    (480000, 131072)
    """
    return max(min(int(seconds * rate), BLOCK_SAMPLES // channels), 1)


def read_mono(audio: sf.SoundFile, source: str | os.PathLike, frames: int,
              most: int | None = None) -> np.ndarray:
    """Decode up to ``frames`` frames of an open file (``-1``: to its end) to float32 mono,
    a block at a time, so only the mono signal and one block are ever held.

    Parameters
    ----------
    audio : soundfile.SoundFile
        Open for reading, positioned where decoding starts; its format already checked by
        :func:`check_format`.
    source : str or path-like
        Named in error messages.
    frames : int
        Frames to read, ``-1`` for all.
    most : int, optional
        Most frames accepted: the header may understate the length, so decoding stops one
        frame past it and the file is refused as too long.

    Raises
    ------
    AudioError
        Beyond ``most`` frames (the problem starts with ``"too long"``), or undecodable.
    """
    wanted = most + 1 if frames < 0 else frames if most is None else min(frames, most + 1)
    if wanted < 0:
        raise InputError("read_mono needs a frame count or a limit")
    # Pages of the buffer are only taken as they are written: a header that overstates the
    # length costs address space, not memory.
    out = np.empty(wanted, dtype=np.float32)
    step = block_frames(audio.channels, 10.0, audio.samplerate)
    read = 0
    try:
        while read < wanted:
            block = audio.read(min(step, wanted - read), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            out[read:read + block.shape[0]] = to_mono(block)
            read += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(source, f"cannot decode ({_short(err)})") from None
    if most is not None and read > most:
        raise AudioError(source, f"too long (at most {most / audio.samplerate:g} s allowed)")
    return out[:read]


def mono_blocks(path: str | os.PathLike, seconds: float) -> tuple[int, Iterator[np.ndarray]]:
    """The rate of a file and its float32 mono blocks of about ``seconds`` each (fewer for
    many channels, see :func:`block_frames`), read as they are consumed.

    Raises
    ------
    AudioError
        From :func:`info` at once; while iterating, a file that cannot be decoded.
    """
    rate = info(path).samplerate

    def blocks() -> Iterator[np.ndarray]:
        try:
            with sf.SoundFile(os.fsencode(path)) as audio:
                size = block_frames(audio.channels, seconds, rate)
                for block in audio.blocks(blocksize=size, dtype="float32", always_2d=True):
                    yield np.ascontiguousarray(to_mono(block), dtype=np.float32)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(path, f"cannot decode ({_short(err)})") from None

    return rate, blocks()


def to_mono(y: np.ndarray) -> np.ndarray:
    """Downmix ``(frames, channels)`` to ``(frames,)`` by averaging channels."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y
    if y.ndim != 2:
        raise InputError(f"expected 1-D or (frames, channels) audio, got shape {y.shape}")
    if y.shape[1] == 1:
        return y[:, 0]
    # A matrix-vector product is ~4x faster than mean(axis=1) and bit-identical for stereo
    # (integer PCM is averaged in float64: weights of its own dtype would be 0).
    weight = y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64
    return y @ np.full(y.shape[1], 1.0 / y.shape[1], dtype=weight)


def float_mono(y: np.ndarray) -> np.ndarray:
    """Audio as contiguous float32 mono: channels averaged, integer PCM scaled to [-1, 1).

    >>> float_mono(np.array([[-32768, 0], [16384, 16384]], dtype=np.int16))
    array([-0.5,  0.5], dtype=float32)
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        y = _int_to_float(y)
    return np.ascontiguousarray(to_mono(y), dtype=np.float32)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal with soxr (high quality). A no-op when the rates agree."""
    if orig_sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    return soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, target_sr, quality="HQ")


def window(y: np.ndarray, sr: int, offset: float = 0.0, duration: float | None = None,
           pad: bool = True) -> np.ndarray:
    """Cut ``duration`` seconds starting at ``offset``; zero-pad at the end if short.

    Parameters
    ----------
    y : np.ndarray
        Mono signal.
    sr : int
        Its sample rate.
    offset, duration : float
        Start and length in seconds. ``duration=None`` keeps the rest of the signal.
    pad : bool
        Zero-pad to exactly ``duration`` seconds when the signal is shorter.
    """
    start = int(round(offset * sr))
    if duration is None:
        return y[start:]
    n = int(round(duration * sr))
    out = y[start:start + n]
    if pad and out.shape[0] < n:
        out = np.pad(out, (0, n - out.shape[0]))
    return out


def validate(y: np.ndarray, sr: int, source: str | os.PathLike = "<array>", *,
             min_duration: float = MIN_DURATION, max_duration: float | None = None,
             allow_silence: bool = False) -> np.ndarray:
    """Check that a waveform is usable and return it as contiguous float32 mono.

    Raises
    ------
    AudioError
        Empty, too short, too long, non-finite or silent audio, or a bad sample rate.
    """
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise AudioError(source, f"invalid sample rate {sr!r}")
    y = to_mono(np.asarray(y))
    if not np.issubdtype(y.dtype, np.floating):
        y = _int_to_float(y)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.size == 0:
        raise AudioError(source, "no audio samples")
    seconds = y.shape[0] / sr
    if seconds < min_duration:
        raise AudioError(source, f"too short ({seconds:.2f} s; at least {min_duration:g} s needed)")
    if max_duration is not None and seconds > max_duration:
        raise AudioError(source, f"too long ({seconds:.1f} s; at most {max_duration:g} s allowed)")
    if not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise AudioError(source, f"contains {bad} NaN or infinite samples")
    if not allow_silence:
        peak = float(np.abs(y).max())
        if peak <= 10 ** (SILENCE_DBFS / 20):
            level = "digital silence" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS"
            raise AudioError(source, f"silent ({level})")
    return y


def load(path: str | os.PathLike, sr: int | None = SAMPLE_RATE, *, offset: float = 0.0,
         duration: float | None = None, pad: bool = False, min_duration: float = MIN_DURATION,
         max_duration: float | None = MAX_DURATION, allow_silence: bool = False) -> np.ndarray:
    """Decode an audio file to a validated float32 mono signal.

    Only the requested window is read from disk, so a short window of a long
    file costs little. Decoding is bounded by the limits, not by the file: the header's rate
    and channels are checked first (:func:`check_format`), then its length against
    ``max_duration``, and the audio is downmixed a block at a time while no more than
    ``max_duration`` is read, however much the header understates.

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads: WAV (8/16/24/32-bit, float), FLAC, OGG, MP3.
    sr : int or None
        Target sample rate; ``None`` keeps the file's rate.
    offset, duration : float
        Window in seconds; ``duration=None`` reads to the end.
    pad : bool
        Zero-pad to ``duration`` when the file is shorter (the seed's behaviour).
    min_duration, max_duration : float
        Limits on the audio actually read, checked before padding. ``max_duration=None``
        lifts the limit (memory then grows with the file).
    allow_silence : bool
        Accept silent audio instead of raising.

    Returns
    -------
    np.ndarray
        1-D float32 signal at ``sr`` (or the file's rate).

    Raises
    ------
    AudioError
        For anything that is not usable audio; the message names the file.
    """
    meta = info(path)
    native = meta.samplerate
    start = int(round(offset * native))
    if start >= meta.frames > 0:
        raise AudioError(path, f"offset {offset:g} s is past the end "
                               f"({meta.frames / native:.2f} s)")
    stop = None if duration is None else start + int(round(duration * native))
    if max_duration is not None and meta.frames > 0:
        readable = ((stop or meta.frames) - start) / native
        if min(readable, (meta.frames - start) / native) > max_duration:
            raise AudioError(path, f"too long ({(meta.frames - start) / native:.1f} s; "
                                   f"at most {max_duration:g} s allowed)")
    most = None if max_duration is None else int(max_duration * native)
    frames = (stop - start) if stop is not None else -1 if most is not None else meta.frames
    try:
        with sf.SoundFile(os.fsencode(path)) as audio:
            if start:
                audio.seek(start)
            y = read_mono(audio, path, frames, most)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(path, f"cannot decode ({_short(err)})") from None
    y = validate(y, native, path, min_duration=min_duration, max_duration=max_duration,
                 allow_silence=allow_silence)
    if sr is not None:
        y = resample(y, native, sr)
    if pad and duration is not None:
        y = window(y, sr or native, 0.0, duration, pad=True)
    return y


def _int_to_float(y: np.ndarray) -> np.ndarray:
    """Scale integer PCM to [-1, 1)."""
    if y.dtype == np.uint8:
        return (y.astype(np.float32) - 128.0) / 128.0
    scale = float(np.iinfo(y.dtype).max) + 1.0
    return y.astype(np.float32) / scale


def _short(err: Exception) -> str:
    """First line of an exception message, without libsndfile's path echo."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


#: Seconds of audio per chunk read from a pipe: how often a stream is looked at.
PIPE_CHUNK_SECONDS = 0.1


def read_pipe(stream: BinaryIO, sample_rate: int = 16000,
              chunk_seconds: float = PIPE_CHUNK_SECONDS) -> tuple[int, Iterator[np.ndarray]]:
    """Open a stream of audio from a pipe: a WAV stream (detected by its ``RIFF`` header) or
    raw 16-bit little-endian mono PCM at ``sample_rate``.

    Chunks are handed on as soon as they arrive (``read1``), so a live stream is followed
    closely.

    Parameters
    ----------
    stream : binary file
        Buffered (``sys.stdin.buffer``), so its head can be peeked at.
    sample_rate : int
        The rate of raw PCM; a WAV stream says its own.
    chunk_seconds : float
        Most audio per chunk.

    Returns
    -------
    sample_rate : int
        The stream's rate.
    chunks : iterator of np.ndarray
        float32 mono chunks.

    Raises
    ------
    AudioError
        A WAV stream that is not integer PCM, or beyond the rate or channel limits.
    """
    if stream.peek(4)[:4] == b"RIFF":
        try:
            reader = wave.open(stream, "rb")
        except (wave.Error, EOFError) as err:
            raise AudioError("<stdin>", f"not a readable WAV stream ({err})") from None
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
        check_format(rate, channels, "<stdin>")
        if width not in (2, 4):
            raise AudioError("<stdin>", f"{8 * width}-bit WAV is not supported; send 16- or "
                                        f"32-bit integer PCM")
        frame_bytes = channels * width
        dtype = f"<i{width}"
    else:
        rate, channels, frame_bytes, dtype = sample_rate, 1, 2, "<i2"
    step = max(int(chunk_seconds * rate), 1) * frame_bytes

    def chunks() -> Iterator[np.ndarray]:
        scale = float(2 ** (8 * np.dtype(dtype).itemsize - 1))
        pending = b""
        while True:
            data = stream.read1(step)
            if not data:
                return
            pending += data
            whole = len(pending) // frame_bytes * frame_bytes
            if whole:
                samples = np.frombuffer(pending[:whole], dtype=dtype).reshape(-1, channels)
                yield (samples.mean(axis=1) / scale).astype(np.float32)
                pending = pending[whole:]

    return rate, chunks()
