"""The voices of the synthetic corpus: speech-like audio whose prosody follows acted emotion.

:func:`render` synthesises one utterance of a :class:`Sentence` by a :class:`Speaker` in an
emotion; :func:`make_speaker` and :func:`make_sentence` draw the seeded speakers and sentences
:mod:`sera.corpora.synth` writes into a corpus. Nothing here is real speech.

Signal model (source-filter, numpy/scipy only)
----------------------------------------------
* **Source.** A Rosenberg glottal pulse train (open phase rising as a raised cosine, closing
  phase a quarter cosine, then closed) driven by the integrated F0 contour. The open quotient
  sets voice tension: a short open phase with abrupt closure ("pressed", tense voice) has more
  high-frequency energy than a long, lax one. The pulse train is differentiated (lip
  radiation). Jitter and shimmer perturb each glottal cycle's period and amplitude; *creak*
  makes a fraction of cycles long and weak (irregular vocal fry, more of it late in the
  phrase). Breathiness adds aspiration noise modulated by the glottal opening.
* **Filter.** Five cascaded two-pole resonators (formants F1-F5; Klatt 1980) whose centre
  frequencies move smoothly between vowel targets (Peterson & Barney 1952, adult male, scaled
  per speaker for vocal-tract length) and consonant loci. A two-pole resonator's coefficients
  cannot change over time inside one ``scipy.signal.lfilter`` call, so the time-varying cascade
  is applied frame by frame in the frequency domain: its exact complex response is evaluated
  for every 8 ms frame and multiplied with the windowed source spectrum, and the frames are
  overlap-added (Hann window, 75 % overlap, FFT twice the window so the resonators' tails do
  not wrap around). This keeps a corpus of 336 clips to a few seconds of CPU. A spectral tilt
  (dB per octave above 500 Hz) models vocal effort.
* **Consonants.** Each syllable is an optional onset consonant plus a vowel. Fricatives are
  band-passed noise, stops are a silent closure followed by a noise burst, nasals and liquids
  are weak voiced murmurs with their own formant loci.
* **Utterance.** 5-10 syllables (one "sentence", the same sentences for every speaker and
  emotion, like RAVDESS's two statements), 1-3 of them pitch-accented (higher F0, longer,
  louder), phrase-final lengthening, F0 declination, a phrase-final fall or rise, slow F0
  wander, 0.15-0.4 s of leading and trailing pause, 1.5-3.5 s in all, over a faint coloured
  noise floor (never digital silence). Written as 16-bit mono WAV.

Speakers
--------
``synthetic-f1, synthetic-m1, synthetic-f2, ...`` (prefixed by the corpus name like every
sera speaker id, so :func:`sera.corpora.scan` reads ``manifest.csv`` back unchanged): half
female (base F0 180-240 Hz, formants scaled 1.12-1.22), half male (95-140 Hz, 0.94-1.04).
Each speaker also has their own syllable rate, breathiness, jitter/shimmer, spectral tilt,
pitch liveliness, recording level and *emotional expressiveness* (0.65-1.15: how far their
acted emotions move away from their neutral voice).

Emotions
--------
:data:`PROSODY` holds one :class:`Prosody` per label of :data:`sera.labels.LABELS`. The
directions follow the reviews of acted vocal emotion by Scherer (2003, "Vocal communication of
emotion", Speech Communication 40) and Juslin & Laukka (2003, Psychological Bulletin 129),
with Banse & Scherer (1996) for disgust:

* **angry** (hot anger): F0 level and range up, loud, fast, flat spectral tilt (much
  high-frequency energy), tense voice (short open phase), formants slightly raised (wide mouth
  opening), falling end.
* **happy**: F0 up, widest range after surprise, fast-ish, moderately loud, slight
  high-frequency boost, formants raised (smiling shortens the vocal tract), slight final rise.
* **fear**: F0 high but a narrow range, fast, jitter and shimmer up, breathy.
* **sad**: F0 low, narrow range, slow, quiet, steep tilt (little high-frequency energy), lax
  and breathy voice.
* **disgust**: F0 low, slow, irregular voice (jitter, shimmer, creak), formants lowered.
* **surprise**: F0 very high with a wide range and a strong phrase-final rise.
* **neutral**: the reference; every other emotion is defined relative to it.

Each utterance's emotion is realised with an intensity that is the speaker's expressiveness
times a per-utterance draw (0.6-1.2), interpolating between the neutral and the emotion's
parameters; then every parameter gets its own per-utterance random deviation
(:data:`UTTERANCE_SPREAD`). That overlap between classes is deliberate: a simple classifier on
MFCC and energy statistics, trained on some synthetic speakers and tested on others, lands
well above chance but well short of perfect (``tests/test_synth.py`` measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy import signal

from sera.corpora.source_filter import (
    HOP_FRACTION,
    formant_response,
    frame_count,
    frame_filter,
    glottal_source,
    tilt_response,
)

#: The ``corpus`` value of every synthetic clip, and the prefix of every synthetic speaker id.
CORPUS = "synthetic"

#: Rate the corpus is written at unless asked otherwise.
SAMPLE_RATE = 16000

#: Active-speech level of a neutral utterance before the speaker's recording gain, dBFS.
REFERENCE_LEVEL_DB = -26.0

#: Peak level nothing is allowed to exceed (loud clips are scaled down to it).
PEAK_LIMIT = 0.95

# Frame-wise filtering (:func:`frame_filter`): 32 ms Hann window, 8 ms hop, FFT twice the window.
_WINDOW_S = 0.032
_FFT_FACTOR = 2


def _param(kind: str = "linear", low: float = -math.inf, high: float = math.inf):
    """A :class:`Prosody` field: ``kind`` "log" for multipliers, with the range it is kept in."""
    return field(metadata={"kind": kind, "low": low, "high": high})


@dataclass(frozen=True)
class Prosody:
    """How one emotion shapes an utterance. Multipliers (``log`` fields) are relative to a
    speaker's habitual voice; the other fields are absolute or added to the speaker's own."""

    f0_level: float = _param("log")  # times the speaker's base F0
    f0_range: float = _param("log")  # times the accent, declination and wander excursions
    final_st: float = _param()  # phrase-final F0 movement, semitones (negative: fall)
    rate: float = _param("log")  # times the speaker's syllables per second
    loudness_db: float = _param()  # added to the speaker's level
    tilt_db: float = _param()  # dB/octave taken off above 500 Hz (negative: brighter)
    open_quotient: float = _param(low=0.35, high=0.85)  # glottal open phase / period
    jitter: float = _param(low=0.0)  # relative s.d. of the glottal period, cycle to cycle
    shimmer: float = _param(low=0.0)  # relative s.d. of the cycle amplitude
    breathiness: float = _param(low=0.0)  # aspiration noise relative to voicing
    creak: float = _param(low=0.0, high=0.6)  # fraction of long, weak, irregular cycles
    formant_shift: float = _param("log")  # times every formant frequency


#: The per-emotion prosody table (see the module docstring for the sources).
PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(f0_level=1.00, f0_range=1.0, final_st=-2.0, rate=1.00, loudness_db=0.0,
                       tilt_db=0.0, open_quotient=0.60, jitter=0.004, shimmer=0.03,
                       breathiness=0.00, creak=0.00, formant_shift=1.00),
    "angry": Prosody(f0_level=1.30, f0_range=1.6, final_st=-4.0, rate=1.12, loudness_db=8.0,
                     tilt_db=-4.0, open_quotient=0.42, jitter=0.010, shimmer=0.05,
                     breathiness=0.00, creak=0.00, formant_shift=1.03),
    "happy": Prosody(f0_level=1.25, f0_range=1.7, final_st=1.0, rate=1.08, loudness_db=4.0,
                     tilt_db=-2.0, open_quotient=0.52, jitter=0.005, shimmer=0.03,
                     breathiness=0.02, creak=0.00, formant_shift=1.05),
    "fear": Prosody(f0_level=1.35, f0_range=0.6, final_st=0.0, rate=1.20, loudness_db=2.0,
                    tilt_db=-1.0, open_quotient=0.62, jitter=0.025, shimmer=0.08,
                    breathiness=0.15, creak=0.00, formant_shift=1.02),
    "sad": Prosody(f0_level=0.88, f0_range=0.5, final_st=-3.0, rate=0.78, loudness_db=-6.0,
                   tilt_db=5.0, open_quotient=0.72, jitter=0.012, shimmer=0.05,
                   breathiness=0.15, creak=0.03, formant_shift=0.97),
    "disgust": Prosody(f0_level=0.90, f0_range=0.9, final_st=-4.0, rate=0.82, loudness_db=-1.0,
                       tilt_db=1.0, open_quotient=0.60, jitter=0.030, shimmer=0.10,
                       breathiness=0.02, creak=0.20, formant_shift=0.94),
    "surprise": Prosody(f0_level=1.35, f0_range=2.0, final_st=7.0, rate=1.00, loudness_db=3.0,
                        tilt_db=-1.5, open_quotient=0.55, jitter=0.006, shimmer=0.03,
                        breathiness=0.04, creak=0.00, formant_shift=1.03),
}

#: Per-utterance random deviation of each parameter: a standard deviation in natural-log units
#: for the ``log`` fields, in the field's own unit for the others.
UTTERANCE_SPREAD = Prosody(f0_level=0.06, f0_range=0.20, final_st=1.5, rate=0.08,
                           loudness_db=2.5, tilt_db=1.2, open_quotient=0.04, jitter=0.003,
                           shimmer=0.01, breathiness=0.03, creak=0.015, formant_shift=0.02)


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker's habitual voice."""

    id: str
    gender: str
    f0_hz: float  # base F0 of their neutral voice
    formant_scale: float  # vocal-tract length: >1 shorter tract, higher formants
    syllable_rate: float  # neutral syllables per second
    f0_liveliness: float  # times every F0 excursion
    tilt_db: float  # added to the emotion's tilt
    open_quotient: float  # added to the emotion's open quotient
    jitter: float  # added to the emotion's jitter
    shimmer: float  # added to the emotion's shimmer
    breathiness: float  # added to the emotion's breathiness
    expressiveness: float  # how far acted emotions move from neutral (1 = the table)
    gain_db: float  # recording level


