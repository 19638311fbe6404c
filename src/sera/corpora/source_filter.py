"""The signal processing of the synthetic voices: a glottal source, formant and tilt
responses, and frame-wise time-varying filtering.

Pure numpy/scipy functions of arrays; :func:`sera.corpora.voice.render` puts them together
into an utterance (its module docstring describes the source-filter model).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: Frames per window of :func:`frame_filter`: a Hann window of ``HOP_FRACTION * hop`` samples
#: (75 % overlap, at which periodic Hann windows sum to a constant).
HOP_FRACTION = 4


def glottal_source(f0: np.ndarray, sample_rate: int, open_quotient: float, jitter: float,
                   shimmer: float, creak: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg glottal flow and its derivative for a per-sample F0 track.

    Parameters
    ----------
    f0 : np.ndarray
        Fundamental frequency at every sample, Hz.
    sample_rate : int
        Rate, Hz.
    open_quotient : float
        Fraction of each period the glottis is open (two thirds opening, one third closing).
    jitter, shimmer : float
        Relative standard deviations of each cycle's period and amplitude.
    creak : float
        Share of long (1.5-2.5 periods), weak cycles, growing towards the end.
    rng : numpy.random.Generator
        Source of the perturbations.

    Returns
    -------
    flow : np.ndarray
        Glottal flow in [0, ~1] (used to modulate aspiration noise).
    excitation : np.ndarray
        Its time derivative (the lip-radiated source), unit RMS.
    """
    nominal_cycles = int(np.sum(f0) / sample_rate) + 2
    # Generous: perturbed cycles may outnumber nominal ones.
    count = 2 * nominal_cycles + 8
    period = 1.0 + jitter * rng.standard_normal(count)
    amplitude = 1.0 + shimmer * rng.standard_normal(count)
    position = np.arange(count) / nominal_cycles
    creaky = rng.random(count) < creak * (0.4 + 1.2 * np.minimum(position, 1.0))
    period[creaky] *= rng.uniform(1.5, 2.5, creaky.sum())
    amplitude[creaky] *= 0.45
    period = np.clip(period, 0.5, None)
    amplitude = np.clip(amplitude, 0.1, None)

    # Each cycle's period factor applies while the nominal phase is in that cycle.
    nominal = np.floor(np.cumsum(f0) / sample_rate).astype(int)
    phase = np.cumsum(f0 / period[nominal]) / sample_rate
    cycle = np.minimum(phase.astype(int), count - 1)
    within = phase - np.floor(phase)
    opening, closing = open_quotient * 2 / 3, open_quotient / 3
    flow = np.where(
        within < opening,
        0.5 * (1 - np.cos(np.pi * within / opening)),
        np.where(within < opening + closing,
                 np.cos(0.5 * np.pi * (within - opening) / closing), 0.0),
    ) * amplitude[cycle]
    excitation = np.diff(flow, prepend=0.0)
    return flow, excitation / np.sqrt(np.mean(excitation**2))


def formant_response(formants: np.ndarray, bandwidths: np.ndarray, sample_rate: int,
                     n_fft: int) -> np.ndarray:
    """Complex frequency response of a cascade of two-pole resonators, one row per frame.

    Each resonator is Klatt's ``H(z) = (1 - b - c) / (1 - b z^-1 - c z^-2)`` with
    ``b = 2 r cos(2 pi F / fs)``, ``c = -r^2``, ``r = exp(-pi B / fs)``: unit gain at 0 Hz.

    Parameters
    ----------
    formants, bandwidths : np.ndarray
        ``(frames, k)`` centre frequencies and bandwidths, Hz.
    sample_rate : int
        Rate, Hz.
    n_fft : int
        FFT length; the response is evaluated on its ``n_fft // 2 + 1`` bins.

    Returns
    -------
    np.ndarray
        ``(frames, n_fft // 2 + 1)`` complex response.
    """
    r = np.exp(-np.pi * bandwidths / sample_rate)
    b = 2 * r * np.cos(2 * np.pi * formants / sample_rate)
    c = -(r**2)
    # The cascade's denominator is the product of the resonators' quadratics in z^-1; its
    # response on the FFT grid is the FFT of its coefficients.
    denominator = np.zeros((formants.shape[0], 2 * formants.shape[1] + 1))
    denominator[:, 0] = 1.0
    for k in range(formants.shape[1]):
        shifted1 = np.roll(denominator, 1, axis=1)
        shifted2 = np.roll(denominator, 2, axis=1)
        shifted1[:, 0] = 0.0
        shifted2[:, :2] = 0.0
        denominator = denominator - b[:, k:k + 1] * shifted1 - c[:, k:k + 1] * shifted2
    gain = np.prod(1 - b - c, axis=1)
    return gain[:, None] / np.fft.rfft(denominator, n=n_fft)


def tilt_response(freqs: np.ndarray, tilt_db: float, corner_hz: float = 500.0) -> np.ndarray:
    """Gain that falls ``tilt_db`` per octave above ``corner_hz`` (rises if negative)."""
    octaves = np.log2(np.maximum(freqs, corner_hz) / corner_hz)
    return 10 ** (-tilt_db * octaves / 20)


def frame_filter(sources: np.ndarray, responses: np.ndarray, hop: int) -> np.ndarray:
    """Filter each source with a response that changes every ``hop`` samples, and mix them.

    Frame ``m`` is the Hann-windowed stretch centred on sample ``m * hop - window / 2``,
    with ``window = 4 * hop``; it is zero-padded to the FFT length ``2 * (n_bins - 1)``,
    multiplied by its response and overlap-added. With a constant response this is exact
    linear filtering as long as the impulse response is shorter than the padding.

    Parameters
    ----------
    sources : np.ndarray
        ``(k, n)`` signals (or one ``(n,)`` signal).
    responses : np.ndarray
        ``(k, frames, n_bins)`` frequency responses per source and frame (or one
        ``(frames, n_bins)``); ``frames`` must be ``frame_count(n, 4 * hop, hop)``.
    hop : int
        Frame hop, samples.

    Returns
    -------
    np.ndarray
        ``(n,)``: the sum of the filtered sources.
    """
    sources = np.atleast_2d(sources)
    responses = responses.reshape((-1, *responses.shape[-2:]))
    n = sources.shape[1]
    win = hop * HOP_FRACTION
    n_frames, n_bins = responses.shape[1:]
    n_fft = 2 * (n_bins - 1)
    padded = np.pad(sources, ((0, 0), (win, n_frames * hop - n)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win, axis=1)[:, ::hop][:, :n_frames]
    # A periodic Hann window at 75 % overlap sums to exactly 2.
    spectra = np.fft.rfft(frames * signal.get_window("hann", win), n=n_fft) * responses
    blocks = np.fft.irfft(spectra.sum(axis=0), n=n_fft).reshape(n_frames, n_fft // hop, hop)
    out = np.zeros((n_frames + n_fft // hop) * hop)
    for k in range(n_fft // hop):
        out[k * hop:(k + n_frames) * hop] += blocks[:, k, :].reshape(-1)
    return out[win:win + n] / 2


def frame_count(n: int, win: int, hop: int) -> int:
    """Frames :func:`frame_filter` needs so that every sample of an ``n``-sample signal is
    covered four times."""
    return (n + win) // hop + 1
