"""Named feature sets: what a model sees of an utterance.

A :class:`FeatureSet` knows how to read a file (``load``: the set's own sample rate, window
and silence trimming) and how to turn a waveform into a fixed-shape float32 array
(``transform``: a pure function of the waveform). Its configuration (``to_config``) is plain
JSON, so it travels into feature stores and model bundles and rebuilds the identical set with
:func:`get_feature_set`.

Sets:

``seed``
    The seed project's 2,376-value vector: 2.5 s from 0.6 s at 22,050 Hz, frames of 2048
    with hop 512 (108 frames); zero-crossing rate (108), RMS (108), 20 MFCCs per frame (2,160,
    frame by frame). Numerically librosa's ``zero_crossing_rate``, ``rms`` and ``mfcc``.
``stats``
    Functionals of every frame descriptor over the silence-trimmed clip at 16 kHz (497 values).
``egemaps``
    The 88 eGeMAPSv02 functionals computed by openSMILE.
``logmel``
    A fixed-size log-mel patch ``(64, 300)`` for CNNs: 3 s at 16 kHz, 25 ms / 10 ms frames.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import numpy as np

from sera import audio
from sera.errors import FeatureError, check_choice, check_positive, check_range
from sera.features import descriptors as fd
from sera.features import smile
from sera.features.frames import (
    STATS_FRAMES,
    STATS_FUNCTIONALS,
    fit_frames,
    functionals,
    peak_normalize,
    speech_frames,
    trim_silence,
)


class FeatureSet:
    """Base class of the named feature sets.

    Parameters
    ----------
    **params
        Overrides of the set's :attr:`defaults`; each is converted to its default's type so
        equal settings always give the same configuration (and the same feature-store key).

    Raises
    ------
    FeatureError
        An unknown parameter, or one of the wrong type or out of range (:meth:`check`), before
        any work.

    Attributes
    ----------
    name : str
        The registry name.
    version : int
        Bumped whenever the computation changes, so stale stores and bundles are detected.
    params : dict
        The complete parameters, JSON-serialisable.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    defaults: ClassVar[dict[str, Any]]

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise FeatureError(f"feature set '{self.name}' has no parameter "
                                  f"{', '.join(map(repr, unknown))} "
                                  f"(it takes {', '.join(self.defaults)})")
        self.params = {key: _parameter(self.name, key, params.get(key, default), default)
                       for key, default in self.defaults.items()}
        self.check()

    def check(self) -> None:
        """Raise :class:`~sera.errors.FeatureError` for a parameter out of range; each set
        checks its own besides the sample rate."""
        check_range(f"{self.name} sample_rate", self.params["sample_rate"], 1,
                    audio.MAX_SAMPLE_RATE, error=FeatureError)

    def _check_positive(self, *keys: str) -> None:
        for key in keys:
            check_positive(f"{self.name} {key}", self.params[key], error=FeatureError)

    def _check_below(self, low: str, high: str) -> None:
        if not self.params[low] < self.params[high]:
            raise FeatureError(f"{self.name} {low} ({self.params[low]}) must be below {high} "
                               f"({self.params[high]})")

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) that :meth:`load` reads at and :meth:`transform` expects."""
        return self.params["sample_rate"]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one utterance's output of :meth:`transform`."""
        raise NotImplementedError

    @property
    def names(self) -> list[str]:
        """One column name per value of the flattened output, in order."""
        raise NotImplementedError

    def load(self, path: str | os.PathLike) -> np.ndarray:
        """Read a file at :attr:`sample_rate` with the set's own window or trimming.

        Raises
        ------
        AudioError
            For anything that is not usable audio.
        """
        return self.prepare(audio.load(path, sr=self.sample_rate))

    def prepare(self, y: np.ndarray) -> np.ndarray:
        """Apply the set's own window or trimming to a waveform at :attr:`sample_rate`.

        ``load(path)`` is ``prepare`` of the decoded file, so a waveform given as an array
        (a clip from memory, an utterance found in a recording) is treated like a file.
        """
        return y

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Features of a mono waveform at :attr:`sample_rate`: float32, :attr:`shape`, finite."""
        raise NotImplementedError

    def extract(self, path: str | os.PathLike) -> np.ndarray:
        """``transform(load(path))``."""
        return self.transform(self.load(path))

    def to_config(self) -> dict[str, Any]:
        """``{"name", "version", "params"}``: plain JSON that rebuilds this set."""
        return {"name": self.name, "version": self.version, "params": dict(self.params)}

    @staticmethod
    def from_config(config: dict[str, Any]) -> FeatureSet:
        """Rebuild a set from :meth:`to_config` output.

        Raises
        ------
        FeatureError
            Unknown name or parameter, or a version this sera does not compute.
        """
        name = config.get("name")
        from sera.features.registry import set_class

        cls = set_class(name)
        if config.get("version", cls.version) != cls.version:
            raise FeatureError(f"feature set '{name}' version {config['version']} was "
                                  f"computed by another sera; this one computes version "
                                  f"{cls.version}")
        return cls(**config.get("params", {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureSet) and self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_config(), sort_keys=True))

    def __repr__(self) -> str:
        return f"get_feature_set({self.name!r}, **{self.params!r})"


class SeedFeatures(FeatureSet):
    """The seed's exact vector: ``[zcr (108), rms (108), mfcc (108 frames x 20)]``.

    ``load`` reads ``duration`` seconds from ``offset`` at 22,050 Hz (soxr HQ, as
    ``librosa.load``), zero-padding short clips; ``transform`` pads or cuts any waveform to
    ``duration`` first. The MFCCs are laid out frame by frame (``mfcc.T.ravel()``), as the seed
    did. Not level-invariant: the seed was not.
    """

    name = "seed"
    defaults = {"sample_rate": 22050, "offset": 0.6, "duration": 2.5, "n_fft": 2048,
                "hop": 512, "n_mfcc": 20}

    def check(self) -> None:
        super().check()
        check_range(f"{self.name} offset", self.params["offset"], 0, error=FeatureError)
        self._check_positive("duration", "n_fft", "hop", "n_mfcc")

    @property
    def n_frames(self) -> int:
        """Frames per clip: 108 with the seed's settings."""
        return 1 + int(round(self.params["duration"] * self.sample_rate)) // self.params["hop"]

    @property
    def shape(self) -> tuple[int, ...]:
        return ((2 + self.params["n_mfcc"]) * self.n_frames,)

    @property
    def names(self) -> list[str]:
        frames = range(self.n_frames)
        return ([f"zcr_t{t:03d}" for t in frames] + [f"rms_t{t:03d}" for t in frames]
                + [f"mfcc_t{t:03d}_c{c:02d}" for t in frames
                   for c in range(self.params["n_mfcc"])])

    def load(self, path: str | os.PathLike) -> np.ndarray:
        p = self.params
        return audio.load(path, sr=self.sample_rate, offset=p["offset"], duration=p["duration"],
                          pad=True)

    def prepare(self, y: np.ndarray) -> np.ndarray:
        p = self.params
        return audio.window(y, self.sample_rate, p["offset"], p["duration"], pad=True)

    def transform(self, y: np.ndarray) -> np.ndarray:
        p, sr = self.params, self.sample_rate
        y = audio.window(np.asarray(y, dtype=np.float32), sr, 0.0, p["duration"], pad=True)
        power = fd.stft_power(y, p["n_fft"], p["hop"])
        mfcc = fd.mfcc(fd.mel_spectrogram(power, sr), p["n_mfcc"])
        return np.concatenate([fd.zero_crossing_rate(y, p["n_fft"], p["hop"]),
                               fd.rms(y, p["n_fft"], p["hop"]),
                               mfcc.T.ravel()]).astype(np.float32)


