"""Data augmentation of training utterances: the seed's noise, time stretch, shift and pitch shift.

Only training utterances are ever augmented; :func:`sera.splits.rows_to_augment` hands them
out, and the feature store calls :meth:`Augmenter.augment` once per training row and kind.

Each copy is deterministic in ``(seed, key, kind)``: the random draws come from a generator
seeded by a BLAKE2b hash of the three (never Python's ``hash()``, which changes between
processes), so a copy is the same in every run, worker and process. audiomentations draws from
the global ``random``/``numpy.random`` state, which would make that impossible without reseeding
global state per call, so the transforms use librosa and numpy directly.
"""

from __future__ import annotations

import hashlib

import librosa
import numpy as np

#: The seed's four augmentations, in its order.
KINDS: tuple[str, ...] = ("noise", "stretch", "shift", "pitch")


class Augmenter:
    """Seeded augmentation of a waveform, one kind at a time.

    Parameters
    ----------
    kinds : tuple of str
        The augmentations to make, a subset of :data:`KINDS`.
    seed : int
        Seeds every random draw, together with the key and the kind.
    noise_amplitude : float
        Gaussian noise of standard deviation ``noise_amplitude * u * max|y|``, ``u`` uniform in
        [0, 1) (the seed: 0.035).
    stretch_rate : float
        Time-stretch rate; below 1 slows the speech down and lengthens the signal (the seed: 0.8).
    shift_seconds : float
        Circular shift by a uniform amount in ``[-shift_seconds, shift_seconds]`` (the seed:
        ±5,000 samples at 22,050 Hz, about 0.227 s).
    pitch_semitones : float
        Pitch shift in semitones, duration kept (the seed: 0.7).
    """

    def __init__(self, kinds: tuple[str, ...] = KINDS, seed: int = 0, *,
                 noise_amplitude: float = 0.035, stretch_rate: float = 0.8,
                 shift_seconds: float = 5000 / 22050, pitch_semitones: float = 0.7):
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {', '.join(unknown)}; "
                             f"choose from {', '.join(KINDS)}")
        if stretch_rate <= 0:
            raise ValueError(f"stretch_rate must be positive, got {stretch_rate}")
        self.kinds = tuple(kinds)
        self.seed = seed
        self.noise_amplitude = noise_amplitude
        self.stretch_rate = stretch_rate
        self.shift_seconds = shift_seconds
        self.pitch_semitones = pitch_semitones

    @property
    def params(self) -> dict:
        """The configuration, JSON-serialisable (for feature-store and bundle metadata)."""
        return {"kinds": list(self.kinds), "seed": self.seed,
                "noise_amplitude": self.noise_amplitude, "stretch_rate": self.stretch_rate,
                "shift_seconds": self.shift_seconds, "pitch_semitones": self.pitch_semitones}

    def augment(self, y: np.ndarray, sr: int, kind: str, key: str | int) -> np.ndarray:
        """One augmented copy of a waveform.

        Parameters
        ----------
        y : np.ndarray
            Mono float waveform.
        sr : int
            Its sample rate.
        kind : str
            One of :attr:`kinds`.
        key : str or int
            What identifies the utterance, usually its path.

        Returns
        -------
        np.ndarray
            float32; the same length as ``y`` except for ``stretch`` (``len(y) / stretch_rate``).
        """
        if kind not in self.kinds:
            raise ValueError(f"augmentation {kind!r} is not one of {', '.join(self.kinds)}")
        y = np.asarray(y, dtype=np.float32)
        rng = _rng(self.seed, key, kind)
        if kind == "noise":
            amplitude = self.noise_amplitude * rng.uniform() * float(np.abs(y).max())
            out = y + amplitude * rng.standard_normal(y.shape[0])
        elif kind == "stretch":
            out = librosa.effects.time_stretch(y, rate=self.stretch_rate)
        elif kind == "shift":
            out = np.roll(y, int(round(rng.uniform(-1.0, 1.0) * self.shift_seconds * sr)))
        else:
            out = librosa.effects.pitch_shift(y, sr=sr, n_steps=self.pitch_semitones)
        return np.ascontiguousarray(out, dtype=np.float32)


def _rng(seed: int, key: str | int, kind: str) -> np.random.Generator:
    """A generator seeded by a stable hash of ``(seed, key, kind)``."""
    digest = hashlib.blake2b(f"{seed}\0{key}\0{kind}".encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))
