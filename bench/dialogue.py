"""Two-speaker dialogues from held-out speakers: turns, speakers and emotions, and the speed.

    PYTHONPATH=src python bench/dialogue.py ../shared/data/ravdess16k [--out build/dialogue.json]
                                            [--pairs N]

(``make bench`` runs it on the first 5 pairs; feature stores and embeddings are cached under
``$SERA_BENCH_CACHE``, default ``build/cache``.)

A model is trained with the shipped default model's recipe on RAVDESS actors 01-12 only, and
the speaker space (:class:`sera.speaker.diarize.SpeakerSpace`) is fitted on the same actors and
nEMO's; the dialogues are built from actors 13-18 (three men, three women), every pair of them,
so no voice in a dialogue was heard in training. A dialogue alternates the two speakers' clips, each cut to
its speech by the VAD, with pauses of digital silence drawn from 0.3-1.2 s (a -60 dBFS white
noise floor under the whole dialogue, tried first, took the emotion model's UAR on these
speakers' clips from 0.70 to 0.57: a robustness matter of the model, kept out of this bench):

``balanced``
    each speaker voices every emotion twice (neutral, angry, disgust, fear, happy, sad,
    surprise; 14 turns each);
``skewed``
    each speaker voices neutral and two other emotions (4 turns each), as in a call with an
    angry customer and a calm agent;
``one emotion``
    each speaker voices one emotion throughout (6 turns), a different one for each.

It reports, per kind: the share of turns covered by exactly one segment (the segment that
overlaps a turn most belongs to it, and no other segment has most of its span in it), speaker
attribution (turns whose segment has the turn's speaker, under the best one-to-one mapping of
S1, S2 to the true speakers), and UAR over turns (a turn takes the label of the segment that
overlaps it most; a turn no segment overlaps counts as wrong) for ``analyze`` with its defaults,
with ``adapt="none"``, and with the same utterances normalised per *true* speaker (the ceiling of
per-speaker adaptation). Then the real-time factor of ``analyze`` with and without diarization
on the balanced dialogues, in this process, after a warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
TRAIN_ACTORS = range(1, 13)
TEST_ACTORS = range(13, 19)
PAUSE_SECONDS = (0.3, 1.2)
EMOTIONS = ("neutral", "angry", "disgust", "fear", "happy", "sad", "surprise")
KINDS = ("balanced", "skewed", "one emotion")
#: Feature stores and clip embeddings kept between runs.
CACHE = Path(os.environ.get("SERA_BENCH_CACHE", "build/cache"))


def speech_of(path: str) -> np.ndarray:
    """A clip cut to its speech: from the VAD's first utterance to its last."""
    from sera.audio import load
    from sera.segment import segment

    y = load(path, SAMPLE_RATE)
    utterances = segment(y, SAMPLE_RATE)
    if not utterances:
        return y
    return y[int(utterances[0].start * SAMPLE_RATE):int(utterances[-1].end * SAMPLE_RATE)]


