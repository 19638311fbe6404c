"""Data augmentation of training utterances: the seed's four kinds and channel/codec kinds.

The seed's kinds are noise, time stretch, shift and pitch shift. The channel kinds
(:data:`sera.options.CHANNEL_AUGMENTS`) imitate recording conditions a model meets outside its
corpus: a telephone band (``bandlimit``), a lossy MP3 or Ogg Vorbis round trip (``codec``), a gain
of up to ±20 dB (``gain``), white or babble noise at 5-20 dB SNR (``snr``), a synthetic room
(``room``: reverberation, RT60 0.2-0.6 s), a noise floor of white, pink or brown noise at an
absolute level (``floor``: -70 to -35 dBFS, the hiss of a real microphone and room under speech that
studio corpora record over digital silence), and one real channel drawn at random (``channel``:
babble, a room or a phone line with its codec, over a faint floor half of the time). Their signal
functions (:func:`telephone_band`, :func:`lossy_round_trip`, :func:`apply_gain`, :func:`add_noise`,
:func:`reverberate`, :func:`add_floor`, :func:`phone_line`) are pure and shared with
:mod:`sera.robustness`, which applies them at fixed strengths.

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
import io
from collections.abc import Mapping, Sequence

import librosa
import numpy as np
import soundfile as sf
from scipy import signal

from sera.audio import resample
from sera.errors import InputError, check_choice, check_positive
from sera.options import (
    AUGMENTS,
    CHANNEL_AUGMENTS,
    CODECS,
    NOISE_COLOURS,
    NOISES,
    SEED_AUGMENTS,
    Augment,
    Codec,
    Noise,
    NoiseColour,
)

#: The telephone pass band in Hz (ITU-T G.712) and its sample rate.
TELEPHONE_BAND = (300.0, 3400.0)
TELEPHONE_RATE = 8000

#: Lossy formats: soundfile ``(format, subtype)``; libsndfile 1.2 writes every one. ``ulaw`` is
#: G.711's 8-bit companding (the landline codec), ``opus`` the codec of VoIP and WebRTC.
CODEC_FORMATS: dict[Codec, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS"),
    "ulaw": ("WAV", "ULAW")}

#: Colours of noise floors: the exponent of the power spectrum's fall with frequency
#: (power ~ 1 / f**a: white 0, pink 1, brown 2).
COLOUR_EXPONENTS: dict[NoiseColour, float] = {"white": 0.0, "pink": 1.0, "brown": 2.0}

#: The real channels ``channel`` draws from, with even odds.
CHANNELS = ("babble", "room", "phone")

#: Codecs of a phone line (``channel`` and :func:`phone_line`).
PHONE_CODECS: tuple[Codec, ...] = ("ulaw", "mp3", "opus")

#: Time-shifted copies summed into babble noise: enough that no one voice stands out.
BABBLE_TALKERS = 6

#: Voices in a babble crowd made of other speakers (:func:`crowd_of`).
CROWD_SIZE = 5


class Augmenter:
    """Seeded augmentation of a waveform, one kind at a time.

    Parameters
    ----------
    kinds : tuple of str
        The augmentations to make, a subset of :data:`sera.options.AUGMENTS` (default: the seed's
        four).
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
    gain_db : float
        ``gain``: a gain uniform in ``[-gain_db, gain_db]`` dB, clipped to [-1, 1].
    snr_db : tuple of float
        ``snr``: white or babble noise (even odds) at an SNR uniform in this range, in dB.
    rt60 : tuple of float
        ``room``: reverberation time uniform in this range, in seconds.
    codec_quality : tuple of float
        ``codec``: MP3 or Ogg Vorbis (even odds) at a libsndfile ``compression_level`` uniform
        in this range (1 is the lowest bitrate).
    floor_dbfs : tuple of float
        ``floor``: the noise floor's RMS level uniform in this range, in dB re full scale
        (``channel`` uses the quieter part of it, up to -45 dBFS).
    crowd : mapping of str to str, optional
        ``{path: speaker}`` of the utterances whose voices ``channel``'s babble may be made of:
        :data:`CROWD_SIZE` of them, drawn (seeded) from speakers other than the one augmented
        (:func:`crowd_of`), like a room of other people. Without it the babble is the clip's
        own voice reversed (:func:`babble`), a pure function of the clip.
    """

    #: Kinds that are recording conditions: the feature store applies them to the decoded file,
    #: before a feature set's trimming or window (:mod:`sera.features.executors`).
    channel_kinds: tuple[str, ...] = CHANNEL_AUGMENTS

    def __init__(self, kinds: tuple[Augment, ...] = SEED_AUGMENTS, seed: int = 0, *,
                 noise_amplitude: float = 0.035, stretch_rate: float = 0.8,
                 shift_seconds: float = 5000 / 22050, pitch_semitones: float = 0.7,
                 gain_db: float = 20.0, snr_db: tuple[float, float] = (5.0, 20.0),
                 rt60: tuple[float, float] = (0.2, 0.6),
                 codec_quality: tuple[float, float] = (0.7, 1.0),
                 floor_dbfs: tuple[float, float] = (-70.0, -35.0),
                 crowd: Mapping[str, str] | None = None):
        if isinstance(kinds, str):
            raise InputError(f"kinds must be a sequence of augmentations, not the string "
                             f"{kinds!r}")
        self.kinds = tuple(check_choice("augmentation", kind, AUGMENTS) for kind in kinds)
        check_positive("stretch_rate", stretch_rate)
        self.seed = seed
        self.noise_amplitude = noise_amplitude
        self.stretch_rate = stretch_rate
        self.shift_seconds = shift_seconds
        self.pitch_semitones = pitch_semitones
        self.gain_db = gain_db
        self.snr_db = tuple(snr_db)
        self.rt60 = tuple(rt60)
        self.codec_quality = tuple(codec_quality)
        self.floor_dbfs = tuple(floor_dbfs)
        self.crowd = dict(crowd) if crowd is not None else None
        # Arrays for the draws: paths in a fixed (sorted) order, so a draw does not depend on
        # the order the mapping came in.
        self._crowd_paths = np.array(sorted(self.crowd or ()), dtype=object)
        self._crowd_speakers = np.array([str(self.crowd[p]) for p in self._crowd_paths],
                                        dtype=object)

    @property
    def params(self) -> dict:
        """The configuration, JSON-serialisable (for feature-store and bundle metadata)."""
        params = {"kinds": list(self.kinds), "seed": self.seed,
                  "noise_amplitude": self.noise_amplitude, "stretch_rate": self.stretch_rate,
                  "shift_seconds": self.shift_seconds, "pitch_semitones": self.pitch_semitones}
        # Only when used, so feature stores cached with the seed's kinds stay valid.
        if set(self.kinds) & set(CHANNEL_AUGMENTS):
            params.update(gain_db=self.gain_db, snr_db=list(self.snr_db), rt60=list(self.rt60),
                          codec_quality=list(self.codec_quality))
        if set(self.kinds) & {"floor", "channel"}:
            params["floor_dbfs"] = list(self.floor_dbfs)
        if self.crowd is not None and "channel" in self.kinds:
            # Who can be heard changes the copies: a digest of the crowd, not its 1,000s of paths.
            text = "\n".join(f"{p}\t{self.crowd[p]}" for p in self._crowd_paths)
            params["crowd"] = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return params

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
            raise InputError(f"augmentation {kind!r} is not one of {', '.join(self.kinds)}")
        y = np.asarray(y, dtype=np.float32)
        rng = _rng(self.seed, key, kind)
        if kind == "noise":
            amplitude = self.noise_amplitude * rng.uniform() * float(np.abs(y).max())
            out = y + amplitude * rng.standard_normal(y.shape[0])
        elif kind == "stretch":
            out = librosa.effects.time_stretch(y, rate=self.stretch_rate)
        elif kind == "shift":
            out = np.roll(y, int(round(rng.uniform(-1.0, 1.0) * self.shift_seconds * sr)))
        elif kind == "pitch":
            out = librosa.effects.pitch_shift(y, sr=sr, n_steps=self.pitch_semitones)
        elif kind == "bandlimit":
            out = telephone_band(y, sr)
        elif kind == "codec":
            codec = _pick(rng, ("mp3", "ogg"))
            out = lossy_round_trip(y, sr, codec, quality=rng.uniform(*self.codec_quality))
        elif kind == "gain":
            out = apply_gain(y, rng.uniform(-self.gain_db, self.gain_db))
        elif kind == "snr":
            noise = "babble" if rng.integers(2) else "white"
            out = add_noise(y, rng.uniform(*self.snr_db), noise, seed=int(rng.integers(2**32)))
        elif kind == "room":
            out = reverberate(y, sr, rng.uniform(*self.rt60), seed=int(rng.integers(2**32)))
        elif kind == "floor":
            colour = _pick(rng, NOISE_COLOURS)
            out = add_floor(y, rng.uniform(*self.floor_dbfs), colour, seed=int(rng.integers(2**32)))
        else:
            out = self._channel(y, sr, rng, key)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _channel(self, y: np.ndarray, sr: int, rng: np.random.Generator, key: str | int
                 ) -> np.ndarray:
        """One real channel drawn from :data:`CHANNELS`, over a faint floor half of the time."""
        channel = _pick(rng, CHANNELS)
        seed = int(rng.integers(2**32))
        if channel == "babble":
            crowd = self._crowd_noise(y.size, sr, key, seed) if self.crowd is not None else None
            noise = babble(y, seed=seed) if crowd is None else crowd
            out = mix_at_snr(y, noise, rng.uniform(*self.snr_db))
        elif channel == "room":
            out = reverberate(y, sr, rng.uniform(0.2, 0.8), seed=seed)
        else:
            codec = _pick(rng, PHONE_CODECS)
            out = phone_line(y, sr, codec, quality=rng.uniform(*self.codec_quality))
        if rng.uniform() < 0.5:
            quiet = (self.floor_dbfs[0], min(self.floor_dbfs[1], -45.0))
            colour = _pick(rng, NOISE_COLOURS)
            out = add_floor(out, rng.uniform(*quiet), colour, seed=int(rng.integers(2**32)))
        return out

    def _crowd_noise(self, n: int, sr: int, key: str | int, seed: int) -> np.ndarray | None:
        """Babble of :data:`CROWD_SIZE` crowd utterances by speakers other than ``key``'s
        (``None`` if the crowd has no other speaker)."""
        from sera.audio import load

        speaker = str(self.crowd.get(str(key)))
        chosen = draw_crowd(np.random.default_rng(seed), self._crowd_speakers, speaker)
        if chosen.size == 0:
            return None
        voices = [load(self._crowd_paths[i], sr=sr) for i in sorted(chosen)]
        return crowd_of(voices, n, seed=seed)


def telephone_band(y: np.ndarray, sr: int) -> np.ndarray:
    """Telephone audio: the 300-3400 Hz band, sampled at 8 kHz and brought back to ``sr``.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    sr : int
        Its sample rate.

    Returns
    -------
    np.ndarray
        float32, the length of ``y``.
    """
    return phone_line(y, sr, codec=None)


def lossy_round_trip(y: np.ndarray, sr: int, codec: Codec = "mp3",
                     quality: float = 1.0) -> np.ndarray:
    """Encode to a lossy format in memory and decode again.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform (clipped to [-1, 1] before encoding).
    sr : int
        Its sample rate (MP3 takes 8-48 kHz).
    codec : str
        ``"mp3"``, ``"ogg"`` (Vorbis), ``"opus"`` or ``"ulaw"``, see :data:`CODEC_FORMATS` (Opus
        takes 8, 12, 16, 24 or 48 kHz).
    quality : float
        libsndfile ``compression_level`` in [0, 1]; 1 is the lowest bitrate (MP3 at 16 kHz:
        about 24 kbit/s).

    Returns
    -------
    np.ndarray
        float32, the length of ``y`` (the decoder's padding cut, a short tail padded with zeros).
    """
    file_format, subtype = CODEC_FORMATS[check_choice("codec", codec, CODECS)]
    y = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    buffer = io.BytesIO()
    # libsndfile refuses a compression level of exactly 1 for MP3; 0.99 is its lowest bitrate.
    # mu-law has one bitrate.
    level = {} if codec == "ulaw" else {"compression_level": float(np.clip(quality, 0.0, 0.99))}
    sf.write(buffer, y, sr, format=file_format, subtype=subtype, **level)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32", always_2d=False)
    return _fit_length(decoded, y.size)


def phone_line(y: np.ndarray, sr: int, codec: Codec | None = "ulaw", quality: float = 1.0
               ) -> np.ndarray:
    """A narrowband phone call: the 300-3400 Hz band at 8 kHz through a codec, back at ``sr``.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    sr : int
        Its sample rate.
    codec : str or None
        ``"ulaw"`` (G.711), ``"mp3"`` or ``"opus"`` (:data:`CODEC_FORMATS`), encoded at 8 kHz;
        ``None``: the band alone (:func:`telephone_band`).
    quality : float
        libsndfile ``compression_level`` of MP3 and Opus (1: the lowest bitrate).

    Returns
    -------
    np.ndarray
        float32, the length of ``y``.
    """
    y = np.asarray(y, dtype=np.float32)
    low, high = TELEPHONE_BAND
    sos = signal.butter(4, [low, min(high, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    out = signal.sosfiltfilt(sos, y).astype(np.float32)
    if sr <= TELEPHONE_RATE:
        return _fit_length(out if codec is None else
                           lossy_round_trip(out, sr, codec, quality=quality), y.size)
    narrow = resample(out, sr, TELEPHONE_RATE)
    if codec is not None:
        narrow = lossy_round_trip(narrow, TELEPHONE_RATE, codec, quality=quality)
    return _fit_length(resample(narrow, TELEPHONE_RATE, sr), y.size)


def coloured_noise(n: int, colour: NoiseColour = "white", *, seed: int = 0) -> np.ndarray:
    """Gaussian noise of unit RMS whose power falls as ``1 / f**a`` (:data:`COLOUR_EXPONENTS`).

    Parameters
    ----------
    n : int
        Samples.
    colour : str
        ``"white"``, ``"pink"`` or ``"brown"``.
    seed : int
        Seeds the noise.

    Returns
    -------
    np.ndarray
        float64, ``n`` samples, RMS 1.
    """
    exponent = COLOUR_EXPONENTS[check_choice("noise colour", colour, NOISE_COLOURS)]
    white = np.random.default_rng(seed).standard_normal(n)
    if n < 2 or exponent == 0:
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n)
        f[0] = f[1]  # the DC bin takes the lowest frequency's gain, not an infinite one
        noise = np.fft.irfft(spectrum / f ** (exponent / 2), n)
    rms = np.sqrt(np.mean(np.square(noise)))
    return noise / rms if rms > 0 else noise


def add_floor(y: np.ndarray, dbfs: float, colour: NoiseColour = "white", *, seed: int = 0
              ) -> np.ndarray:
    """Add a noise floor at an absolute level, whatever the speech's own level.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    dbfs : float
        The floor's RMS in dB relative to full scale (an RMS of 1): -60 is a quiet studio
        microphone, -40 a laptop in a quiet room.
    colour : str
        ``"white"``, ``"pink"`` or ``"brown"`` (:func:`coloured_noise`).
    seed : int
        Seeds the noise.

    Returns
    -------
    np.ndarray
        float32, the length of ``y``.
    """
    y = np.asarray(y, dtype=np.float32)
    floor = coloured_noise(y.size, colour, seed=seed) * 10 ** (dbfs / 20)
    return (y + floor).astype(np.float32)


def apply_gain(y: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels and clip to [-1, 1], as a too hot or too quiet input would be."""
    return np.clip(np.asarray(y, dtype=np.float32) * np.float32(10 ** (db / 20)), -1.0, 1.0)


def add_noise(y: np.ndarray, snr_db: float, noise: Noise = "white", *, seed: int = 0
              ) -> np.ndarray:
    """Add white or babble noise at a signal-to-noise ratio.

    The SNR is of the whole clip's mean power, pauses included, so speech in a clip with long
    pauses sits a little above ``snr_db``.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    snr_db : float
        Signal-to-noise ratio in dB.
    noise : str
        ``"white"`` (Gaussian) or ``"babble"`` (:func:`babble`).
    seed : int
        Seeds the noise.

    Returns
    -------
    np.ndarray
        float32, the length of ``y``.
    """
    y = np.asarray(y, dtype=np.float32)
    if check_choice("noise", noise, NOISES) == "white":
        n = np.random.default_rng(seed).standard_normal(y.size)
    else:
        n = babble(y, seed=seed)
    return mix_at_snr(y, n, snr_db)


def mix_at_snr(y: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``y`` plus ``noise`` scaled so the clip's mean power is ``snr_db`` above the noise's.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    noise : np.ndarray
        Noise of the same length, any scale.
    snr_db : float
        Signal-to-noise ratio in dB.

    Returns
    -------
    np.ndarray
        float32; ``y`` unchanged where it or the noise is all zeros.
    """
    y = np.asarray(y, dtype=np.float32)
    signal_power = float(np.mean(np.square(y, dtype=np.float64)))
    noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
    if signal_power == 0 or noise_power == 0:
        return y.copy()
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (y + scale * noise).astype(np.float32)


def babble(y: np.ndarray, talkers: int = BABBLE_TALKERS, *, seed: int = 0) -> np.ndarray:
    """Babble-like noise made of the clip itself: a crowd of time-reversed, shifted copies.

    Reversed speech has the spectrum and the syllabic rhythm of speech without its words, and
    copies shifted at random overlap like several talkers, so the noise is speech-shaped and a
    pure function of the clip and the seed (no other recordings needed).

    Returns
    -------
    np.ndarray
        float64, the length of ``y``, unscaled.
    """
    rng = np.random.default_rng(seed)
    reversed_y = np.asarray(y, dtype=np.float64)[::-1]
    shifts = rng.integers(0, max(reversed_y.size, 1), size=talkers)
    gains = rng.uniform(0.5, 1.0, size=talkers)
    return sum(g * np.roll(reversed_y, int(s)) for g, s in zip(gains, shifts, strict=True))


def draw_crowd(rng: np.random.Generator, speakers: np.ndarray, speaker,
               among: np.ndarray | None = None) -> np.ndarray:
    """Who talks in one utterance's babble: :data:`CROWD_SIZE` utterances (fewer where there
    are fewer) drawn without replacement from those of other speakers.

    Parameters
    ----------
    rng : np.random.Generator
        Makes the draw (untouched when there is no one to draw).
    speakers : np.ndarray
        The speaker of every utterance.
    speaker
        The speaker the babble will cover.
    among : np.ndarray, optional
        The indices of the utterances that can be heard (default: all).

    Returns
    -------
    np.ndarray
        Indices into ``speakers``, in the order drawn; empty if no other speaker is heard.
    """
    among = np.arange(len(speakers)) if among is None else among
    others = among[speakers[among] != speaker]
    if others.size == 0:
        return others
    return rng.choice(others, size=min(CROWD_SIZE, others.size), replace=False)


def crowd_of(voices: Sequence[np.ndarray], n: int, *, seed: int = 0) -> np.ndarray:
    """Babble of other speakers: their clips looped to ``n`` samples, shifted and summed.

    Parameters
    ----------
    voices : sequence of np.ndarray
        One waveform per talker (other speakers than the one the babble will cover).
    n : int
        Samples.
    seed : int
        Seeds the shifts and gains.

    Returns
    -------
    np.ndarray
        float64, ``n`` samples, unscaled (:func:`mix_at_snr` sets the SNR).
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for voice in voices:
        looped = loop_to_length(np.asarray(voice, dtype=np.float64), n)
        out += rng.uniform(0.5, 1.0) * np.roll(looped, int(rng.integers(max(n, 1))))
    return out


def loop_to_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` repeated (or cut) to ``n`` samples; zeros for an empty ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.zeros(n)
    return np.tile(x, -(-n // x.size))[:n]


def room_impulse_response(sr: int, rt60: float, *, seed: int = 0) -> np.ndarray:
    """A synthetic room: a direct path, then noise decaying by 60 dB over ``rt60`` seconds.

    Returns
    -------
    np.ndarray
        float64, ``rt60 * sr`` samples, unit energy.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(max(int(rt60 * sr), 1)) / sr
    # Amplitude falls by 60 dB (a factor 1000) at t = rt60.
    h = rng.standard_normal(t.size) * 10 ** (-3 * t / rt60) * 0.3
    h[0] = 1.0
    return h / np.linalg.norm(h)


def reverberate(y: np.ndarray, sr: int, rt60: float, *, seed: int = 0) -> np.ndarray:
    """Convolve with :func:`room_impulse_response`, keeping the length and the RMS of ``y``."""
    y = np.asarray(y, dtype=np.float32)
    wet = signal.fftconvolve(y, room_impulse_response(sr, rt60, seed=seed))[: y.size]
    rms_in, rms_out = np.sqrt(np.mean(np.square(y))), np.sqrt(np.mean(np.square(wet)))
    return (wet * (rms_in / rms_out if rms_out > 0 else 1.0)).astype(np.float32)


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``n`` samples, float32."""
    y = np.asarray(y, dtype=np.float32)[:n]
    return np.pad(y, (0, n - y.size)) if y.size < n else y


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    """One of ``options``, at even odds."""
    return options[int(rng.integers(len(options)))]


def _rng(seed: int, key: str | int, kind: str) -> np.random.Generator:
    """A generator seeded by a stable hash of ``(seed, key, kind)``."""
    digest = hashlib.blake2b(f"{seed}\0{key}\0{kind}".encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))