@dataclass(frozen=True)
class Consonant:
    """An onset consonant: manner, formant loci (adult male), noise band, voicing."""

    manner: str  # "fricative", "stop", "nasal" or "liquid"
    loci: tuple[float, float, float]  # F1-F3 the formants move towards, Hz
    noise_hz: float  # centre of the frication or burst noise
    noise_bw: float  # its bandwidth (s.d. of a Gaussian band), Hz
    noise: float  # noise amplitude relative to a vowel
    voicing: float  # voicing amplitude relative to a vowel


#: Vowel targets F1-F3 in Hz (Peterson & Barney 1952, adult male means).
VOWELS: dict[str, tuple[float, float, float]] = {
    "i": (270, 2290, 3010),
    "ih": (390, 1990, 2550),
    "eh": (530, 1840, 2480),
    "ae": (660, 1720, 2410),
    "aa": (730, 1090, 2440),
    "ao": (570, 840, 2410),
    "uh": (440, 1020, 2240),
    "u": (300, 870, 2240),
    "ah": (640, 1190, 2390),
    "er": (490, 1350, 1690),
}

#: Where unaccented vowels drift towards (a neutral tube), and how far.
SCHWA = (500.0, 1500.0, 2500.0)
UNACCENTED_REDUCTION = 0.3

