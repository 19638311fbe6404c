"""Frames in, fixed-size arrays out: the array helpers of the feature sets.

Functionals of frame tracks (the ``stats`` set's columns), a frame axis centre-fitted to a
length, silent edges trimmed, a clip peak-normalised. Pure functions over arrays.
"""

from __future__ import annotations

import numpy as np

from sera.features import descriptors as fd

#: Which frames the ``stats`` set summarises: every frame, or those above the noise floor.
STATS_FRAMES: tuple[str, ...] = ("all", "speech")

#: A frame is speech when it stands this far (dB) above the clip's noise floor.
SPEECH_MARGIN_DB = 6.0

#: The share of a clip's quietest frames whose level estimates its noise floor.
FLOOR_QUANTILE = 0.1

#: Functionals of each track in the ``stats`` set, in column order.
STATS_FUNCTIONALS: tuple[str, ...] = ("mean", "std", "p10", "p50", "p90", "iqr", "slope",
                                      "delta")


def functionals(tracks: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The :data:`STATS_FUNCTIONALS` of each row of ``tracks``.

    Parameters
    ----------
    tracks : np.ndarray
        ``(n_tracks, n_frames)``, ``n_frames >= 1``.
    times : np.ndarray
        Time (s) of each frame, for the slope.

    Returns
    -------
    np.ndarray
        ``(n_tracks, 8)``: mean, std, p10, p50, p90, interquartile range, slope (per second),
        mean absolute delta.
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    centred_t = times - times.mean()
    spread = np.sum(centred_t**2)
    # einsum, not BLAS: the same sums whatever BLAS's thread count (see features.descriptors).
    slope = (np.einsum("ij,j->i", tracks, centred_t) / spread if spread > 0
             else np.zeros(tracks.shape[0]))
    delta = (np.abs(np.diff(tracks, axis=1)).mean(axis=1) if tracks.shape[1] > 1
             else np.zeros(tracks.shape[0]))
    p10, p25, p50, p75, p90 = np.percentile(tracks, [10, 25, 50, 75, 90], axis=1)
    return np.column_stack([tracks.mean(axis=1), tracks.std(axis=1), p10, p50, p90, p75 - p25,
                            slope, delta])


def fit_frames(x: np.ndarray, frames: int, fill: float) -> np.ndarray:
    """Centre-crop or centre-pad (with ``fill``) the last axis of ``x`` to ``frames``."""
    excess = x.shape[-1] - frames
    if excess >= 0:
        return x[..., excess // 2:excess // 2 + frames]
    before = -excess // 2
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(before, -excess - before)],
                  constant_values=fill)


def trim_silence(y: np.ndarray, trim_db: float, frame_length: int, hop: int) -> np.ndarray:
    """Drop leading and trailing audio whose frames are ``trim_db`` below the loudest frame."""
    return fd.trim(y, trim_db, frame_length, hop)


def peak_normalize(y: np.ndarray) -> np.ndarray:
    """``y`` scaled to a peak magnitude of exactly 1 (openSMILE's 16-bit conversion clips,
    so a peak of +1.0 does not wrap; see :mod:`sera.features.smile`)."""
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.abs(y).max(initial=0.0))
    return y / peak if peak > 0 else y


def speech_frames(level_db: np.ndarray, range_db: float, margin_db: float = SPEECH_MARGIN_DB,
                  quantile: float = FLOOR_QUANTILE) -> np.ndarray:
    """Which frames carry speech, by their level against the clip's own noise floor.

    The floor is the level of the clip's quietest frames (their ``quantile``); a frame is
    speech when it stands ``margin_db`` above it and within ``range_db`` of the loudest frame.
    Digital silence and a noise floor alike fall below: the same frames of a clip are kept
    whether it was recorded in a studio or over a hiss.

    Parameters
    ----------
    level_db : np.ndarray
        Each frame's level in dB relative to the loudest frame (``<= 0``).
    range_db : float
        The most a speech frame may lie below the loudest one.
    margin_db, quantile : float
        How far above the floor, and which quantile of the levels estimates it.

    Returns
    -------
    np.ndarray
        Boolean mask over the frames; every frame when fewer than two would be kept.

    >>> speech_frames(np.array([-60.0, -58, -5, 0, -8, -59, -61, -2]), 40.0).astype(int)
    array([0, 0, 1, 1, 1, 0, 0, 1])
    """
    level_db = np.asarray(level_db, dtype=np.float64)
    floor = np.quantile(level_db, quantile)
    kept = (level_db > floor + margin_db) & (level_db > -range_db)
    return kept if kept.sum() >= 2 else np.ones(level_db.shape, dtype=bool)
