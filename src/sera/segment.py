"""Find the utterances in long audio with silero-vad, offline and as a stream.

One code path serves both: :class:`StreamSegmenter` accepts chunks of any size, runs the voice
activity detector over 32 ms frames and hands back each :class:`Utterance` as soon as it closes.
:func:`segment` feeds a whole array through it; :func:`segment_file` feeds a file block by block,
so a long recording is never held in memory.

The detector is silero-vad's ONNX model, run by onnxruntime alone (no torch), shipped inside
sera (``sera/vad/``, with silero-vad's MIT licence). We use silero-vad's *sequence* export of
the 16 kHz model: the same network as ``silero_vad.onnx`` with its
LSTM state passed in and out, which takes a block of frames per call and gives bit-identical
probabilities (checked in the tests), at about twice the speed of one call per frame.

Decisions, frame by frame (hysteresis, as in silero's own ``get_speech_timestamps``):

- speech starts at the first frame whose probability reaches ``threshold``;
- a candidate end is the first frame that falls below ``neg_threshold``; a frame back above
  ``threshold`` cancels it; once ``min_silence`` has passed since the candidate end, the
  utterance closes there (so shorter pauses are merged);
- an utterance with less than ``min_speech`` of speech is dropped;
- its end is pulled back over trailing frames no louder than the pause after it (in steady noise
  the VAD's probability trails off for 0.2-0.5 s after the voice stops; see ``end_trim_db``);
- each utterance is padded by ``speech_pad`` at both ends, never reaching into the previous one;
- speech that reaches ``max_utterance`` is split: at the pending candidate end if there is one,
  otherwise at the least speech-like frame of its second half, where the next piece starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sera.audio import SAMPLE_RATE, mono_blocks
from sera.errors import AudioError, InputError

#: Samples per VAD frame at 16 kHz (32 ms), the only frame size the model takes.
FRAME = 512

#: Samples of the previous frame the model sees before each frame.
CONTEXT = 64

#: Frames per onnxruntime call: long enough to amortise the call, short enough to stay in cache
#: (128 frames, 4 s, measured fastest among 8..2048 on the bench).
FRAMES_PER_CALL = 128

#: silero-vad's sequence export of its 16 kHz model (v6.2.3, MIT licence beside it), shipped in
#: sera's wheel: the ``silero-vad`` package itself requires torch.
MODEL_PATH = Path(__file__).resolve().parent / "vad" / "silero_vad_16k_sequence.onnx"
MODEL_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"

#: Pause frames needed to estimate the background level behind an utterance's end (128 ms).
_MIN_BACKGROUND_FRAMES = 4

#: Longest trail of speech probability after the voice stops in steady noise, measured on
#: RAVDESS in white and pink noise 15-25 dB below the speech (samples; 0.512 s).
_MAX_END_TRIM = 16 * FRAME


@lru_cache(maxsize=1)
def _session():
    """The silero-vad onnxruntime session, built once per process and shared (``run`` is
    thread-safe)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread: the network is tiny and sequential, so threads only add latency.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # The export carries a few unused initialisers that onnxruntime warns about on every load.
    options.log_severity_level = 3
    return ort.InferenceSession(str(MODEL_PATH), options, providers=["CPUExecutionProvider"])