#: F4 and F5 (adult male), scaled with the others.
UPPER_FORMANTS = (3400.0, 4300.0)

#: Formant bandwidths F1-F5 in Hz for a modal voice; breathiness widens them.
BANDWIDTHS = np.array([70.0, 90.0, 130.0, 200.0, 280.0])

CONSONANTS: dict[str, Consonant] = {
    "s": Consonant("fricative", (300, 1700, 2600), 6000, 1200, 0.5, 0.0),
    "sh": Consonant("fricative", (300, 1900, 2400), 3300, 800, 0.6, 0.0),
    "f": Consonant("fricative", (300, 1000, 2300), 4500, 2500, 0.15, 0.0),
    "t": Consonant("stop", (300, 1700, 2600), 4000, 1500, 0.6, 0.0),
    "k": Consonant("stop", (300, 2000, 2400), 2200, 600, 0.6, 0.0),
    "p": Consonant("stop", (300, 900, 2200), 1200, 1000, 0.3, 0.0),
    "m": Consonant("nasal", (280, 1000, 2200), 0, 1, 0.0, 0.3),
    "n": Consonant("nasal", (280, 1600, 2500), 0, 1, 0.0, 0.3),
    "l": Consonant("liquid", (380, 1100, 2700), 0, 1, 0.0, 0.55),
    "r": Consonant("liquid", (420, 1200, 1600), 0, 1, 0.0, 0.55),
}


