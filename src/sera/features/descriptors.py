"""Frame descriptors: pure functions of a waveform or of its spectrogram.

One STFT per clip feeds every spectral descriptor: compute :func:`stft_power` once and hand the
power spectrogram (or its square root, the magnitude) to the spectral functions. Spectrograms
are laid out like librosa's, ``(bins, frames)``, and every function follows librosa's framing
conventions (centred frames, Hann window, zero padding), so librosa is the numeric oracle in the
tests. The STFT itself is scipy.fft over strided frames, in blocks, which is faster than
``librosa.stft`` on short clips; filter banks come from ``librosa.filters`` and are cached.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import scipy.sparse

#: Values within this distance of zero count as zero when counting sign changes (librosa's).
ZERO_THRESHOLD = 1e-10

#: Smallest power that ``log10`` sees in :func:`power_to_db` (librosa's ``amin``).
AMIN = 1e-10

#: Size of the windowed frames transformed at once by :func:`stft_power`.
STFT_BLOCK_BYTES = 1 << 18

_TINY = np.finfo(np.float32).tiny


def frame(y: np.ndarray, frame_length: int, hop: int, center: bool = True,
          pad_mode: str = "constant") -> np.ndarray:
    """Overlapping frames of a signal as a read-only strided view (no copy).

    Parameters
    ----------
    y : np.ndarray
        1-D signal.
    frame_length, hop : int
        Frame size and step in samples.
    center : bool
        Pad ``frame_length // 2`` samples on both sides, so frame ``t`` is centred on sample
        ``t * hop`` (librosa's convention).
    pad_mode : str
        ``numpy.pad`` mode for the centring pad: librosa uses ``"constant"`` (zeros) for
        the STFT and RMS and ``"edge"`` for the zero-crossing rate.

    Returns
    -------
    np.ndarray
        ``(n_frames, frame_length)`` with ``n_frames = 1 + (len(y) + pad - frame_length) // hop``.
    """
    y = np.asarray(y)
    if center:
        y = np.pad(y, frame_length // 2, mode=pad_mode)
    if y.shape[0] < frame_length:
        raise ValueError(f"signal of {y.shape[0]} samples is shorter than one frame "
                         f"({frame_length}); use center=True")
    return np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop]


@lru_cache(maxsize=32)
def hann(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` samples, zero-padded to ``n_fft`` at the centre."""
    window = np.zeros(n_fft, dtype=np.float32)
    start = (n_fft - win_length) // 2
    window[start:start + win_length] = 0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(win_length) / win_length)
    window.flags.writeable = False
    return window


