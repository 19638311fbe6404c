"""Plots of a corpus (class distribution, one waveform and one mel spectrogram per emotion)
and the timeline of an analysed recording (waveform with coloured utterance spans).

Each function takes data, writes one PNG of an exact pixel size and returns its path. They
draw on a bare :class:`matplotlib.figure.Figure` (Agg canvas), so they touch no global
pyplot state and need no display. :data:`sera.labels.EMOTION_COLORS` is the one colour per
emotion that every sera plot (and the web page) uses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sera.audio import info, mono_blocks
from sera.errors import CorpusError, SeraError
from sera.labels import EMOTION_COLORS, LABELS
from sera.results import Segment

#: Dots per inch of every PNG; sizes are given in pixels.
DPI = 100

#: Speakers beyond which the per-speaker panel drops its tick labels (they would overlap).
MAX_SPEAKER_TICKS = 40

#: Mel spectrogram settings: 32 ms frames, 10 ms hop, 64 bands up to 8 kHz, 80 dB range.
MEL = {"n_fft": 512, "hop_length": 160, "n_mels": 64, "fmax": 8000}
DB_RANGE = 80.0


@dataclass(frozen=True)
class Example:
    """One clip picked to show an emotion."""

    emotion: str
    path: str
    speaker: str
    y: np.ndarray
    sr: int


def plot_distribution(manifest: pd.DataFrame, out: str | os.PathLike,
                      size: tuple[int, int] = (1400, 550)) -> Path:
    """Bar chart of utterances per emotion, beside utterances per speaker stacked by emotion.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A manifest (``speaker``, ``emotion`` and ``corpus`` columns are read).
    out : path-like
        The PNG to write.
    size : (int, int)
        Width and height in pixels.
    """
    _require_rows(manifest)
    counts = manifest["emotion"].value_counts().reindex(LABELS, fill_value=0)
    colors = [EMOTION_COLORS[label] for label in LABELS]
    fig = _figure(size)
    left, right = fig.subplots(1, 2, width_ratios=(1, 2))

    bars = left.bar(LABELS, counts.to_numpy(), color=colors)
    left.bar_label(bars, padding=2, fontsize=9)
    left.set_title("Utterances per emotion")
    left.set_xlabel("emotion")
    left.set_ylabel("utterances")
    left.tick_params(axis="x", labelrotation=30)
    left.margins(y=0.12)

    per_speaker = pd.crosstab(manifest["speaker"], manifest["emotion"]).reindex(
        columns=LABELS, fill_value=0)
    positions = np.arange(len(per_speaker))
    bottom = np.zeros(len(per_speaker))
    for label in LABELS:
        right.bar(positions, per_speaker[label].to_numpy(), bottom=bottom, width=0.85,
                  color=EMOTION_COLORS[label], label=label)
        bottom += per_speaker[label].to_numpy()
    if len(per_speaker) <= MAX_SPEAKER_TICKS:
        right.set_xticks(positions, per_speaker.index, rotation=60, ha="right", fontsize=8)
    else:
        right.set_xticks([])
    right.set_xlim(-0.6, len(per_speaker) - 0.4)
    right.set_title("Utterances per speaker")
    right.set_xlabel(f"speaker ({len(per_speaker)})")
    right.set_ylabel("utterances")
    right.legend(title="emotion", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)

    corpora = ", ".join(sorted(manifest["corpus"].unique()))
    fig.suptitle(f"Class distribution: {len(manifest)} utterances, {len(per_speaker)} speakers "
                 f"({corpora})")
    return _save(fig, out)


def plot_waveforms(manifest: pd.DataFrame, out: str | os.PathLike, seed: int = 0,
                   size: tuple[int, int] = (1200, 1300), max_seconds: float = 10.0) -> Path:
    """One waveform per emotion, stacked on a shared time axis, in canonical label order.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A manifest; one clip per emotion is picked with :func:`load_examples`.
    out : path-like
        The PNG to write.
    seed : int
        Which clips are picked.
    size : (int, int)
        Width and height in pixels.
    max_seconds : float
        Longest stretch of each clip drawn.
    """
    examples = load_examples(manifest, seed=seed, max_seconds=max_seconds)
    fig = _figure(size)
    axes = np.atleast_1d(fig.subplots(len(examples), 1, sharex=True, sharey=True))
    for ax, example in zip(axes, examples, strict=True):
        t = np.arange(example.y.size) / example.sr
        ax.plot(t, example.y, color=EMOTION_COLORS[example.emotion], linewidth=0.5)
        _title(ax, example)
        ax.set_ylabel("amplitude")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    # One amplitude scale for all panels, so loudness compares across emotions.
    peak = max(float(np.abs(example.y).max()) for example in examples)
    axes[0].set_ylim(-1.05 * peak, 1.05 * peak)
    fig.suptitle(f"One waveform per emotion (seed {seed})")
    return _save(fig, out)


def plot_spectrograms(manifest: pd.DataFrame, out: str | os.PathLike, seed: int = 0,
                      size: tuple[int, int] = (1400, 1100),
                      max_seconds: float = 10.0) -> Path:
    """One log-mel spectrogram per emotion in a two-column grid, canonical label order.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A manifest; one clip per emotion is picked with :func:`load_examples`.
    out : path-like
        The PNG to write.
    seed : int
        Which clips are picked.
    size : (int, int)
        Width and height in pixels.
    max_seconds : float
        Longest stretch of each clip drawn.
    """
    import librosa
    import librosa.display

    examples = load_examples(manifest, seed=seed, max_seconds=max_seconds)
    fig = _figure(size)
    rows = (len(examples) + 1) // 2
    axes = np.atleast_1d(fig.subplots(rows, 2, sharex=True, sharey=True)).ravel()
    image = None
    for ax, example in zip(axes, examples, strict=False):
        mel = librosa.feature.melspectrogram(y=example.y, sr=example.sr, **MEL)
        db = librosa.power_to_db(mel, ref=np.max, top_db=DB_RANGE)
        image = librosa.display.specshow(db, sr=example.sr, hop_length=MEL["hop_length"],
                                         fmax=MEL["fmax"], x_axis="time", y_axis="mel",
                                         cmap="magma", vmin=-DB_RANGE, vmax=0.0, ax=ax)
        _title(ax, example)
        # Shared axes hide inner tick labels; a grid with an empty cell needs them all.
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("time (s)")
    for ax in axes[::2]:
        ax.set_ylabel("frequency (Hz)")
    for ax in axes[1::2]:
        ax.set_ylabel("")
    for ax in axes[len(examples):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.tolist(), format="%+.0f dB", label="level re. clip peak",
                 shrink=0.6)
    fig.suptitle(f"One mel spectrogram per emotion (seed {seed})")
    return _save(fig, out)


def load_examples(manifest: pd.DataFrame, seed: int = 0,
                  max_seconds: float = 10.0) -> list[Example]:
    """Pick and load one clip per emotion present, in canonical label order.

    Clips are tried in an order drawn from ``seed``; an unreadable clip gives way to the
    next of its emotion, so the pick is deterministic for a given manifest and seed.

    Raises
    ------
    CorpusError
        The manifest is empty, or no clip of some emotion can be read.
    """
    from sera.audio import SAMPLE_RATE, load

    _require_rows(manifest)
    order = np.random.default_rng(seed).permutation(len(manifest))
    shuffled = manifest.sort_values("path", kind="stable").iloc[order]
    examples = []
    for emotion in [label for label in LABELS if label in set(manifest["emotion"])]:
        problems = []
        for row in shuffled[shuffled["emotion"] == emotion].itertuples():
            try:
                y = load(row.path, sr=SAMPLE_RATE, duration=max_seconds)
            except SeraError as exc:
                problems.append(str(exc))
                continue
            examples.append(Example(emotion, row.path, row.speaker, y, SAMPLE_RATE))
            break
        else:
            raise CorpusError(f"no readable clip of {emotion!r} to plot "
                              f"({len(problems)} tried; first: {problems[0]})")
    return examples


def _require_rows(manifest: pd.DataFrame) -> None:
    """Refuse an empty manifest with a one-line message."""
    if manifest.empty:
        raise CorpusError("nothing to plot: the manifest has no utterances")


def _title(ax, example: Example) -> None:
    """Panel title in the emotion's colour: emotion, speaker and file name."""
    ax.set_title(f"{example.emotion}  ·  {example.speaker}  ·  {Path(example.path).name}",
                 loc="left", fontsize=10, color=EMOTION_COLORS[example.emotion],
                 fontweight="bold")