@dataclass(frozen=True)
class Sentence:
    """A synthetic "sentence": its id (the manifest's ``text``), syllables and accents."""

    id: str
    syllables: tuple[tuple[str | None, str], ...]  # (onset consonant or None, vowel)
    accents: tuple[int, ...]  # indices of pitch-accented syllables


def make_speaker(index: int, seed: int = 0) -> Speaker:
    """The ``index``-th synthetic speaker (even indices female, odd male)."""
    rng = np.random.default_rng([seed, 0, index])
    female = index % 2 == 0
    return Speaker(
        id=f"{CORPUS}-{'f' if female else 'm'}{index // 2 + 1}",
        gender="female" if female else "male",
        f0_hz=rng.uniform(180, 240) if female else rng.uniform(95, 140),
        formant_scale=rng.uniform(1.12, 1.22) if female else rng.uniform(0.94, 1.04),
        syllable_rate=rng.uniform(3.8, 5.0),
        f0_liveliness=rng.uniform(0.75, 1.25),
        tilt_db=rng.uniform(-1.5, 1.5),
        open_quotient=rng.uniform(-0.05, 0.05) + (0.03 if female else 0.0),
        jitter=rng.uniform(0.001, 0.006),
        shimmer=rng.uniform(0.0, 0.02),
        breathiness=rng.uniform(0.04, 0.10) if female else rng.uniform(0.02, 0.07),
        expressiveness=rng.uniform(0.65, 1.15),
        gain_db=rng.uniform(-4.0, 4.0),
    )