class SileroVAD:
    """Speech probability of consecutive 32 ms frames of a 16 kHz stream.

    The model is recurrent: each frame's probability depends on every frame before it since
    the last :meth:`reset`, so frames must be given in order, each exactly once.
    """

    def __init__(self):
        self._session = _session()
        self.reset()

    def reset(self) -> None:
        """Forget the stream: zero LSTM state and context."""
        self._hidden = np.zeros((1, 1, 128), dtype=np.float32)
        self._cell = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """Speech probability of the next 512-sample float32 frame."""
        frame = np.asarray(frame, dtype=np.float32)
        if frame.shape != (FRAME,):
            raise InputError(f"expected one frame of {FRAME} samples, got shape {frame.shape}")
        return float(self.frame_probabilities(frame)[0])

    def frame_probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probabilities of the next ``len(samples) // 512`` frames.

        Parameters
        ----------
        samples : np.ndarray
            1-D float32 audio at 16 kHz whose length is a multiple of 512, continuing the
            stream where the previous call stopped.

        Returns
        -------
        np.ndarray
            One float32 probability per frame.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1 or samples.shape[0] % FRAME:
            raise InputError(f"expected 1-D audio in whole frames of {FRAME} samples, "
                             f"got shape {samples.shape}")
        frames = samples.reshape(-1, FRAME)
        probabilities = np.empty(frames.shape[0], dtype=np.float32)
        for first in range(0, frames.shape[0], FRAMES_PER_CALL):
            block = frames[first:first + FRAMES_PER_CALL]
            windows = np.empty((block.shape[0], CONTEXT + FRAME), dtype=np.float32)
            windows[:, CONTEXT:] = block
            windows[0, :CONTEXT] = self._context
            windows[1:, :CONTEXT] = block[:-1, -CONTEXT:]
            out, self._hidden, self._cell = self._session.run(
                ["speech_probs", "hn", "cn"],
                {"input": windows, "h": self._hidden, "c": self._cell})
            probabilities[first:first + block.shape[0]] = out
            self._context = block[-1, -CONTEXT:].copy()
        return probabilities


@dataclass(frozen=True)
class SegmenterParams:
    """How speech probabilities become utterances. Durations are in seconds.

    Parameters
    ----------
    threshold : float
        A frame at or above this speech probability starts (or continues) speech.
    neg_threshold : float or None
        Below this, a frame counts as silence inside speech (hysteresis); between the two
        thresholds a frame changes nothing. ``None`` means ``threshold - 0.15``.
    min_speech : float
        Utterances with less speech than this (before padding) are dropped as blips.
    min_silence : float
        A pause must last this long to end an utterance; shorter pauses are merged. 0.25 s
        keeps 98% of RAVDESS sentences whole (2% pause 0.25 s or more mid-sentence) while
        still ending an utterance at a 0.5 s pause in silence, of which the VAD's trailing
        probability eats up to 0.2 s. In steady noise the trail is longer and a 0.5 s pause is
        occasionally missed (on RAVDESS conversations, 1-1.5% of utterances came out merged,
        split or missed in white or pink noise 15-25 dB below the speech, 0.6% in silence).
        It is also about how late a stream reports an utterance after it ends.
    speech_pad : float
        Audio kept before and after the detected speech. The start padding never reaches into
        the previous utterance; the end padding stops at the audio seen when the utterance
        closes (``min_silence`` after the VAD's end).
    max_utterance : float
        Longest utterance, padding included; longer speech is split (see module notes).
    end_trim_db : float or None
        Trailing frames of an utterance no more than this many dB above the pause that
        follows it (the pause's median frame energy) are not speech: the end moves back over
        them, by at most 0.5 s. ``None`` keeps the VAD's end.
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech: float = 0.25
    min_silence: float = 0.25
    speech_pad: float = 0.1
    max_utterance: float = 10.0
    end_trim_db: float | None = 6.0

    def __post_init__(self):
        if self.neg_threshold is None:
            object.__setattr__(self, "neg_threshold", max(self.threshold - 0.15, 0.0))
        if not 0.0 < self.threshold <= 1.0:
            raise InputError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.neg_threshold <= self.threshold:
            raise InputError(f"neg_threshold must be in [0, threshold], got {self.neg_threshold}")
        for name in ("min_speech", "min_silence", "speech_pad"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must not be negative, got {getattr(self, name)}")
        shortest = 2 * self.speech_pad + 2 * FRAME / SAMPLE_RATE
        if self.max_utterance < shortest:
            raise InputError(f"max_utterance must be at least 2 * speech_pad + 64 ms "
                             f"({shortest:g} s), got {self.max_utterance}")


@dataclass(frozen=True, eq=False)
class Utterance:
    """One stretch of speech: ``start``/``end`` in seconds from the start of the stream, and
    its 16 kHz float32 ``audio`` (padding included, so ``len(audio) == (end - start) * 16000``).
    """

    start: float
    end: float
    audio: np.ndarray

    @property
    def duration(self) -> float:
        return self.end - self.start


class _SampleBuffer:
    """The recent part of a stream, addressed by absolute sample index; discarding the front is
    lazy (a moving offset, compacted when it passes half the capacity) so small appends stay
    O(chunk)."""

    def __init__(self, capacity: int = 1 << 16):
        self._data = np.empty(capacity, dtype=np.float32)
        self._head = 0      # index in _data of the first live sample
        self._size = 0      # live samples
        self.start = 0      # absolute index of the first live sample

    @property
    def end(self) -> int:
        return self.start + self._size

    def append(self, samples: np.ndarray) -> None:
        n = samples.shape[0]
        if self._head + self._size + n > self._data.shape[0]:
            capacity = max(self._data.shape[0], 2 * (self._size + n))
            data = np.empty(capacity, dtype=np.float32) if capacity > self._data.shape[0] \
                else self._data
            data[:self._size] = self._data[self._head:self._head + self._size]
            self._data, self._head = data, 0
        self._data[self._head + self._size:self._head + self._size + n] = samples
        self._size += n

    def view(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (absolute); a view, valid until the next append."""
        if start < self.start or stop > self.end:
            raise IndexError(f"samples {start}:{stop} are not buffered ({self.start}:{self.end})")
        return self._data[self._head + start - self.start:self._head + stop - self.start]

    def discard_before(self, index: int) -> None:
        drop = min(max(index - self.start, 0), self._size)
        self._head += drop
        self._size -= drop
        self.start += drop


