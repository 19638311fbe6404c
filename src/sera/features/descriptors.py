"""Frame descriptors: pure functions of a waveform or of its spectrogram.

One STFT per clip feeds every spectral descriptor: compute :func:`stft_power` once and hand the
power spectrogram (or its square root, the magnitude) to the spectral functions. Spectrograms
are laid out like librosa's, ``(bins, frames)``, and every function follows librosa's framing
conventions (centred frames, Hann window, zero padding), so librosa is the numeric oracle in the
tests. The STFT itself is numpy.fft over strided frames, in blocks, which is faster than
``librosa.stft`` on short clips; the mel and chroma filter banks and the DCT are librosa's
formulas, built once per parameter set. Products are ``np.einsum``, never BLAS: a BLAS thread
pool makes these small products several times slower on a busy machine, and its sums depend
on its thread count, so the features would too. This is the inference path, so it imports numpy
alone: librosa pulls in numba and scikit-learn, and scipy.fft and scipy.sparse cost a third of a
second of start-up.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sera.errors import InputError

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
        raise InputError(f"signal of {y.shape[0]} samples is shorter than one frame "
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
        spectrum = np.fft.rfft(frames[start:start + block] * window, axis=-1)
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
    return np.einsum("i,ij->j", fft_frequencies(sr, S.shape[0]), _normalize_columns(S))


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
    raw = np.einsum("ij,jk->ik", _chroma_filters(sr, 2 * (S.shape[0] - 1), n_chroma, tuning), S)
    peak = raw.max(axis=0)
    return raw / np.where(peak < _TINY, 1.0, peak)


def mel_spectrogram(S: np.ndarray, sr: int, n_mels: int = 128, fmin: float = 0.0,
                    fmax: float | None = None) -> np.ndarray:
    """Mel-band power (``librosa.feature.melspectrogram`` on a power spectrogram).

    Slaney-style mel scale and area normalisation (librosa's defaults). The filter bank is
    built once per parameter set.

    Parameters
    ----------
    S : np.ndarray
        Power spectrogram ``(bins, frames)``.

    Returns
    -------
    np.ndarray
        float32 ``(n_mels, frames)``.
    """
    return np.einsum("ij,jk->ik", _mel_filters(sr, 2 * (S.shape[0] - 1), n_mels, fmin, fmax), S)


def power_to_db(S: np.ndarray, ref: float = 1.0, top_db: float | None = 80.0) -> np.ndarray:
    """``10 * log10(S / ref)``, floored ``top_db`` below the maximum (librosa's ``power_to_db``).

    ``ref`` is a number; pass ``S.max()`` for decibels relative to the loudest cell.
    """
    S = np.asarray(S)
    log_spec = 10.0 * np.log10(np.maximum(AMIN, S))
    log_spec -= 10.0 * np.log10(np.maximum(AMIN, abs(ref)))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


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
    db = power_to_db(M, top_db=top_db)
    return np.einsum("ij,jk->ik", _dct_matrix(db.shape[0], n_mfcc),
                     db.astype(np.float64)).astype(db.dtype)


@lru_cache(maxsize=32)
def _dct_matrix(n: int, n_out: int) -> np.ndarray:
    """The first ``n_out`` rows of the orthonormal DCT-II of length ``n``
    (``scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:n_out] == _dct_matrix(n, n_out) @ x``)."""
    k = np.arange(n_out)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    basis.flags.writeable = False
    return basis


@lru_cache(maxsize=32)
def fft_frequencies(sr: int, n_bins: int) -> np.ndarray:
    """Centre frequency (Hz) of each of the ``n_bins`` bins of a one-sided spectrum."""
    freqs = np.linspace(0, sr / 2, n_bins)
    freqs.flags.writeable = False
    return freqs


def delta(X: np.ndarray, width: int = 9) -> np.ndarray:
    """First-order deltas along the last axis: the least-squares slope over ``width`` frames,
    edges repeated (``librosa.feature.delta(X, width=width, mode="nearest")``, a first-order
    Savitzky-Golay derivative)."""
    half = width // 2
    X = np.asarray(X)
    padded = np.pad(X, [(0, 0)] * (X.ndim - 1) + [(half, half)], mode="edge")
    n = X.shape[-1]
    out = np.zeros(X.shape, dtype=np.result_type(X.dtype, np.float64))
    for k in range(1, half + 1):
        out += k * (padded[..., half + k:half + k + n] - padded[..., half - k:half - k + n])
    return (out / (2 * sum(k * k for k in range(1, half + 1)))).astype(X.dtype)


def yin(y: np.ndarray, fmin: float, fmax: float, sr: int, frame_length: int = 2048,
        hop: int | None = None, trough_threshold: float = 0.1) -> np.ndarray:
    """Fundamental frequency (Hz) of each frame by YIN (``librosa.yin`` with centred,
    zero-padded frames).

    The cumulative mean normalised difference of each frame is searched for the first trough
    below ``trough_threshold`` (else its global minimum), refined by parabolic interpolation.
    """
    hop = frame_length // 4 if hop is None else hop
    y = np.pad(np.asarray(y), frame_length // 2)
    frames = np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop].T
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)
    # Autocorrelation by FFT, as librosa.autocorrelate.
    n_pad = _next_fast_len(2 * frame_length - 1)
    spectrum = np.fft.rfft(frames, n=n_pad, axis=0)
    acf = np.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, n=n_pad,
                       axis=0)[:max_period + 1]
    energy = np.cumsum(np.square(frames), axis=0)
    diff = np.empty_like(energy)
    diff[0] = 0
    diff[1:max_period + 1] = 2 * (acf[0:1] - acf[1:max_period + 1]) - energy[:max_period]
    diff = diff[:max_period + 1]
    numerator = diff[min_period:max_period + 1]
    cumulative_mean = np.cumsum(diff[1:max_period + 1], axis=0) / np.arange(
        1, max_period + 1)[:, None]
    denominator = cumulative_mean[min_period - 1:max_period]
    d = numerator / (denominator + np.finfo(denominator.dtype).tiny)
    shifts = _parabolic_shifts(d)
    is_trough = np.zeros(d.shape, dtype=bool)
    is_trough[1:-1] = (d[1:-1] < d[:-2]) & (d[1:-1] <= d[2:])
    is_trough[-1] = d[-1] < d[-2]
    is_trough[0] = d[0] < d[1]
    below = is_trough & (d < trough_threshold)
    period = np.where(below.any(axis=0), np.argmax(below, axis=0), np.argmin(d, axis=0))
    refined = min_period + period + np.take_along_axis(shifts, period[None, :], axis=0)[0]
    return sr / refined


def trim(y: np.ndarray, top_db: float, frame_length: int, hop: int) -> np.ndarray:
    """``y`` without leading and trailing frames more than ``top_db`` below the loudest frame
    (``librosa.effects.trim(y, top_db=..., frame_length=..., hop_length=...)[0]``)."""
    level = rms(y, frame_length, hop)
    # Digital silence is all "loud" (0 dB against a peak of 0, as librosa): kept whole.
    db = power_to_db(np.square(level), ref=level.max(initial=0.0) ** 2, top_db=None)
    loud = np.flatnonzero(db > -top_db)
    if loud.size == 0:
        return y[0:0]
    return y[loud[0] * hop:min(y.shape[-1], (loud[-1] + 1) * hop)]


def _next_fast_len(n: int) -> int:
    """The smallest ``2**a * 3**b * 5**c >= n``: a length pocketfft transforms fast."""
    best = 1 << max(n - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            length = power35
            while length < n:
                length *= 2
            best = min(best, length)
            power35 *= 3
        power5 *= 5
    return best


def _parabolic_shifts(d: np.ndarray) -> np.ndarray:
    """Offset of the parabola's optimum through each point and its neighbours along axis 0;
    0 at the edges and where it falls outside ``[-1, 1]`` (librosa's stencil)."""
    shifts = np.zeros_like(d)
    a = d[2:] + d[:-2] - 2 * d[1:-1]
    b = (d[2:] - d[:-2]) / 2
    inside = np.abs(b) < np.abs(a)
    np.divide(-b, a, out=shifts[1:-1], where=inside)
    return shifts


def hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    mels = frequencies / (200.0 / 3)
    log_region = frequencies >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(frequencies, 1e-12) / 1000.0)
                    / (np.log(6.4) / 27.0), mels)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    return np.where(mels >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0)),
                    mels * (200.0 / 3))


@lru_cache(maxsize=32)
def _mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float,
                 fmax: float | None) -> np.ndarray:
    """``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)``:
    triangles on the Slaney mel scale, area-normalised."""
    fmax = sr / 2 if fmax is None else fmax
    freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, freqs)
    lower = -ramps[:n_mels] / fdiff[:n_mels, None]
    upper = ramps[2:n_mels + 2] / fdiff[1:n_mels + 1, None]
    weights = np.maximum(0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None].astype(np.float32)
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=32)
def _chroma_filters(sr: int, n_fft: int, n_chroma: int, tuning: float) -> np.ndarray:
    """``librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=n_chroma, tuning=tuning)``:
    Gaussian bumps per pitch class, weighted around octave 5, starting at C."""
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    frqbins = n_chroma * np.log2(frequencies / (a440 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    D = np.remainder(D + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    norms = np.sqrt(np.sum(wts ** 2, axis=0, keepdims=True))
    wts = wts / np.where(norms < np.finfo(wts.dtype).tiny, 1.0, norms)
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2.0) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    bank = np.ascontiguousarray(wts[:, :int(1 + n_fft / 2)], dtype=np.float32)
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