#: Frame-descriptor tracks of the ``stats`` set that share the STFT's frames, in column order.
STATS_TRACKS: tuple[str, ...] = (
    "zcr", "energy", "energy_entropy", "rms_db", "spectral_centroid", "spectral_spread",
    "spectral_entropy", "spectral_flux", "spectral_rolloff",
)

#: Pitch classes of the chroma rows.
PITCH_CLASSES: tuple[str, ...] = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As",
                                  "B")


class StatsFeatures(FeatureSet):
    """Functionals of every frame descriptor, from one STFT of the silence-trimmed clip.

    ``load`` reads the whole file at 16 kHz and trims leading and trailing audio more than
    ``trim_db`` below the loudest frame. ``transform`` scales the waveform to a peak of 1, so
    every value is invariant to gain; frames are ``n_fft`` (32 ms) long with hop ``hop``
    (10 ms).

    Tracks (one value per frame):

    - ``zcr``: zero-crossing rate; ``energy``: mean square of the peak-normalised frame;
      ``energy_entropy``: entropy (bits) of 10 sub-frame energies; ``rms_db``: frame RMS in dB
      relative to the loudest frame (floored at -80).
    - ``spectral_centroid``, ``spectral_spread``, ``spectral_rolloff`` (85 %): Hz, from the
      magnitude spectrum; ``spectral_entropy``: entropy (bits) of the power in 10 equal bands;
      ``spectral_flux``: change of the sum-normalised magnitude spectrum from the previous frame.
    - ``chroma_C`` ... ``chroma_B``: chromagram (A440 tuning), each frame scaled to a maximum of 1.
    - ``mfcc00`` ... ``mfcc19``: MFCCs over ``n_mels`` bands; ``dmfcc00`` ...: their deltas
      (9-frame Savitzky-Golay, ``librosa.feature.delta``).
    - ``f0``: YIN pitch in semitones above 27.5 Hz, over *voiced* frames only: frames whose
      normalised autocorrelation at the YIN period reaches ``voicing_threshold`` and whose
      level is within ``trim_db`` of the loudest frame.

    Functionals of each track, columns ``<track>_<functional>``: ``mean``, ``std``, ``p10``,
    ``p50``, ``p90`` (percentiles), ``iqr`` (75th minus 25th percentile), ``slope``
    (least-squares trend per second) and ``delta`` (mean absolute change between consecutive
    frames). With fewer than two voiced frames every ``f0_*`` is 0. A last column,
    ``voiced_fraction``, is the share of voiced frames.

    ``frames="speech"`` takes the functionals of every track but ``f0`` (already voiced frames
    only) over the frames that stand above the clip's own noise floor
    (:func:`sera.features.frames.speech_frames`), so the pauses of a clip, digital silence in a
    studio and a noise floor on a real microphone, weigh nothing; ``"all"`` (default, the
    shipped model's) over every frame of the trimmed clip.
    """

    name = "stats"
    defaults = {"sample_rate": 16000, "n_fft": 512, "hop": 160, "n_mels": 40, "n_mfcc": 20,
                "trim_db": 40.0, "f0_min": 60.0, "f0_max": 600.0, "pitch_frame": 1024,
                "voicing_threshold": 0.5, "frames": "all"}

    def check(self) -> None:
        super().check()
        self._check_positive("n_fft", "hop", "n_mels", "n_mfcc", "trim_db", "f0_min",
                             "pitch_frame")
        self._check_below("f0_min", "f0_max")
        check_range(f"{self.name} f0_max", self.params["f0_max"], 0, self.sample_rate / 2,
                    error=FeatureError)
        check_range(f"{self.name} voicing_threshold", self.params["voicing_threshold"], 0, 1,
                    error=FeatureError)
        check_choice(f"{self.name} frames", self.params["frames"], STATS_FRAMES,
                     error=FeatureError)

    @property
    def tracks(self) -> list[str]:
        """Track names in column order."""
        n = self.params["n_mfcc"]
        return (list(STATS_TRACKS) + [f"chroma_{pc}" for pc in PITCH_CLASSES]
                + [f"mfcc{c:02d}" for c in range(n)] + [f"dmfcc{c:02d}" for c in range(n)]
                + ["f0"])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.tracks) * len(STATS_FUNCTIONALS) + 1,)

    @property
    def names(self) -> list[str]:
        return [f"{track}_{fn}" for track in self.tracks for fn in STATS_FUNCTIONALS] + [
            "voiced_fraction"]

    def prepare(self, y: np.ndarray) -> np.ndarray:
        return trim_silence(y, self.params["trim_db"], self.params["n_fft"], self.params["hop"])

    def transform(self, y: np.ndarray) -> np.ndarray:
        p, sr = self.params, self.sample_rate
        n_fft, hop = p["n_fft"], p["hop"]
        y = peak_normalize(y)
        power = fd.stft_power(y, n_fft, hop)
        magnitude = np.sqrt(power)
        frame_energy = fd.energy(y, n_fft, hop)
        rms_db = fd.power_to_db(frame_energy, ref=frame_energy.max())
        centroid = fd.spectral_centroid(magnitude, sr)
        mfcc = fd.mfcc(fd.mel_spectrogram(power, sr, p["n_mels"]), p["n_mfcc"])
        tracks = np.vstack([
            fd.zero_crossing_rate(y, n_fft, hop), frame_energy, fd.energy_entropy(y, n_fft, hop),
            rms_db, centroid, fd.spectral_spread(magnitude, sr, centroid),
            fd.spectral_entropy(power), fd.spectral_flux(magnitude),
            fd.spectral_rolloff(magnitude, sr), fd.chroma(power, sr), mfcc,
            fd.delta(mfcc, width=9),
        ])
        times = np.arange(tracks.shape[1]) * hop / sr
        kept = (speech_frames(rms_db, p["trim_db"]) if p["frames"] == "speech"
                else slice(None))

        f0 = fd.yin(y, fmin=p["f0_min"], fmax=p["f0_max"], sr=sr, frame_length=p["pitch_frame"],
                    hop=hop)
        periodic = fd.periodicity(y, sr / f0, p["pitch_frame"], hop) >= p["voicing_threshold"]
        voiced = periodic & (rms_db > -p["trim_db"])
        semitones = 12 * np.log2(f0[voiced] / 27.5)
        f0_stats = (functionals(semitones[None, :], times[voiced])[0] if voiced.sum() > 1
                    else np.zeros(len(STATS_FUNCTIONALS)))
        return np.concatenate([functionals(tracks[:, kept], times[kept]).ravel(), f0_stats,
                               [voiced.mean()]]).astype(np.float32)


