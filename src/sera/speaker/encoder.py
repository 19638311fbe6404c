"""Speaker embeddings from Resemblyzer's GE2E encoder, run by onnxruntime.

The network (``ge2e.onnx``, built by ``scripts/build_speaker_encoder.py`` from the weights in
Resemblyzer's wheel, Apache-2.0; see ``NOTICE`` beside it) reads 1.6 s windows of a 16 kHz
power spectrogram (25 ms Hann frames every 10 ms, the 40-band mel filter bank is inside the
graph) and gives an L2-normalised 256-dimensional embedding per window. Voices that are alike
have embeddings with a cosine similarity near 1; the same speaker's utterances typically score
0.75-0.9 against each other and 0.4-0.7 against another speaker's.

The front end follows Resemblyzer's ``preprocess_wav`` and ``embed_utterance``: the volume is
raised (never lowered) to -30 dBFS, and an utterance's embedding is the normalised mean of its
windows' (1.3 windows a second, the last one kept when it is at least 75% covered).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from sera.errors import InputError
from sera.features.descriptors import stft_power

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
MEL_BANDS = 40
#: Frames per window the encoder was trained on (1.6 s).
WINDOW_FRAMES = 160
#: Loudness the encoder was trained at (Resemblyzer's ``audio_norm_target_dBFS``).
TARGET_DBFS = -30.0
EMBEDDING_SIZE = 256
#: :func:`subtract_noise`: the share of an utterance's frames (quietest first) that estimate its
#: noise floor, the over-subtraction factor and the spectral floor: the better of two settings
#: tried (against 0.2, 1.0, 0.02) on dialogues of RAVDESS actors 13-18 under pink and white
#: floors, the same dialogues the figures of docs/guide/conversations.md come from.
NOISE_QUIET, NOISE_OVER, NOISE_FLOOR = 0.1, 2.0, 0.02

MODEL_FILE = Path(__file__).resolve().with_name("ge2e.onnx")


@lru_cache(maxsize=1)
def _session():
    """The onnxruntime session, built once per process (``run`` is thread-safe)."""
    import onnxruntime as ort

    if not MODEL_FILE.is_file():
        raise FileNotFoundError(f"{MODEL_FILE}: the speaker encoder is not installed (build it "
                                f"with `python scripts/build_speaker_encoder.py`)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(MODEL_FILE), options, providers=["CPUExecutionProvider"])


def normalize_volume(y: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the level of ``y`` to ``target_dbfs`` (RMS); a louder signal is left as it is."""
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    if rms <= 0.0:
        return y
    change = target_dbfs - 20.0 * np.log10(rms)
    return y if change < 0 else y * np.float32(10.0 ** (change / 20.0))


def power_frames(y: np.ndarray) -> np.ndarray:
    """Power spectrogram ``(frames, 201)`` of 16 kHz audio, frames centred every 10 ms."""
    return np.ascontiguousarray(stft_power(y, N_FFT, HOP).T)