def make_sentence(index: int, seed: int = 0) -> Sentence:
    """The ``index``-th synthetic sentence: 5-10 syllables, 1-3 of them accented."""
    rng = np.random.default_rng([seed, 1, index])
    n = int(rng.integers(5, 11))
    consonants = [None, *CONSONANTS]
    weights = np.array([2.0] + [1.0] * len(CONSONANTS))
    onsets = rng.choice(len(consonants), size=n, p=weights / weights.sum())
    vowels = rng.choice(list(VOWELS), size=n)
    n_accents = int(rng.integers(1, 4))
    # The first accent falls in the first half, as in most declaratives.
    first = int(rng.integers(0, (n + 1) // 2))
    rest = rng.choice(np.setdiff1d(np.arange(n), [first]), size=n_accents - 1, replace=False)
    return Sentence(
        id=f"s{index:02d}",
        syllables=tuple((consonants[o], str(v)) for o, v in zip(onsets, vowels, strict=True)),
        accents=tuple(sorted({first, *map(int, rest)})),
    )


def blend(neutral: Prosody, target: Prosody, weight: float) -> Prosody:
    """Move ``weight`` of the way from ``neutral`` to ``target`` (log fields geometrically)."""
    values = {}
    for f in fields(Prosody):
        a, b = getattr(neutral, f.name), getattr(target, f.name)
        values[f.name] = a * (b / a) ** weight if f.metadata["kind"] == "log" \
            else a + weight * (b - a)
    return Prosody(**values)


def perturb(prosody: Prosody, spread: Prosody, rng: np.random.Generator) -> Prosody:
    """Draw one utterance's parameters around ``prosody`` with s.d. ``spread``, within range."""
    values = {}
    for f in fields(Prosody):
        value, sd = getattr(prosody, f.name), getattr(spread, f.name)
        noise = sd * rng.standard_normal()
        value = value * math.exp(noise) if f.metadata["kind"] == "log" else value + noise
        values[f.name] = min(max(value, f.metadata["low"]), f.metadata["high"])
    return Prosody(**values)


def render(sentence: Sentence, speaker: Speaker, emotion: str, rng: np.random.Generator,
           sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Synthesise one utterance of ``sentence`` by ``speaker`` in ``emotion``.

    Parameters
    ----------
    sentence, speaker : Sentence, Speaker
        What is said and by whom.
    emotion : str
        A label of :data:`sera.labels.LABELS`.
    rng : numpy.random.Generator
        Source of the utterance's own variation.
    sample_rate : int
        Output rate, Hz.

    Returns
    -------
    np.ndarray
        float32 mono waveform in [-1, 1], 1.5-3.5 s long.
    """
    intensity = speaker.expressiveness * rng.uniform(0.6, 1.2)
    p = perturb(blend(PROSODY["neutral"], PROSODY[emotion], intensity), UTTERANCE_SPREAD, rng)
    breathiness = speaker.breathiness + p.breathiness
    plan = _timeline(sentence, speaker.syllable_rate * p.rate, rng)
    n = int(round(plan["duration"] * sample_rate))
    t = np.arange(n) / sample_rate

    hop = int(round(_WINDOW_S * sample_rate)) // HOP_FRACTION
    win = hop * HOP_FRACTION
    frame_t = (np.arange(frame_count(n, win, hop)) * hop - win / 2) / sample_rate

    f0 = _f0_contour(frame_t, plan, speaker.f0_hz * p.f0_level,
                     p.f0_range * speaker.f0_liveliness, p.final_st, rng)
    open_quotient = float(np.clip(p.open_quotient + speaker.open_quotient, 0.3, 0.9))
    pulse, excitation = glottal_source(np.interp(t, frame_t, f0), sample_rate, open_quotient,
                                       speaker.jitter + p.jitter, speaker.shimmer + p.shimmer,
                                       p.creak, rng)
    # Aspiration: noise that is strongest while the glottis is open.
    aspiration = breathiness * rng.standard_normal(n) * (0.25 + pulse)
    voicing = np.interp(t, plan["times"], plan["voicing"])
    frication = np.interp(t, plan["times"], plan["noise"]) * rng.standard_normal(n)

    formants = _formant_tracks(frame_t, plan, speaker.formant_scale * p.formant_shift)
    bandwidths = np.broadcast_to(BANDWIDTHS * (1.0 + 2.0 * breathiness), formants.shape)
    freqs = np.fft.rfftfreq(win * _FFT_FACTOR, 1.0 / sample_rate)
    voiced_response = formant_response(formants, bandwidths, sample_rate, win * _FFT_FACTOR) \
        * tilt_response(freqs, speaker.tilt_db + p.tilt_db)
    noise_hz, noise_bw = _noise_bands(frame_t, plan, sample_rate)
    noise_response = np.exp(-0.5 * ((freqs - noise_hz[:, None]) / noise_bw[:, None]) ** 2)

    speech = frame_filter(np.stack([voicing * (excitation + aspiration), frication]),
                          np.stack([voiced_response, noise_response]), hop)

    active = voicing > 0.5
    level = np.sqrt(np.mean(speech[active] ** 2)) if active.any() else 1.0
    speech *= 10 ** ((REFERENCE_LEVEL_DB + speaker.gain_db + p.loudness_db) / 20) / level
    peak = np.max(np.abs(speech))
    if peak > PEAK_LIMIT:
        speech *= PEAK_LIMIT / peak
    # A faint coloured noise floor, as in any recording room.
    floor = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(n))
    floor *= 10 ** (rng.uniform(-72, -60) / 20) / np.std(floor)
    return np.clip(speech + floor, -1.0, 1.0).astype(np.float32)


def _timeline(sentence: Sentence, syllable_rate: float, rng: np.random.Generator) -> dict:
    """Lay out one utterance in time: segments, their targets and the envelopes' keypoints.

    Returns a dict with ``duration`` (s), ``times`` with ``voicing`` and ``noise`` (amplitude
    keypoints), ``segments`` (list of ``(start, end, consonant or None, formant targets)``),
    ``speech`` (start, end) and ``syllables`` (list of ``(start, vowel start, end, accented)``).
    """
    n = len(sentence.syllables)
    accented = np.isin(np.arange(n), sentence.accents)
    weights = (1.0 + 0.35 * accented) * rng.uniform(0.8, 1.25, n)
    weights[-1] *= 1.35  # phrase-final lengthening
    durations = weights / weights.mean() / syllable_rate
    lead, trail = rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.4)
    speech = float(np.clip(durations.sum(), 1.5 - lead - trail, 3.5 - lead - trail))
    durations *= speech / durations.sum()

    starts = lead + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    times, voicing, noise, segments, syllables = [], [], [], [], []

    def hold(start: float, end: float, voice: float, hiss: float, swell: bool = False) -> None:
        # Level held inside the segment, 12 ms (or a quarter of it) ramps at the edges. A
        # vowel swells to its peak a third of the way in and fades towards its end, which
        # gives the syllable-rate (~4 Hz) amplitude modulation of speech.
        ramp = min(0.012, (end - start) / 4)
        if swell:
            times.extend([start + ramp, start + (end - start) / 3, end - ramp])
            voicing.extend([0.6 * voice, voice, 0.6 * voice])
            noise.extend([hiss, hiss, hiss])
        else:
            times.extend([start + ramp, end - ramp])
            voicing.extend([voice, voice])
            noise.extend([hiss, hiss])

    hold(0.0, lead, 0.0, 0.0)  # leading pause
    for (onset, vowel), start, dur, accent in zip(sentence.syllables, starts, durations,
                                                   accented, strict=True):
        vowel_start = start
        if onset is not None:
            consonant = CONSONANTS[onset]
            vowel_start = start + dur * rng.uniform(0.3, 0.4)
            if consonant.manner == "stop":
                burst = start + 0.6 * (vowel_start - start)
                hold(start, burst, 0.0, 0.0)
                hold(burst, vowel_start, 0.0, consonant.noise)
            else:
                hold(start, vowel_start, consonant.voicing, consonant.noise)
            segments.append((start, vowel_start, consonant, consonant.loci))
        target = np.array(VOWELS[vowel]) * rng.uniform(0.95, 1.05, 3)
        if not accent:
            target += UNACCENTED_REDUCTION * (np.array(SCHWA) - target)
        hold(vowel_start, start + dur, 1.3 if accent else 1.0, 0.0, swell=True)
        segments.append((vowel_start, start + dur, None, tuple(target)))
        syllables.append((start, vowel_start, start + dur, bool(accent)))

    duration = lead + speech + trail
    hold(lead + speech, duration, 0.0, 0.0)  # trailing pause
    return {"duration": duration, "times": np.array(times), "voicing": np.array(voicing),
            "noise": np.array(noise), "segments": segments, "speech": (lead, lead + speech),
            "syllables": syllables}


def _f0_contour(frame_t: np.ndarray, plan: dict, f0_hz: float, f0_range: float,
                final_st: float, rng: np.random.Generator) -> np.ndarray:
    """F0 in Hz at ``frame_t``: declination, accents, syllable wobble, final move, wander."""
    start, end = plan["speech"]
    progress = np.clip((frame_t - start) / (end - start), 0.0, 1.0)
    semitones = -2.5 * f0_range * progress  # declination
    for syl_start, vowel_start, syl_end, accented in plan["syllables"]:
        height = (4.0 if accented else 1.2) * f0_range * rng.uniform(0.6, 1.3)
        if not accented:
            height *= rng.choice([-1.0, 1.0])
        centre = 0.5 * (vowel_start + syl_end)
        semitones = semitones + height * np.exp(
            -0.5 * ((frame_t - centre) / (0.3 * (syl_end - syl_start))) ** 2)
    last_start = plan["syllables"][-1][0]
    semitones = semitones + final_st * np.clip((frame_t - last_start) / (end - last_start),
                                               0.0, 1.0) ** 1.5
    # Slow wander: a few random low-frequency sinusoids (below 3 Hz).
    rates, phases = rng.uniform(0.3, 3.0, 3), rng.uniform(0, 2 * np.pi, 3)
    semitones = semitones + 0.3 * f0_range * np.sin(
        2 * np.pi * rates[:, None] * frame_t + phases[:, None]).sum(axis=0)
    return f0_hz * 2 ** (semitones / 12)


def _formant_tracks(frame_t: np.ndarray, plan: dict, scale: float) -> np.ndarray:
    """``(frames, 5)`` formant frequencies: targets at segment centres, linear in between."""
    centres = np.array([0.5 * (s[0] + s[1]) for s in plan["segments"]])
    targets = np.array([s[3] for s in plan["segments"]])
    tracks = np.stack([np.interp(frame_t, centres, targets[:, k]) for k in range(3)]
                      + [np.full(frame_t.shape, f) for f in UPPER_FORMANTS], axis=1)
    return tracks * scale


def _noise_bands(frame_t: np.ndarray, plan: dict, sample_rate: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Centre and width (Hz) of the frication noise band at ``frame_t``."""
    starts = np.array([s[0] for s in plan["segments"]])
    index = np.clip(np.searchsorted(starts, frame_t, side="right") - 1, 0, len(starts) - 1)
    consonants = [s[2] for s in plan["segments"]]
    centre = np.array([c.noise_hz if c else 1000.0 for c in consonants])[index]
    width = np.array([c.noise_bw if c else 1000.0 for c in consonants])[index]
    return np.minimum(centre, 0.45 * sample_rate), width
