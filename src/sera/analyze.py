"""Utterances of a recording to emotions, and the ways to show them.

:func:`label_utterances` and :func:`label_stream` turn the utterances :mod:`sera.segment` finds
into :class:`sera.infer.Segment` s (they back :meth:`sera.infer.Model.analyze` and
:meth:`sera.infer.Model.stream`). The rest formats them: the ``sera analyze`` JSON, CSV and
SubRip subtitles, a timeline plot (waveform with coloured utterance spans), and reading a
stream of raw PCM or WAV from a pipe.
"""

from __future__ import annotations

import csv
import io
import os
import wave
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sera.infer import BATCH_SIZE, STREAM_HISTORY, Model, Segment
from sera.segment import Utterance

#: Adaptations that make sense within one recording (it has no speaker or corpus labels).
RECORDING_MODES = ("none", "recording")

#: Seconds of audio per chunk read from a pipe: how often a stream is looked at.
PIPE_CHUNK_SECONDS = 0.1


# --- utterances to segments -----------------------------------------------------------------

def label_utterances(model: Model, utterances: Iterable[Utterance], adapt: str = "recording",
                     batch_size: int = BATCH_SIZE) -> Iterator[Segment]:
    """Classify the utterances of one recording.

    Each utterance's audio is turned into features as it arrives and then dropped. With
    ``adapt="none"`` each batch is classified at once; with ``adapt="recording"`` the features
    (one row per utterance) are kept until the last utterance, normalised together by the
    recording's statistics, then classified.

    Parameters
    ----------
    model : sera.infer.Model
    utterances : iterable of sera.segment.Utterance
        In time order, e.g. from :func:`sera.segment.segment_file`.
    adapt : str
        ``"recording"`` or ``"none"``.
    batch_size : int
        Utterances per onnxruntime call.

    Yields
    ------
    Segment
        In time order.
    """
    check_adapt(adapt)
    spans, rows = [], []
    for utterance in utterances:
        spans.append(Utterance(utterance.start, utterance.end, _NO_AUDIO))
        rows.append(model.utterance_features(utterance))
        if adapt == "none" and len(rows) == batch_size:
            yield from _classified(model, spans, rows, adapt)
            spans, rows = [], []
    yield from _classified(model, spans, rows, adapt)


def label_stream(model: Model, utterances: Iterable[Utterance], adapt: str = "recording",
                 history: int = STREAM_HISTORY) -> Iterator[Segment]:
    """Classify each utterance of a stream as soon as it arrives.

    With ``adapt="recording"`` an utterance is normalised by the statistics of the last
    ``history`` utterances up to and including it (shrunk toward the training statistics while
    they are few); with ``"none"`` exactly as :func:`label_utterances` does.
    """
    check_adapt(adapt)
    if adapt == "none":
        yield from label_utterances(model, utterances, "none", batch_size=1)
        return
    heard: deque[np.ndarray] = deque(maxlen=history)
    for utterance in utterances:
        heard.append(model.utterance_features(utterance))
        probabilities = model.predict_proba(np.stack(heard), adapt="recording",
                                            groups=np.zeros(len(heard)))
        yield model.segment(utterance, probabilities[-1])


#: Stands in for the audio of an utterance once its features are computed.
_NO_AUDIO = np.zeros(0, np.float32)


def _classified(model: Model, spans: list[Utterance], rows: list[np.ndarray],
                adapt: str) -> list[Segment]:
    if not rows:
        return []
    groups = None if adapt == "none" else np.zeros(len(rows))
    probabilities = model.predict_proba(np.stack(rows), adapt=adapt, groups=groups)
    return [model.segment(span, p) for span, p in zip(spans, probabilities, strict=True)]


def check_adapt(adapt: str) -> None:
    """Raise ValueError unless ``adapt`` is one of :data:`RECORDING_MODES`."""
    if adapt not in RECORDING_MODES:
        raise ValueError(f"a recording adapts per recording or not at all "
                         f"({', '.join(RECORDING_MODES)}), not {adapt!r}")


# --- output formats -------------------------------------------------------------------------

def to_json(segments: Sequence[Segment], path: str | None, duration: float) -> dict:
    """The ``sera analyze --json`` document: ``{"path", "duration", "segments"}``."""
    return {"path": path, "duration": round(duration, 3),
            "segments": [segment.to_dict() for segment in segments]}