def make_dialogue(turns: list[dict], rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Concatenate the turns' speech with random pauses.

    Parameters
    ----------
    turns : list of dict
        ``{"path", "speaker", "emotion"}`` in speaking order.
    rng : np.random.Generator

    Returns
    -------
    audio : np.ndarray
        16 kHz float32.
    truth : list of dict
        The turns with their ``start`` and ``end`` (s).
    """
    pieces, truth, t = [], [], 0.0
    for turn in turns:
        pause = np.zeros(int(rng.uniform(*PAUSE_SECONDS) * SAMPLE_RATE), np.float32)
        speech = speech_of(turn["path"])
        pieces += [pause, speech]
        t += pause.shape[0] / SAMPLE_RATE
        truth.append({**turn, "start": t, "end": t + speech.shape[0] / SAMPLE_RATE})
        t += speech.shape[0] / SAMPLE_RATE
    pieces.append(np.zeros(int(PAUSE_SECONDS[1] * SAMPLE_RATE), np.float32))
    return np.concatenate(pieces), truth


def plan(manifest, a: str, b: str, kind: str, rng: np.random.Generator) -> list[dict]:
    """The turns of one dialogue between speakers ``a`` and ``b``, alternating."""
    def clips(speaker, emotion, n):
        rows = manifest[(manifest["speaker"] == speaker) & (manifest["emotion"] == emotion)]
        picked = rng.choice(len(rows), n, replace=False)
        return [{"path": rows["path"].iloc[i], "speaker": speaker, "emotion": emotion}
                for i in picked]

    others = [e for e in EMOTIONS if e != "neutral"]
    sides = []
    for speaker in (a, b):
        if kind == "balanced":
            side = [c for e in EMOTIONS for c in clips(speaker, e, 2)]
        elif kind == "skewed":
            chosen = rng.choice(others, 2, replace=False)
            side = [c for e in ("neutral", *chosen) for c in clips(speaker, e, 4)]
        else:
            side = clips(speaker, others[len(sides) * 3 + int(rng.integers(3))], 6)
        sides.append([side[i] for i in rng.permutation(len(side))])
    return [turn for pair in zip(*sides, strict=True) for turn in pair]


def score(truth: list[dict], segments: list) -> dict:
    """Turn coverage, the segment that labels each turn, and the speaker mapping."""
    def overlap(s, t):
        return max(0.0, min(s.end, t["end"]) - max(s.start, t["start"]))

    owner = [int(np.argmax([overlap(s, t) for t in truth])) if truth else -1 for s in segments]
    covered, labels, found = 0, [], []
    for i, turn in enumerate(truth):
        mine = [j for j, o in enumerate(owner) if o == i and overlap(segments[j], turn) > 0]
        overlaps = [overlap(s, turn) for s in segments]
        best = int(np.argmax(overlaps)) if segments and max(overlaps) > 0 else None
        covered += len(mine) == 1 and best == mine[0]
        labels.append(None if best is None else segments[best].label)
        found.append(None if best is None else segments[best].speaker)
    true_speakers = sorted({t["speaker"] for t in truth})
    names = sorted({f for f in found if f is not None})
    attribution = 0.0
    for perm in itertools.permutations(names, min(len(names), len(true_speakers))):
        mapping = dict(zip(perm, true_speakers, strict=False))
        hits = sum(mapping.get(f) == t["speaker"] for f, t in zip(found, truth, strict=True))
        attribution = max(attribution, hits / len(truth))
    return {"covered": covered, "turns": len(truth), "labels": labels,
            "attribution": attribution, "speakers_found": len(names)}


def per_true_speaker(model, path: Path, truth: list[dict]) -> list[str | None]:
    """Each turn's label when the utterances are normalised by their true speaker's statistics."""
    from sera.conversation import segment_of
    from sera.segment import segment_file

    utterances = list(segment_file(path))
    if not utterances:
        return [None] * len(truth)
    speaker = [max(truth, key=lambda t: min(u.end, t["end"]) - max(u.start, t["start"]))
               ["speaker"] for u in utterances]
    X = np.stack([model.utterance_features(u) for u in utterances])
    proba = model.predict_proba(X, adapt="speaker", groups=speaker)
    segments = [segment_of(u, p, model.labels) for u, p in zip(utterances, proba, strict=True)]
    return score(truth, segments)["labels"]


def heldout_space(data_dir: Path):
    """The speaker space fitted on RAVDESS actors 01-12 and the nEMO actors beside them (when
    present), with the build script's embedding cache."""
    import runpy

    import pandas as pd

    from sera.speaker.diarize import SpeakerSpace

    build = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts"
                               / "build_speaker_encoder.py"))
    corpora = [build["speakers_of"](data_dir)]
    if (data_dir.parent / "nemo16k" / "data.tsv").is_file():
        corpora.append(build["speakers_of"](data_dir.parent / "nemo16k"))
    manifest = pd.concat(corpora, ignore_index=True)
    manifest = manifest[~manifest["speaker"].isin([f"ravdess-{a:02d}" for a in TEST_ACTORS])]
    embeddings = build["corpus_embeddings"](manifest, CACHE / "ge2e-embeddings.npz")
    return SpeakerSpace.fit(embeddings, manifest["speaker"])