def window_starts(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
    """First frame of each window over ``n_samples``, as Resemblyzer's
    ``compute_partial_slices``: a window every ``1 / rate`` seconds, the last kept when at least
    ``min_coverage`` of it holds audio, always at least one."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round(SAMPLE_RATE / rate / HOP))
    if not 0 < step <= WINDOW_FRAMES:
        raise InputError(f"rate {rate} must be between {SAMPLE_RATE / HOP / WINDOW_FRAMES:.3f} "
                         f"and {SAMPLE_RATE / HOP:.0f} windows a second")
    starts = np.arange(0, max(1, n_frames - WINDOW_FRAMES + step + 1), step)
    coverage = (n_samples - starts[-1] * HOP) / (WINDOW_FRAMES * HOP)
    if coverage < min_coverage and starts.size > 1:
        starts = starts[:-1]
    return starts


def embed_windows(y: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Embeddings ``(len(starts), 256)`` of the 1.6 s windows of ``y`` starting at these frames.

    ``y`` is 16 kHz audio, already level-normalised (:func:`normalize_volume`); it is
    zero-padded when the last window reaches past its end.
    """
    return embed_power(power_windows(y, starts))


def power_windows(y: np.ndarray, starts: np.ndarray, denoise: bool = False) -> np.ndarray:
    """The power spectrogram windows ``(len(starts), 160, 201)`` that :func:`embed_power`
    takes, of 16 kHz audio ``y`` (zero-padded past its end); with ``denoise``, after
    :func:`subtract_noise` over the frames of ``y``."""
    starts = np.asarray(starts, dtype=int)
    if starts.size == 0:
        return np.zeros((0, WINDOW_FRAMES, N_FFT // 2 + 1), np.float32)
    y = np.asarray(y, dtype=np.float32)
    frames = int(np.ceil(y.shape[0] / HOP))
    needed = (int(starts.max()) + WINDOW_FRAMES) * HOP
    if needed >= y.shape[0]:
        y = np.pad(y, (0, needed - y.shape[0]))
    power = power_frames(y)
    if denoise:
        power = subtract_noise(power, frames)
    return np.stack([power[s:s + WINDOW_FRAMES] for s in starts])


def subtract_noise(power: np.ndarray, frames: int | None = None, quiet: float = NOISE_QUIET,
                   over: float = NOISE_OVER, floor: float = NOISE_FLOOR) -> np.ndarray:
    """Power spectral subtraction of a stationary noise floor estimated from the frames.

    A noise floor under an utterance (the hiss of a microphone, a room) moves every GE2E
    embedding of a recording toward the same point, so two voices sound alike. Its power
    spectrum is estimated as the mean of the utterance's quietest frames (the pauses between
    words), and subtracted ``over`` times (Berouti, Schwartz & Makhoul 1979), leaving at least
    ``floor`` times the noise in each bin. Speech over digital silence is left almost as it is:
    its quietest frames are near zero.

    Parameters
    ----------
    power : np.ndarray
        Power spectrogram ``(frames, bins)``.
    frames : int, optional
        How many leading frames hold the utterance (the rest is padding); default all.
    quiet : float
        The share of frames, quietest first, that the noise is estimated from.
    over : float
        Over-subtraction factor.
    floor : float
        Spectral floor, as a share of the noise estimate.

    Returns
    -------
    np.ndarray
        float32, the shape of ``power``.
    """
    power = np.asarray(power, dtype=np.float32)
    held = power[:frames] if frames is not None else power
    if held.shape[0] == 0:
        return power
    quietest = np.argsort(held.sum(axis=1), kind="stable")[:max(1, int(quiet * held.shape[0]))]
    noise = held[quietest].mean(axis=0)
    return np.maximum(power - over * noise, floor * noise).astype(np.float32)


def embed_power(windows: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Embeddings ``(n, 256)`` of power spectrogram windows ``(n, frames, 201)``.

    Windows are run together, ``batch_size`` at a time: one window per call costs about twice
    as much per window as four or more.
    """
    if windows.shape[0] == 0:
        return np.zeros((0, EMBEDDING_SIZE), np.float32)
    session = _session()
    return np.concatenate([session.run(None, {"power": windows[i:i + batch_size]})[0]
                           for i in range(0, windows.shape[0], batch_size)])


def embed_utterance(y: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
    """The speaker embedding ``(256,)`` of one utterance of 16 kHz audio: the normalised mean of
    its windows' embeddings (Resemblyzer's ``preprocess_wav`` level and ``embed_utterance``)."""
    y = normalize_volume(y)
    partials = embed_windows(y, window_starts(y.shape[0], rate, min_coverage))
    return l2_normalize(partials.mean(axis=0))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows (or a vector) scaled to unit length; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def embed_file(path) -> np.ndarray:
    """The speaker embedding ``(256,)`` of a clip's speech: from the VAD's first utterance to
    its last (:mod:`sera.segment`), the whole clip if it finds none."""
    from sera.audio import load
    from sera.segment import segment

    y = load(path, SAMPLE_RATE)
    found = segment(y, SAMPLE_RATE)
    if found:
        y = y[int(found[0].start * SAMPLE_RATE):int(found[-1].end * SAMPLE_RATE)]
    return embed_utterance(y)