class EgemapsFeatures(FeatureSet):
    """The 88 eGeMAPSv02 functionals of the whole clip, by openSMILE.

    ``load`` reads the whole file at 16 kHz without trimming (eGeMAPS finds voiced and
    unvoiced regions itself). Column names are openSMILE's.
    """

    name = "egemaps"
    defaults = {"sample_rate": 16000}

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.names),)

    @property
    def names(self) -> list[str]:
        return smile.feature_names("eGeMAPSv02", self.sample_rate)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return smile.functionals(y, "eGeMAPSv02", self.sample_rate)


class CompareFeatures(FeatureSet):
    """The 6,373 ComParE 2016 functionals of the silence-trimmed clip, by openSMILE.

    The large brute-force set of the Interspeech computational paralinguistics challenges:
    functionals of energy, spectral, cepstral (MFCC, RASTA auditory bands) and voicing
    descriptors and their deltas. ``load`` trims leading and trailing audio more than
    ``trim_db`` below the loudest frame, as for ``stats``, so corpora with long or short
    pauses around the speech give comparable values; ``transform`` scales the waveform to a
    peak of 1 so that the recording level does not enter the features. Column names are
    openSMILE's.
    """

    name = "compare"
    defaults = {"sample_rate": 16000, "trim_db": 40.0}

    def check(self) -> None:
        super().check()
        self._check_positive("trim_db")

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.names),)

    @property
    def names(self) -> list[str]:
        return smile.feature_names("ComParE_2016", self.sample_rate)

    def prepare(self, y: np.ndarray) -> np.ndarray:
        return trim_silence(y, self.params["trim_db"], 512, 160)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return smile.functionals(peak_normalize(y), "ComParE_2016", self.sample_rate)