class StreamSegmenter:
    """Turn a 16 kHz stream, fed in chunks of any size, into utterances as they close.

    Only the open utterance (plus padding and at most one partial frame) is kept in memory.

    Parameters
    ----------
    params : SegmenterParams or None
        Thresholds and durations; defaults when ``None``.
    sample_rate : int
        Must be 16000; resample first (:func:`sera.audio.resample` or ``soxr.ResampleStream``).
    source : str or path-like
        Named in error messages.

    Examples
    --------
    >>> seg = StreamSegmenter()
    >>> for chunk in chunks:                       # doctest: +SKIP
    ...     for utt in seg.feed(chunk):
    ...         print(utt.start, utt.end)
    >>> last = seg.flush()                         # doctest: +SKIP
    """

    def __init__(self, params: SegmenterParams | None = None, sample_rate: int = SAMPLE_RATE,
                 source: str | os.PathLike = "<stream>"):
        if sample_rate != SAMPLE_RATE:
            raise InputError(f"the segmenter takes {SAMPLE_RATE} Hz audio, got {sample_rate} Hz; "
                             "resample first")
        self.params = params or SegmenterParams()
        self.source = str(source)
        self._vad = SileroVAD()
        p, sr = self.params, SAMPLE_RATE
        self._min_speech = round(p.min_speech * sr)
        self._min_silence = round(p.min_silence * sr)
        self._pad = round(p.speech_pad * sr)
        self._max = round(p.max_utterance * sr)
        self._reset()

    def _reset(self) -> None:
        self._vad.reset()
        self._buffer = _SampleBuffer()
        self._received = 0          # samples fed so far
        self._next_frame = 0        # index of the first frame not yet given to the VAD
        self._floor = 0             # end of the last emitted utterance: padding stops there
        self._speech_start = None   # sample where the open utterance's speech starts
        self._padded_start = 0
        self._silence_start = None  # candidate end of the open utterance
        self._probs = []            # probabilities of its frames, from its first
        self._closed = []

    def feed(self, chunk: np.ndarray) -> list[Utterance]:
        """Add samples (1-D float, 16 kHz, any length); return the utterances that closed."""
        chunk = np.asarray(chunk)
        if chunk.ndim != 1 or not np.issubdtype(chunk.dtype, np.floating):
            raise InputError(f"expected 1-D float samples, got {chunk.dtype} of shape "
                             f"{chunk.shape}")
        if not np.isfinite(chunk).all():
            raise AudioError(self.source, f"NaN or infinite samples near "
                                          f"{self._received / SAMPLE_RATE:.2f} s")
        self._buffer.append(chunk)
        self._received += chunk.shape[0]
        frames = (self._received - self._next_frame * FRAME) // FRAME
        if frames:
            start = self._next_frame * FRAME
            probs = self._vad.frame_probabilities(self._buffer.view(start, start + frames * FRAME))
            for prob in probs.tolist():
                self._step(prob)
        self._discard()
        return self._take_closed()

    def flush(self) -> list[Utterance]:
        """End the stream: decide the last partial frame and close any open utterance.

        The segmenter is then ready for a new stream, with times counted from zero again.
        """
        tail = self._received - self._next_frame * FRAME
        if tail:
            start = self._next_frame * FRAME
            frame = np.zeros(FRAME, dtype=np.float32)
            frame[:tail] = self._buffer.view(start, self._received)
            self._step(float(self._vad.frame_probabilities(frame)[0]))
        if self._speech_start is not None:
            end = self._received if self._silence_start is None else self._silence_start
            self._close(end, available=self._received)
        closed = self._take_closed()
        self._reset()
        return closed

    def _step(self, prob: float) -> None:
        """Advance the decision by one frame of speech probability ``prob``."""
        p = self.params
        frame_start = self._next_frame * FRAME
        self._next_frame += 1
        now = min(frame_start + FRAME, self._received)
        if self._speech_start is None:
            if prob >= p.threshold:
                self._speech_start = frame_start
                self._padded_start = max(frame_start - self._pad, self._floor)
                self._silence_start = None
                self._probs = [prob]
            return
        self._probs.append(prob)
        if prob >= p.threshold:
            self._silence_start = None
        elif prob < p.neg_threshold and self._silence_start is None:
            self._silence_start = frame_start
        if self._silence_start is not None and now - self._silence_start >= self._min_silence:
            self._close(self._silence_start, available=now)
        elif now - self._padded_start >= self._max:
            self._split(now)

    def _split(self, now: int) -> None:
        """Cut an utterance that has reached ``max_utterance``."""
        if self._silence_start is not None:
            self._close(self._silence_start, available=now)
            return
        first_frame = self._speech_start // FRAME
        # Search the second half, so both the piece and the rest stay well under the limit.
        lo = max(-(-(self._padded_start + self._max // 2) // FRAME) - first_frame, 0)
        cut_frame = first_frame + lo + int(np.argmin(self._probs[lo:]))
        cut = cut_frame * FRAME
        self._emit(self._padded_start, cut)
        # The rest continues as speech, contiguous with the piece, so it has no start padding.
        self._probs = self._probs[cut_frame - first_frame:]
        self._speech_start = self._padded_start = cut

    def _close(self, end: int, available: int) -> None:
        """Close the open utterance with its speech ending at sample ``end``."""
        if end - self._speech_start >= self._min_speech:
            end = self._trim_background(end, available)
            padded_end = min(end + self._pad, available, self._padded_start + self._max)
            self._emit(self._padded_start, padded_end)
        self._speech_start = self._silence_start = None
        self._probs = []

    def _trim_background(self, end: int, available: int) -> int:
        """Pull ``end`` back over trailing frames no louder than the pause that follows.

        In steady noise the VAD's probability trails off for 0.2-0.5 s after the voice stops;
        the pause after ``end`` (buffered anyway) shows the background level, and trailing
        frames at that level are not speech. The pull is bounded by that trail, so speech at a
        low signal-to-noise ratio, which the VAD heard, is never cut away.
        """
        margin = self.params.end_trim_db
        pause_frames = (available - end) // FRAME
        if margin is None or pause_frames < _MIN_BACKGROUND_FRAMES:
            return end
        first = max(end - _MAX_END_TRIM, self._speech_start + FRAME)
        frames = self._buffer.view(first, end + pause_frames * FRAME).reshape(-1, FRAME)
        energy = np.square(frames, dtype=np.float64).mean(axis=1)
        tail = (end - first) // FRAME
        background = np.median(energy[tail:])
        louder = np.flatnonzero(energy[:tail] > background * 10 ** (margin / 10))
        return first + (int(louder[-1]) + 1) * FRAME if louder.size else first

    def _emit(self, start: int, stop: int) -> None:
        audio = self._buffer.view(start, stop).copy()
        self._closed.append(Utterance(start / SAMPLE_RATE, stop / SAMPLE_RATE, audio))
        self._floor = stop

    def _discard(self) -> None:
        """Drop audio that no utterance can reach any more."""
        if self._speech_start is not None:
            keep = self._padded_start
        else:
            keep = max(self._next_frame * FRAME - self._pad, self._floor)
        self._buffer.discard_before(keep)

    def _take_closed(self) -> list[Utterance]:
        closed, self._closed = self._closed, []
        return closed


#: Samples per :meth:`StreamSegmenter.feed` call in :func:`segment` (10 s).
_OFFLINE_CHUNK = 10 * SAMPLE_RATE


def segment(y: np.ndarray, sr: int = SAMPLE_RATE,
            params: SegmenterParams | None = None) -> list[Utterance]:
    """The utterances in a 16 kHz mono signal.

    Parameters
    ----------
    y : np.ndarray
        1-D float audio at 16 kHz (see :func:`sera.audio.load`).
    sr : int
        Its sample rate; must be 16000.
    params : SegmenterParams or None
        Thresholds and durations; defaults when ``None``.

    Returns
    -------
    list of Utterance
        In time order, not overlapping.
    """
    segmenter = StreamSegmenter(params, sample_rate=sr, source="<array>")
    y = np.asarray(y)
    utterances = []
    for start in range(0, y.shape[0], _OFFLINE_CHUNK):
        utterances += segmenter.feed(y[start:start + _OFFLINE_CHUNK])
    return utterances + segmenter.flush()


def segment_file(path: str | os.PathLike, params: SegmenterParams | None = None,
                 block_seconds: float = 30.0) -> Iterator[Utterance]:
    """Yield the utterances of an audio file as they are found, reading it block by block.

    Each block is downmixed and resampled to 16 kHz with a streaming soxr resampler, so memory
    stays bounded by one block and the open utterance whatever the file's length.

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads, at any sample rate and channel count.
    params : SegmenterParams or None
        Thresholds and durations; defaults when ``None``.
    block_seconds : float
        Audio read per step.

    Raises
    ------
    AudioError
        If the file is missing, unreadable or holds non-finite samples.
    """
    rate, blocks = mono_blocks(path, block_seconds)
    yield from segment_chunks(blocks, rate, params, source=path)


def segment_chunks(chunks: Iterable[np.ndarray], sample_rate: int,
                   params: SegmenterParams | None = None,
                   source: str | os.PathLike = "<stream>") -> Iterator[Utterance]:
    """Yield the utterances of a stream of mono float32 chunks as each one closes.

    Chunks at another rate than 16 kHz are resampled as they come by a streaming soxr
    resampler, so the stream is never held whole.

    Parameters
    ----------
    chunks : iterable of np.ndarray
        Mono float32 audio, chunks of any size.
    sample_rate : int
        Their rate.
    params : SegmenterParams or None
        Thresholds and durations; defaults when ``None``.
    source : str or path-like
        Named in error messages.
    """
    import soxr

    segmenter = StreamSegmenter(params, source=source)
    resampler = None if sample_rate == SAMPLE_RATE else soxr.ResampleStream(
        sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    for y in chunks:
        if resampler is not None:
            y = resampler.resample_chunk(y)
        yield from segmenter.feed(y)
    if resampler is not None:
        yield from segmenter.feed(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    yield from segmenter.flush()