def stft_power(y: np.ndarray, n_fft: int, hop: int, center: bool = True,
               win_length: int | None = None) -> np.ndarray:
    """Power spectrogram ``|STFT|**2`` with a Hann window, as ``librosa.stft`` frames it.

    Parameters
    ----------
    y : np.ndarray
        1-D float signal.
    n_fft : int
        FFT size.
    hop : int
        Hop in samples.
    center : bool
        Centre the frames, zero-padding ``n_fft // 2`` samples at both ends.
    win_length : int, optional
        Window length (``<= n_fft``, zero-padded to ``n_fft``); defaults to ``n_fft``.

    Returns
    -------
    np.ndarray
        float32 ``(1 + n_fft // 2, n_frames)``.
    """
    frames = frame(np.asarray(y, dtype=np.float32), n_fft, hop, center=center)
    window = hann(win_length or n_fft, n_fft)
    power = np.empty((frames.shape[0], 1 + n_fft // 2), dtype=np.float32)
    # Blocks of frames keep the temporaries small. Whole-clip temporaries (a few MB) are handed
    # back to the OS by malloc on every call and page-faulted in again on the next, which
    # costs more than the FFTs themselves.
    block = max(1, STFT_BLOCK_BYTES // (4 * n_fft))
    for start in range(0, frames.shape[0], block):
        spectrum = scipy.fft.rfft(frames[start:start + block] * window, axis=-1)
        out = power[start:start + block]
        np.square(spectrum.real, out=out)
        out += np.square(spectrum.imag)
    return power.T


def zero_crossing_rate(y: np.ndarray, frame_length: int = 2048, hop: int = 512,
                       center: bool = True) -> np.ndarray:
    """Fraction of samples in each frame where the sign changes (``librosa``'s definition).

    Samples within :data:`ZERO_THRESHOLD` of zero count as positive zeros; frames are
    edge-padded when centred. Counting runs once over the whole signal with a cumulative sum,
    so the result is exact and independent of the overlap.

    Returns
    -------
    np.ndarray
        float64 ``(n_frames,)`` in ``[0, 1)``.
    """
    y = np.asarray(y)
    if center:
        y = np.pad(y, frame_length // 2, mode="edge")
    negative = y < -ZERO_THRESHOLD
    changes = np.concatenate(([0], np.cumsum(negative[1:] != negative[:-1], dtype=np.int32)))
    starts = np.arange(0, y.shape[0] - frame_length + 1, hop)
    return (changes[starts + frame_length - 1] - changes[starts]) / frame_length


def energy(y: np.ndarray, frame_length: int = 2048, hop: int = 512,
           center: bool = True) -> np.ndarray:
    """Mean square of each (unwindowed, zero-padded) frame: the short-term energy.

    Returns
    -------
    np.ndarray
        float64 ``(n_frames,)``.
    """
    frames = frame(np.asarray(y, dtype=np.float32), frame_length, hop, center=center)
    return np.einsum("ij,ij->i", frames, frames).astype(np.float64) / frame_length


def rms(y: np.ndarray, frame_length: int = 2048, hop: int = 512,
        center: bool = True) -> np.ndarray:
    """Root mean square of each frame (``librosa.feature.rms`` on a waveform).

    Returns
    -------
    np.ndarray
        float64 ``(n_frames,)``.
    """
    return np.sqrt(energy(y, frame_length, hop, center=center))


def energy_entropy(y: np.ndarray, frame_length: int = 2048, hop: int = 512,
                   center: bool = True, n_blocks: int = 10) -> np.ndarray:
    """Entropy (bits) of the energy distribution over ``n_blocks`` sub-frames of each frame.

    Low for a frame whose energy is concentrated in a burst (an onset, a plosive), close to
    ``log2(n_blocks)`` for steady sound. Silent frames get 0. Level-invariant.

    Returns
    -------
    np.ndarray
        float64 ``(n_frames,)`` in ``[0, log2(n_blocks)]``.
    """
    frames = frame(np.asarray(y, dtype=np.float32), frame_length, hop, center=center)
    block = frame_length // n_blocks
    blocks = frames[:, :block * n_blocks].reshape(frames.shape[0], n_blocks, block)
    return _entropy(np.einsum("ijk,ijk->ij", blocks, blocks).astype(np.float64), axis=1)


def periodicity(y: np.ndarray, lags: np.ndarray, frame_length: int = 1024, hop: int = 160,
                center: bool = True) -> np.ndarray:
    """Normalised autocorrelation of each frame at its own lag, e.g. the period YIN found.

    ``r = sum(x[:L-T] * x[T:]) / sqrt(sum(x[:L-T]**2) * sum(x[T:]**2))`` for frame ``x`` of
    length ``L`` and lag ``T``: close to 1 for a periodic (voiced) frame at its true period,
    near 0 for noise. Frames are zero-padded like ``librosa.yin``'s, so they line up with it.

    Parameters
    ----------
    y : np.ndarray
        1-D signal.
    lags : np.ndarray
        One lag per frame, in samples (rounded; clipped to ``[1, frame_length - 1]``).

    Returns
    -------
    np.ndarray
        ``(n_frames,)`` in ``[-1, 1]``; 0 for silent frames.
    """
    y = np.asarray(y, dtype=np.float32)
    if center:
        y = np.pad(y, frame_length // 2)
    # Frame i is windows[start_i]; its lagged copy windows[start_i + T_i] runs past the frame
    # into the next samples (or these zeros), so both are cut to the first L - T_i samples.
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(y, (0, frame_length)),
                                                       frame_length)
    starts = np.arange(0, y.shape[0] - frame_length + 1, hop)
    lags = np.clip(np.rint(lags).astype(int), 1, frame_length - 1)
    overlap = np.arange(frame_length) < (frame_length - lags)[:, None]
    earlier = np.where(overlap, windows[starts], np.float32(0))
    later = np.where(overlap, windows[starts + lags], np.float32(0))
    product = np.einsum("ij,ij->i", earlier, later).astype(np.float64)
    energy = np.einsum("ij,ij->i", earlier, earlier).astype(np.float64) * np.einsum(
        "ij,ij->i", later, later).astype(np.float64)
    denominator = np.sqrt(energy)
    return np.divide(product, denominator, out=np.zeros_like(denominator),
                     where=denominator > 0)


def spectral_centroid(S: np.ndarray, sr: int) -> np.ndarray:
    """Amplitude-weighted mean frequency of each frame (``librosa.feature.spectral_centroid``).

    Parameters
    ----------
    S : np.ndarray
        Magnitude (librosa's default) or power spectrogram ``(bins, frames)``.
    sr : int
        Sample rate of the analysed signal.

    Returns
    -------
    np.ndarray
        Hz, ``(frames,)``; 0 for silent frames.
    """
    return fft_frequencies(sr, S.shape[0]) @ _normalize_columns(S)


def spectral_spread(S: np.ndarray, sr: int, centroid: np.ndarray | None = None) -> np.ndarray:
    """Spectral bandwidth: the weighted standard deviation of frequency around the centroid.

    Matches ``librosa.feature.spectral_bandwidth`` (``p=2``) on the same spectrogram.

    Returns
    -------
    np.ndarray
        Hz, ``(frames,)``.
    """
    if centroid is None:
        centroid = spectral_centroid(S, sr)
    deviation = fft_frequencies(sr, S.shape[0])[:, None] - centroid[None, :]
    return np.sqrt(np.sum(_normalize_columns(S) * deviation**2, axis=0))


def spectral_rolloff(S: np.ndarray, sr: int, roll_percent: float = 0.85) -> np.ndarray:
    """Frequency below which ``roll_percent`` of each frame's spectral mass lies.

    Matches ``librosa.feature.spectral_rolloff`` on the same spectrogram.

    Returns
    -------
    np.ndarray
        Hz, ``(frames,)``.
    """
    cumulative = np.cumsum(S, axis=0)
    reached = cumulative >= roll_percent * cumulative[-1]
    return fft_frequencies(sr, S.shape[0])[np.argmax(reached, axis=0)]


def spectral_entropy(S: np.ndarray, n_blocks: int = 10) -> np.ndarray:
    """Entropy (bits) of each frame's power distribution over ``n_blocks`` equal sub-bands.

    Low for tonal or band-limited frames, close to ``log2(n_blocks)`` for white noise.
    Silent frames get 0. Level-invariant.

    Parameters
    ----------
    S : np.ndarray
        Power spectrogram ``(bins, frames)``.
    """
    band = S.shape[0] // n_blocks
    bands = S[:band * n_blocks].reshape(n_blocks, band, S.shape[1]).sum(axis=1, dtype=np.float64)
    return _entropy(bands, axis=0)


def spectral_flux(S: np.ndarray) -> np.ndarray:
    """Squared distance between consecutive frames' sum-normalised spectra.

    Each frame's spectrum is divided by its sum first, so the flux measures change in
    spectral *shape*, not in level. The first frame has no predecessor and gets 0.

    Parameters
    ----------
    S : np.ndarray
        Magnitude spectrogram ``(bins, frames)``.
    """
    shape = _normalize_columns(S)
    flux = np.zeros(S.shape[1])
    flux[1:] = np.sum(np.diff(shape, axis=1) ** 2, axis=0)
    return flux


def chroma(S: np.ndarray, sr: int, n_chroma: int = 12, tuning: float = 0.0) -> np.ndarray:
    """Chromagram: power folded onto the 12 pitch classes, each frame scaled to a maximum of 1.

    Matches ``librosa.feature.chroma_stft(S=S, sr=sr, tuning=tuning)``. The tuning is fixed
    (A440 by default) rather than estimated per clip, which keeps it a cheap matrix product.

    Parameters
    ----------
    S : np.ndarray
        Power spectrogram ``(bins, frames)``.

    Returns
    -------
    np.ndarray
        ``(n_chroma, frames)``, rows C, C#, ..., B.
    """
    raw = _chroma_filters(sr, 2 * (S.shape[0] - 1), n_chroma, tuning) @ S
    peak = raw.max(axis=0)
    return raw / np.where(peak < _TINY, 1.0, peak)


def mel_spectrogram(S: np.ndarray, sr: int, n_mels: int = 128, fmin: float = 0.0,
                    fmax: float | None = None) -> np.ndarray:
    """Mel-band power (``librosa.feature.melspectrogram`` on a power spectrogram).

    Slaney-style mel scale and area normalisation (librosa's defaults). The filter bank is
    built once per parameter set and applied as a sparse matrix: each FFT bin feeds at most
    two bands, so this is about four times faster than the dense product.

    Parameters
    ----------
    S : np.ndarray
        Power spectrogram ``(bins, frames)``.

    Returns
    -------
    np.ndarray
        float32 ``(n_mels, frames)``.
    """
    return _mel_filters(sr, 2 * (S.shape[0] - 1), n_mels, fmin, fmax) @ S


def power_to_db(S: np.ndarray, ref: float = 1.0, top_db: float | None = 80.0) -> np.ndarray:
    """``10 * log10(S / ref)``, floored ``top_db`` below the maximum (librosa's ``power_to_db``).

    ``ref`` is a number; pass ``S.max()`` for decibels relative to the loudest cell.
    """
    return librosa.power_to_db(S, ref=ref, amin=AMIN, top_db=top_db)


def mfcc(M: np.ndarray, n_mfcc: int = 20, top_db: float | None = 80.0) -> np.ndarray:
    """Mel-frequency cepstral coefficients from a mel power spectrogram.

    ``power_to_db`` (ref 1, floor ``top_db`` below the maximum) then an orthonormal DCT-II
    over the bands: ``librosa.feature.mfcc``'s defaults.

    Parameters
    ----------
    M : np.ndarray
        Mel power spectrogram ``(n_mels, frames)``, e.g. from :func:`mel_spectrogram`.

    Returns
    -------
    np.ndarray
        ``(n_mfcc, frames)``.
    """
    return scipy.fft.dct(power_to_db(M, top_db=top_db), axis=0, type=2, norm="ortho")[:n_mfcc]


@lru_cache(maxsize=32)
def fft_frequencies(sr: int, n_bins: int) -> np.ndarray:
    """Centre frequency (Hz) of each of the ``n_bins`` bins of a one-sided spectrum."""
    freqs = np.linspace(0, sr / 2, n_bins)
    freqs.flags.writeable = False
    return freqs


@lru_cache(maxsize=32)
def _mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float,
                 fmax: float | None) -> scipy.sparse.csr_array:
    return scipy.sparse.csr_array(
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))


@lru_cache(maxsize=32)
def _chroma_filters(sr: int, n_fft: int, n_chroma: int, tuning: float) -> np.ndarray:
    bank = librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=n_chroma, tuning=tuning)
    bank.flags.writeable = False
    return bank


def _normalize_columns(S: np.ndarray) -> np.ndarray:
    """Each column divided by its sum; all-zero columns stay zero (librosa's ``normalize``)."""
    total = S.sum(axis=0)
    return S / np.where(total < _TINY, 1.0, total)


def _entropy(energies: np.ndarray, axis: int) -> np.ndarray:
    """Shannon entropy (bits) of non-negative weights along ``axis``; 0 where they sum to 0."""
    p = _normalize_columns(np.moveaxis(energies, axis, 0))
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=0)