class LogmelFeatures(FeatureSet):
    """A fixed-size log-mel patch ``(n_mels, frames)`` for CNNs.

    ``load`` reads the whole file at 16 kHz and trims leading and trailing audio more than
    ``trim_db`` below the loudest frame. ``transform`` computes ``n_mels`` mel bands over
    ``win_length`` (25 ms) Hann windows every ``hop`` (10 ms), in dB relative to the patch's
    loudest cell and floored ``floor_db`` below it (so gain does not change it), then fits
    the time axis to ``frames = duration * sample_rate / hop`` (300 for 3 s): longer clips
    keep their centre, shorter ones are centred and padded on both sides with the floor.
    """

    name = "logmel"
    defaults = {"sample_rate": 16000, "n_mels": 64, "n_fft": 512, "win_length": 400,
                "hop": 160, "fmin": 0.0, "fmax": 8000.0, "duration": 3.0, "trim_db": 40.0,
                "floor_db": 80.0}

    def check(self) -> None:
        super().check()
        self._check_positive("n_mels", "n_fft", "win_length", "hop", "duration", "trim_db",
                             "floor_db")
        if self.params["win_length"] > self.params["n_fft"]:
            raise FeatureError(f"{self.name} win_length ({self.params['win_length']}) must not "
                               f"exceed n_fft ({self.params['n_fft']})")
        check_range(f"{self.name} fmin", self.params["fmin"], 0, error=FeatureError)
        self._check_below("fmin", "fmax")
        check_range(f"{self.name} fmax", self.params["fmax"], 0, self.sample_rate / 2,
                    error=FeatureError)

    @property
    def n_frames(self) -> int:
        """Frames per patch."""
        return int(round(self.params["duration"] * self.sample_rate / self.params["hop"]))

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.params["n_mels"], self.n_frames)

    @property
    def names(self) -> list[str]:
        return [f"logmel_m{m:02d}_t{t:03d}" for m in range(self.params["n_mels"])
                for t in range(self.n_frames)]

    def prepare(self, y: np.ndarray) -> np.ndarray:
        return trim_silence(y, self.params["trim_db"], self.params["win_length"],
                            self.params["hop"])

    def transform(self, y: np.ndarray) -> np.ndarray:
        p = self.params
        power = fd.stft_power(np.asarray(y, dtype=np.float32), p["n_fft"], p["hop"],
                              win_length=p["win_length"])
        mel = fd.mel_spectrogram(power, self.sample_rate, p["n_mels"], p["fmin"], p["fmax"])
        db = fd.power_to_db(mel, ref=float(mel.max()), top_db=p["floor_db"])
        return fit_frames(db, self.n_frames, fill=float(db.min())).astype(np.float32)