def to_csv(segments: Sequence[Segment], labels: Sequence[str]) -> str:
    """One row per utterance: ``start,end,label`` then one probability column per label."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "label", *labels])
    for segment in segments:
        row = segment.to_dict()
        writer.writerow([f"{row['start']:.3f}", f"{row['end']:.3f}", row["label"],
                         *(f"{row['scores'][label]:.4f}" for label in labels)])
    return out.getvalue()


def to_srt(segments: Sequence[Segment]) -> str:
    """SubRip subtitles: one cue per utterance, its text ``label (probability)``."""
    cues = [f"{index}\n{_srt_time(s.start)} --> {_srt_time(s.end)}\n"
            f"{s.label} ({s.scores[s.label]:.2f})\n"
            for index, s in enumerate(segments, start=1)]
    return "\n".join(cues)


def _srt_time(seconds: float) -> str:
    """``HH:MM:SS,mmm``."""
    milliseconds = int(round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{milliseconds:03d}"


def duration_of(recording, sample_rate: int | None = None) -> float:
    """Seconds of a file (from its header) or of an array."""
    if isinstance(recording, (str, os.PathLike)):
        from sera.audio import info

        meta = info(recording)
        return meta.frames / meta.samplerate
    return np.asarray(recording).shape[0] / sample_rate


# --- timeline plot --------------------------------------------------------------------------

def waveform_envelope(recording, columns: int, sample_rate: int | None = None,
                      block_seconds: float = 30.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum and maximum of the (mono) waveform in ``columns`` equal time bins.

    A file is read block by block, so a long one is never held whole.

    Returns
    -------
    times, low, high : np.ndarray
        Centre (s) of each bin and the waveform's extremes in it.
    """
    if isinstance(recording, (str, os.PathLike)):
        import soundfile as sf

        from sera.audio import info, to_mono

        meta = info(recording)
        rate, frames = meta.samplerate, meta.frames
        blocks = (to_mono(block) for block in sf.blocks(
            str(recording), blocksize=max(int(block_seconds * rate), 1), dtype="float32",
            always_2d=True))
    else:
        rate, y = sample_rate, np.asarray(recording, dtype=np.float32)
        frames, blocks = y.shape[0], iter([y])
    per_bin = max(-(-frames // columns), 1)
    low, high = [], []
    pending = np.zeros(0, np.float32)
    for block in blocks:
        pending = np.concatenate([pending, block])
        whole = pending.shape[0] // per_bin * per_bin
        bins = pending[:whole].reshape(-1, per_bin)
        low.append(bins.min(axis=1))
        high.append(bins.max(axis=1))
        pending = pending[whole:]
    if pending.size:
        low.append(pending.min(keepdims=True))
        high.append(pending.max(keepdims=True))
    low, high = np.concatenate(low or [np.zeros(0)]), np.concatenate(high or [np.zeros(0)])
    times = (np.arange(low.shape[0]) + 0.5) * per_bin / rate
    return times, low, high


def plot_timeline(recording, segments: Sequence[Segment], out: str | os.PathLike,
                  sample_rate: int | None = None, size: tuple[int, int] = (1600, 420),
                  title: str | None = None) -> Path:
    """The waveform with each utterance's span coloured by its emotion and labelled.

    Parameters
    ----------
    recording : path or np.ndarray
        The analysed file (read block by block) or waveform.
    segments : sequence of Segment
        As :meth:`sera.infer.Model.analyze` gives them.
    out : path-like
        The PNG to write.
    sample_rate : int, optional
        The rate of an array.
    size : (int, int)
        Width and height in pixels.
    title : str, optional
        Defaults to the file name.

    Returns
    -------
    Path
        ``out``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from sera.plots import DPI, EMOTION_COLORS

    width, height = size
    times, low, high = waveform_envelope(recording, columns=2 * width, sample_rate=sample_rate)
    duration = duration_of(recording, sample_rate)
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    peak = max(float(np.abs(np.concatenate([low, high])).max(initial=0.0)), 1e-3)
    for segment in segments:
        ax.axvspan(segment.start, segment.end, color=EMOTION_COLORS.get(segment.label, "#cccccc"),
                   alpha=0.35, linewidth=0)
    ax.fill_between(times, low, high, color="#333333", linewidth=0.4)
    # A label is written over its span when the span is wide enough to hold it.
    min_width = duration * 60 / width
    for segment in segments:
        if segment.duration >= min_width:
            ax.text((segment.start + segment.end) / 2, 1.08 * peak,
                    f"{segment.label}\n{segment.scores[segment.label]:.2f}", ha="center",
                    va="bottom", fontsize=8, color=EMOTION_COLORS.get(segment.label, "#333333"))
    present = [label for label in EMOTION_COLORS if any(s.label == label for s in segments)]
    if present:
        ax.legend(handles=[Patch(color=EMOTION_COLORS[label], alpha=0.5, label=label)
                           for label in present],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, title="emotion")
    ax.set_xlim(0, duration)
    ax.set_ylim(-1.15 * peak, 1.45 * peak)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_yticks([])
    if title is None:
        title = Path(recording).name if isinstance(recording, (str, os.PathLike)) else "recording"
    ax.set_title(f"{title}: {len(segments)} utterances in {duration:.1f} s")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    return out


# --- streams from a pipe --------------------------------------------------------------------

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
        A WAV stream that is not integer PCM.
    """
    from sera.errors import AudioError

    if stream.peek(4)[:4] == b"RIFF":
        try:
            reader = wave.open(stream, "rb")
        except (wave.Error, EOFError) as err:
            raise AudioError("<stdin>", f"not a readable WAV stream ({err})") from None
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
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