def heldout_model(data_dir: Path, out: Path):
    """The default model's recipe trained on actors 01-12 only."""
    import sera
    from sera.corpora import scan
    from sera.train import Recipe, train

    recipe = dict(sera.load().config["training"]["recipe"])
    recipe["augment"] = tuple(recipe.get("augment") or ())
    manifest = scan(data_dir).manifest
    train_rows = manifest[manifest["speaker"].isin([f"ravdess-{a:02d}" for a in TRAIN_ACTORS])]
    CACHE.mkdir(parents=True, exist_ok=True)
    train(train_rows.reset_index(drop=True), Recipe(**recipe), split="none", out=out,
          cache_dir=CACHE, workers=2, progress=False)
    return sera.load(out), recipe, manifest


def uar(truth: list[str], predicted: list[str | None]) -> float:
    recalls = [np.mean([p == t for p, t in zip(predicted, truth, strict=True) if t == label])
               for label in sorted(set(truth))]
    return float(np.mean(recalls))


def run(data_dir: str | Path, seed: int = 0, pairs: int | None = None) -> dict:
    """Build the dialogues, analyze them three ways, time analyze; return the figures."""
    data_dir = Path(data_dir)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, recipe, manifest = heldout_model(data_dir, tmp / "model")
        # Diarization compares voices in a space fitted without the dialogue speakers.
        from sera.speaker import diarize

        space = heldout_space(data_dir)
        diarize.default_space = lambda: space
        speakers = [f"ravdess-{a:02d}" for a in TEST_ACTORS]
        chosen = list(itertools.combinations(speakers, 2))[:pairs]
        result = {"model": {"recipe": recipe, "trained_on": "RAVDESS actors 01-12"},
                  "test_speakers": speakers, "pairs": len(chosen)}
        files = {kind: [] for kind in KINDS}
        for kind in KINDS:
            for n, (a, b) in enumerate(chosen):
                audio, truth = make_dialogue(plan(manifest, a, b, kind, rng), rng)
                path = tmp / f"{kind.replace(' ', '_')}_{n}.flac"
                sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
                files[kind].append((path, truth, audio.shape[0] / SAMPLE_RATE))
        for kind in KINDS:
            emotions, by_mode = [], {"defaults": [], "none": [], "true speaker": []}
            covered = turns = 0
            attribution, found = [], []
            for path, truth, _ in files[kind]:
                emotions += [t["emotion"] for t in truth]
                scored = score(truth, model.analyze(path))
                covered += scored["covered"]
                turns += scored["turns"]
                attribution.append(scored["attribution"])
                found.append(scored["speakers_found"])
                by_mode["defaults"] += scored["labels"]
                by_mode["none"] += score(truth, model.analyze(path, adapt="none"))["labels"]
                by_mode["true speaker"] += per_true_speaker(model, path, truth)
            result[kind] = {
                "dialogues": len(files[kind]), "turns": turns,
                "audio_s": round(sum(d for *_, d in files[kind]), 1),
                "turns_covered_by_one_segment": round(covered / turns, 4),
                "speaker_attribution": round(float(np.mean(attribution)), 4),
                "speakers_found": {str(k): found.count(k) for k in sorted(set(found))},
                "uar": {mode: round(uar(emotions, labels), 4)
                        for mode, labels in by_mode.items()},
                "adaptation": model.config["normalization"].get("mode"),
            }
        result["speed"] = time_analyze(model, [p for p, *_ in files["balanced"]],
                                       sum(d for *_, d in files["balanced"]))
    return result


def time_analyze(model, paths: list[Path], audio_s: float) -> dict:
    """Wall time of ``analyze`` over the files, with and without diarization, warm, passes
    alternated (so a change of load hits both), best of 2 each."""
    model.analyze(paths[0])
    variants = {"with diarization": None, "without diarization": 1}
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(2):
        for name, speakers in variants.items():
            start = time.perf_counter()
            for path in paths:
                model.analyze(path, speakers=speakers)
            best[name] = min(best[name], time.perf_counter() - start)
    figures = {"audio_s": round(audio_s, 1), "load_average": list(os.getloadavg())}
    for name, wall in best.items():
        figures[name] = {"wall_s": round(wall, 2), "realtime_factor": round(audio_s / wall)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="RAVDESS 16 kHz folder (Actor_*/*.flac)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--pairs", type=int, help="the first N pairs of speakers only")
    args = parser.parse_args()
    result = run(args.data_dir, pairs=args.pairs)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