def _figure(size: tuple[int, int]) -> Figure:
    """A figure of ``size`` pixels whose layout keeps every label inside it."""
    width, height = size
    return Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")


def _save(fig: Figure, out: str | os.PathLike) -> Path:
    """Write the figure as PNG at exactly its pixel size."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, format="png", dpi=DPI)
    except OSError:
        out.unlink(missing_ok=True)  # no half-written PNG left behind (a full disk)
        raise
    return out


# --- timeline of an analysed recording ---------------------------------------------------

def _duration_of(recording, sample_rate: int | None = None) -> float:
    """Seconds of a file (from its header) or of an array."""
    if isinstance(recording, (str, os.PathLike)):
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
        frames = info(recording).frames
        rate, blocks = mono_blocks(recording, block_seconds)
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
    """The waveform with each utterance's span coloured by its emotion and labelled, one lane
    per speaker (``S1`` on top) when there are several.

    Parameters
    ----------
    recording : path or np.ndarray
        The analysed file (read block by block) or waveform.
    segments : sequence of Segment
        As :meth:`sera.infer.Model.analyze` gives them (an :class:`sera.results.Analysis`).
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
    from matplotlib.patches import Patch

    width, height = size
    times, low, high = waveform_envelope(recording, columns=2 * width, sample_rate=sample_rate)
    duration = _duration_of(recording, sample_rate)
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    peak = max(float(np.abs(np.concatenate([low, high])).max(initial=0.0)), 1e-3)
    speakers = list(dict.fromkeys(segment.speaker for segment in segments)) or ["S1"]
    lane = 1.0 / len(speakers)  # of the axes' height; S1's lane is the top one

    def lane_of(segment) -> tuple[float, float]:
        top = 1.0 - speakers.index(segment.speaker) * lane
        return top - lane, top

    for segment in segments:
        bottom, top = lane_of(segment)
        ax.axvspan(segment.start, segment.end, ymin=bottom, ymax=top,
                   color=EMOTION_COLORS.get(segment.label, "#cccccc"), alpha=0.35, linewidth=0)
    ax.fill_between(times, low, high, color="#333333", linewidth=0.4)
    # A label is written at the top of its span when the span is wide enough to hold it.
    min_width = duration * 60 / width
    for segment in segments:
        if segment.duration >= min_width:
            ax.text((segment.start + segment.end) / 2, lane_of(segment)[1] - 0.02,
                    f"{segment.label}\n{segment.scores[segment.label]:.2f}", ha="center",
                    va="top", fontsize=8, transform=ax.get_xaxis_transform(),
                    color=EMOTION_COLORS.get(segment.label, "#333333"))
    if len(speakers) > 1:
        for i, speaker in enumerate(speakers):
            ax.text(-0.005, 1.0 - (i + 0.5) * lane, speaker, ha="right", va="center",
                    fontsize=9, transform=ax.transAxes)
            if i:
                ax.axhline(-1.15 * peak + (1.0 - i * lane) * 2.6 * peak, color="#999999",
                           linewidth=0.5)
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
    who = f", {len(speakers)} speakers" if len(speakers) > 1 else ""
    # A "$" in a file name would start matplotlib's mathtext.
    heading = f"{title}: {len(segments)} utterances in {duration:.1f} s{who}"
    ax.set_title(heading.replace("$", r"\$"))
    return _save(fig, out)