def _parameter(set_name: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as its default's type: a whole number for an ``int`` (``512.0`` is ``512``,
    ``512.5`` an error), never a ``bool`` for a number."""
    kind = type(default)
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        converted = None
    fractional = kind is int and isinstance(value, float) and not value.is_integer()
    if converted is None or fractional or (kind is not str and isinstance(value, bool)):
        raise FeatureError(f"{set_name} {key} must be {kind.__name__}, not {value!r}")
    return converted


class CombinedFeatures(FeatureSet):
    """Several vector sets side by side, named ``"compare+stats"``.

    Each part reads the same decoded waveform and applies its own :meth:`prepare` (window or
    trimming) inside :meth:`transform`, so the combination treats files and arrays alike.
    Column names are prefixed with the part's name (``stats:f0_mean``).

    Parameters
    ----------
    sets : list of str, dict or FeatureSet
        Two or more vector sets with the same sample rate.
    """

    name = "combined"
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, sets: list):
        from sera.features.registry import get_feature_set

        self.parts = [get_feature_set(part) for part in sets]
        if len(self.parts) < 2:
            raise FeatureError("a combined feature set needs two sets or more")
        if any(len(part.shape) != 1 for part in self.parts):
            raise FeatureError("only vector feature sets can be combined, not "
                               + ", ".join(p.name for p in self.parts if len(p.shape) != 1))
        rates = {part.sample_rate for part in self.parts}
        if len(rates) > 1:
            raise FeatureError(f"combined feature sets must share a sample rate, got {rates}")
        self.params = {"sets": [part.to_config() for part in self.parts]}
        self.name = "+".join(part.name for part in self.parts)

    @property
    def sample_rate(self) -> int:
        return self.parts[0].sample_rate

    @property
    def shape(self) -> tuple[int, ...]:
        return (sum(part.shape[0] for part in self.parts),)

    @property
    def names(self) -> list[str]:
        return [f"{part.name}:{name}" for part in self.parts for name in part.names]

    def transform(self, y: np.ndarray) -> np.ndarray:
        return np.concatenate([part.transform(part.prepare(y)) for part in self.parts])

    def to_config(self) -> dict[str, Any]:
        return {"name": CombinedFeatures.name, "version": self.version,
                "params": {"sets": [part.to_config() for part in self.parts]}}
