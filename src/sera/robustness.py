"""Robustness curves: how a model's UAR holds up under the conditions of real microphones.

:func:`corrupt` applies one named recording condition (:data:`CONDITIONS`: noise floors of three
colours from -70 to -30 dBFS, white noise and babble of other speakers at 20/10/5 dB SNR, rooms,
telephone lines with their codecs, gain with clipping, DC offset, mains hum) to a waveform with
the pure signal functions of :mod:`sera.augment`, at fixed strengths. :func:`robustness_curve`
reads each utterance of a labelled corpus once, corrupts it under every condition, classifies
the corrupted waveforms through the bundle (:meth:`sera.infer.Model.predict_many`), and scores
each condition. Utterances of speakers the bundle was trained on are left out, as in
:func:`sera.evaluate.evaluate`, so the figures are speaker-independent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from sera.augment import (
    add_floor,
    add_noise,
    apply_gain,
    crowd_of,
    draw_crowd,
    loop_to_length,
    lossy_round_trip,
    mix_at_snr,
    phone_line,
    reverberate,
    telephone_band,
)
from sera.errors import SeraError, check_choice
from sera.options import ADAPTS, NOISE_COLOURS
from sera.progress import ProgressReport, track

#: Noise floors: colour and level in dBFS (the floor's RMS re full scale). RAVDESS speech peaks
#: near -30 dBFS, so -60 sits about 30 dB under it and -30 as loud as it.
FLOORS: tuple[str, ...] = tuple(f"floor-{colour}-{level}dbfs" for colour in NOISE_COLOURS
                                for level in (70, 60, 50, 40, 30))

#: Recording conditions, from the clean input to the harshest, in the order they are reported.
CONDITIONS: tuple[str, ...] = (
    "clean", *FLOORS, "white-20db", "white-10db", "white-5db", "babble-20db", "babble-10db",
    "babble-5db", "room-0.2s", "room-0.5s", "room-0.8s", "8khz", "phone-ulaw", "phone-mp3",
    "phone-opus", "mp3-low", "gain+20db", "gain-20db", "dc-offset", "hum-50hz",
)

#: libsndfile compression level of ``mp3-low`` and the phone codecs (about 24 kbit/s for MP3 at
#: 16 kHz).
MP3_LOW_QUALITY = 0.99

#: ``dc-offset``: a constant added to every sample (a cheap interface's bias), in full scale.
DC_OFFSET = 0.05

#: ``hum-50hz``: mains hum at 50 Hz with its odd harmonics, at this RMS in dBFS.
HUM_DBFS = -45.0


def corrupt(y: np.ndarray, sr: int, condition: str, *, seed: int = 0,
            crowd: np.ndarray | None = None) -> np.ndarray:
    """A waveform as heard under a recording condition.

    Parameters
    ----------
    y : np.ndarray
        Mono float waveform.
    sr : int
        Its sample rate.
    condition : str
        One of :data:`CONDITIONS`: ``clean``; ``floor-<colour>-<N>dbfs`` (white, pink or brown
        noise at -N dBFS, whatever the speech's level); ``white-<N>db`` / ``babble-<N>db``
        (noise at N dB SNR to the clip); ``room-<T>s`` (reverberation of RT60 T seconds);
        ``8khz`` (telephone band, 300-3400 Hz at 8 kHz); ``phone-<codec>`` (the telephone band
        through G.711 mu-law, low-bitrate MP3 or Opus at 8 kHz); ``mp3-low`` (lowest-bitrate
        MP3 round trip); ``gain+20db`` / ``gain-20db`` (clipped to [-1, 1]); ``dc-offset``
        (:data:`DC_OFFSET`); ``hum-50hz`` (mains hum, :data:`HUM_DBFS`).
    seed : int
        Seeds the noise and the room.
    crowd : np.ndarray, optional
        ``babble``: the voices of other speakers summed (:func:`crowd_of`); without it the
        babble is made of the clip itself (:func:`sera.augment.babble`).

    Returns
    -------
    np.ndarray
        float32, the length of ``y``.
    """
    y = np.asarray(y, dtype=np.float32)
    check_choice("condition", condition, CONDITIONS)
    kind, _, level = condition.partition("-")
    if condition == "clean":
        return y.copy()
    if kind == "floor":
        colour, _, dbfs = level.partition("-")
        return add_floor(y, -float(dbfs.removesuffix("dbfs")), colour, seed=seed)
    if kind in ("white", "babble"):
        snr = float(level.removesuffix("db"))
        if kind == "babble" and crowd is not None:
            return mix_at_snr(y, loop_to_length(crowd, y.size), snr)
        return add_noise(y, snr, kind, seed=seed)
    if kind == "room":
        return reverberate(y, sr, float(level.removesuffix("s")), seed=seed)
    if condition == "8khz":
        return telephone_band(y, sr)
    if kind == "phone":
        return phone_line(y, sr, level, quality=MP3_LOW_QUALITY)
    if condition == "mp3-low":
        return lossy_round_trip(y, sr, "mp3", quality=MP3_LOW_QUALITY)
    if kind.startswith("gain"):
        return apply_gain(y, float(condition[4:-2]))
    if condition == "dc-offset":
        return (y + np.float32(DC_OFFSET)).astype(np.float32)
    t = np.arange(y.size) / sr
    hum = sum(np.sin(2 * np.pi * 50 * h * t) / h for h in (1, 3, 5))
    hum *= 10 ** (HUM_DBFS / 20) / np.sqrt(np.mean(np.square(hum)))
    return (y + hum).astype(np.float32)


def robustness_curve(model, source, conditions: Sequence[str] = CONDITIONS, *,
                     adapt: str = "none", limit: int | None = None,
                     include_training_speakers: bool = False, seed: int = 0,
                     progress: ProgressReport | None = None) -> dict:
    """Score a model on a labelled corpus under each recording condition.

    Parameters
    ----------
    model : sera.infer.Model
        The bundle to score (``sera.load(...)``).
    source : path or DataFrame
        Corpus folder, CSV manifest or manifest frame.
    conditions : sequence of str
        Names from :data:`CONDITIONS`.
    adapt : str
        ``"none"``, ``"recording"``, ``"speaker"`` or ``"corpus"``: group statistics are taken
        from the corrupted utterances of each group, as they would be at run time.
    limit : int, optional
        Score only this many utterances, an even spread over the corpus (for quick looks).
    include_training_speakers : bool
        Keep utterances of speakers the bundle was trained on (an optimistic figure).
    seed : int
        Seeds the noise (each utterance's noise is seeded by ``seed`` and its position).
    progress : ProgressReport, optional
        Told of the files read (``"reading"``) and the conditions scored (``"conditions"``;
        :mod:`sera.progress`).

    Returns
    -------
    dict
        ``{condition: {"uar", "accuracy", "macro_f1", "n", "failures"}}`` in the order of
        ``conditions``; ``failures`` lists ``{"path", "error"}`` of utterances that could not be
        read or classified under that condition.
    """
    from sera.audio import load
    from sera.corpora import GROUP_COLUMNS, load_manifest
    from sera.metrics import evaluate_predictions

    for condition in conditions:
        check_choice("condition", condition, CONDITIONS)
    check_choice("adaptation", adapt, ADAPTS)
    manifest = load_manifest(source)
    if not include_training_speakers:
        heard = set(model.config.get("training", {}).get("speaker_ids", []))
        manifest = manifest[~manifest["speaker"].isin(heard)].reset_index(drop=True)
    if limit is not None and limit < len(manifest):
        manifest = manifest.iloc[np.linspace(0, len(manifest) - 1, limit).round().astype(int)]
        manifest = manifest.reset_index(drop=True)
    if manifest.empty:
        raise SeraError(f"{source}: no utterance left to score (every speaker was heard in "
                        "training?)")

    sr = model.feature_set.sample_rate
    waves, read_failures = {}, []
    for i, path in enumerate(track(list(manifest["path"]), progress, "reading")):
        try:
            waves[i] = load(path, sr)
        except SeraError as error:
            read_failures.append({"path": str(path), "error": str(error)})
    kept = sorted(waves)
    groups = None if adapt == "none" else manifest[GROUP_COLUMNS[adapt]].iloc[kept].tolist()
    crowds = _crowds(waves, manifest["speaker"].to_numpy(), seed) \
        if any(c.startswith("babble") for c in conditions) else {}
    curve = {}
    for condition in track(conditions, progress, "conditions"):
        corrupted = [corrupt(waves[i], sr, condition, seed=seed + i, crowd=crowds.get(i))
                     for i in kept]
        predictions, failures = model.predict_many(corrupted, sr, adapt=adapt, groups=groups)
        # Predictions of arrays come in input order, less the failed items ("<array j>").
        failed_items = {_index(name): problem for name, problem in failures}
        scored = [row for j, row in enumerate(kept) if j not in failed_items]
        failed = read_failures + [{"path": str(manifest["path"].iloc[kept[j]]), "error": problem}
                                  for j, problem in failed_items.items()]
        if not predictions:
            raise SeraError(f"{source}: no utterance could be classified under {condition}")
        metrics = evaluate_predictions(manifest["emotion"].iloc[scored].tolist(),
                                       [p.label for p in predictions], labels=model.labels)
        curve[condition] = {key: metrics[key] for key in ("uar", "accuracy", "macro_f1", "n")}
        curve[condition]["failures"] = failed
    return curve


def crowd_members(speakers: Sequence, seed: int = 0,
                  available: Sequence[int] | None = None) -> dict[int, np.ndarray]:
    """Who talks in each utterance's babble: :func:`sera.augment.draw_crowd` for each, from one
    seeded generator (other speakers' utterances, ``CROWD_SIZE`` or fewer).

    Parameters
    ----------
    speakers : sequence
        The speaker of each utterance.
    seed : int
        Seeds the draws.
    available : sequence of int, optional
        The utterances that can be heard, in order (default: all); the others get no crowd
        and are in no one's.

    Returns
    -------
    dict
        ``{utterance index: indices of its crowd}``; an utterance of a corpus with no other
        speaker is left out.
    """
    speakers = np.asarray(speakers)
    pool = np.arange(len(speakers)) if available is None else np.asarray(available, dtype=int)
    rng = np.random.default_rng(seed)
    members = {}
    for i in pool:
        chosen = draw_crowd(rng, speakers, speakers[i], among=pool)
        if chosen.size:
            members[int(i)] = chosen
    return members


def _crowds(waves: dict[int, np.ndarray], speakers: np.ndarray, seed: int
            ) -> dict[int, np.ndarray]:
    """For each utterance, babble of its :func:`crowd_members` (none where the corpus has no
    other speaker: then the clip's own babble is used)."""
    return {i: crowd_of([waves[j] for j in chosen], waves[i].size, seed=seed + i)
            for i, chosen in crowd_members(speakers, seed, sorted(waves)).items()}


def robustness_figure(curves: dict[str, dict]):
    """UAR per condition, one line per named curve, chance level dashed.

    Parameters
    ----------
    curves : dict
        ``{series name: robustness_curve(...)}``, e.g. one per adaptation.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    conditions = list(dict.fromkeys(c for curve in curves.values() for c in curve))
    fig = Figure(figsize=(max(6.0, 0.7 * len(conditions)), 3.6))
    ax = fig.subplots()
    for name, curve in curves.items():
        ax.plot(range(len(conditions)),
                [curve[c]["uar"] if c in curve else np.nan for c in conditions],
                marker="o", label=name)
    ax.axhline(1 / 7, color="#94a3b8", linestyle="--", linewidth=1, label="chance (7 classes)")
    ax.set_xticks(range(len(conditions)), conditions, rotation=35, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("UAR")
    ax.grid(axis="y")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_robustness(curves: dict[str, dict], out_png: str | os.PathLike) -> str:
    """Write :func:`robustness_figure` as a PNG and return its path."""
    fig = robustness_figure(curves)
    fig.savefig(out_png, dpi=120)
    return str(out_png)


def _index(source: str) -> int:
    """The item index in predict_many's ``"<array i>"`` name of an array."""
    return int(source.removeprefix("<array ").removesuffix(">"))
