"""Speed and memory of inference: analyze a long recording, predict one clip and a folder.

    .venv/bin/python -m bench.infer /work/shared/data/ravdess16k [--model DIR]
                                    [--sets stats egemaps]

With no ``--model``, a small bundle is trained per feature set in ``--sets`` (logistic
regression on about 200 RAVDESS clips of actors 01-10: the model's size and quality do not
change the timings much; the feature set does). For each bundle:

- ``analyze``: real-time factor (audio seconds / wall seconds) of :meth:`sera.infer.Model.analyze`
  on a conversation of at least ``--minutes`` built from the RAVDESS clips and gaps of silence or
  noise (:func:`bench.segment.build_conversation`, 16 kHz FLAC), with ``adapt="recording"`` and
  ``"none"``, in a fresh process after a warm-up; ``segment_only`` is the VAD's part. Peak memory
  is that process's maximum resident set (``ru_maxrss``), beside its size after loading the model.
- ``predict_latency_ms``: ``model.predict(path)`` on one clip of about 3 s, warm, median of 20.
- ``folder``: ``model.predict_many`` over ``--folder-clips`` files, in this process
  (``workers=1``) and with worker processes (``workers=2``), clips per second.
- ``pool_crossover``: seconds for lists of 8 to 64 files, in process and with two workers; where
  the pool starts to win sets :data:`sera.infer.POOL_MIN_FILES`.
- ``cold_start_s``: wall time of ``sera predict --model DIR clip.flac --json`` as a new process
  (median of 3), imports and model loading included.

Figures depend on the machine and on what else runs on it: ``load_average`` and ``cpus`` are
reported with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

from bench.segment import build_conversation
from sera.features.executors import cpu_count

#: The ``sera`` command with the inference commands registered, as a new process.
SERA = [sys.executable, "-c", "import sera.cli.infer; from sera.cli import main; main()"]

TRAIN_ACTORS = range(1, 11)


def train_bundle(data_dir: Path, out: Path, feature_set: str) -> Path:
    """Logistic regression on the ``feature_set`` features of every third clip of actors 01-10."""
    import numpy as np

    from sera.adapt import Normalizer
    from sera.bundle import save_bundle
    from sera.cards import make_card
    from sera.corpora import scan
    from sera.features import extract_features
    from sera.labels import LABELS
    from sera.metrics import evaluate_predictions
    from sera.models import get_model_spec

    manifest = scan(data_dir).manifest
    manifest = manifest[manifest["speaker"].isin([f"ravdess-{a:02d}" for a in TRAIN_ACTORS])]
    table = extract_features(manifest.iloc[::3].reset_index(drop=True), feature_set,
                             workers=2)
    y = np.array([LABELS.index(e) for e in table.frame["emotion"]])
    normalizer = Normalizer.fit(table.X)
    model = get_model_spec("logreg").build().fit(normalizer.transform(table.X), y)
    metrics = evaluate_predictions(y, model.predict(normalizer.transform(table.X)))
    training = {"corpora": ["ravdess"], "utterances": len(y), "actors": "01-10"}
    save_bundle(out, model=model, model_name="logreg",
                feature_config=table.feature_set.to_config(), sample_rate=16000,
                normalization={"mean": normalizer.mean, "std": normalizer.std, "adapt": "none"},
                training=training, metrics=metrics,
                card=make_card(model_name="logreg", features=feature_set, training=training,
                               metrics=metrics, evaluation="training clips (bench model)",
                               data_licence="CC BY-NC-SA 4.0"))
    return out


def time_analyze(bundle: Path, path: Path, warm_up: Path) -> dict:
    """Analyze the long file in a fresh process; wall times and peak memory."""
    code = textwrap.dedent(f"""
        import json, resource, time
        import sera
        from sera.segment import segment_file
        model = sera.load({str(bundle)!r})
        model.analyze({str(warm_up)!r})
        rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = {{}}
        start = time.perf_counter()
        utterances = sum(1 for _ in segment_file({str(path)!r}))
        figures["segment_only_s"] = time.perf_counter() - start
        for adapt in ("recording", "none"):
            start = time.perf_counter()
            segments = model.analyze({str(path)!r}, adapt=adapt)
            figures[f"analyze_{{adapt}}_s"] = time.perf_counter() - start
        figures.update(utterances=utterances, segments=len(segments),
                       rss_after_load_mb=rss_loaded,
                       peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(figures))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def clip_near(clips: list[Path], seconds: float) -> Path:
    """The clip whose duration is closest to ``seconds``."""
    import soundfile as sf

    return min(clips[:200], key=lambda clip: abs(sf.info(clip).duration - seconds))


def predict_times(model, clip: Path, repeats: int = 20) -> list[float]:
    """Seconds of each of ``repeats`` warm ``model.predict(clip)`` calls (after three)."""
    for _ in range(3):
        model.predict(clip)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(clip)
        times.append(time.perf_counter() - start)
    return times


def predict_latency_ms(model, clip: Path, repeats: int = 20) -> float:
    return round(1000 * statistics.median(predict_times(model, clip, repeats)), 1)


@contextmanager
def pool_for_any_list():
    """Let ``workers > 1`` start worker processes whatever the list's length."""
    import sera.infer

    threshold, sera.infer.POOL_MIN_FILES = sera.infer.POOL_MIN_FILES, 0
    try:
        yield
    finally:
        sera.infer.POOL_MIN_FILES = threshold


def folder_throughput(model, clips: list[Path]) -> dict:
    figures = {"clips": len(clips)}
    with pool_for_any_list():
        for workers in (1, 2):
            start = time.perf_counter()
            predictions, failures = model.predict_many(clips, workers=workers)
            seconds = time.perf_counter() - start
            assert not failures and len(predictions) == len(clips)
            figures[f"workers_{workers}_clips_per_s"] = round(len(clips) / seconds, 1)
    return figures


def pool_crossover(model, clips: list[Path], sizes=(8, 16, 32, 64, 128)) -> dict:
    figures = {}
    with pool_for_any_list():
        for size in sizes:
            row = {}
            for workers in (1, 2):
                start = time.perf_counter()
                model.predict_many(clips[:size], workers=workers)
                row[f"workers_{workers}_s"] = round(time.perf_counter() - start, 2)
            figures[str(size)] = row
    return figures


def cold_start_s(bundle: Path, clip: Path, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([*SERA, "predict", "--model", str(bundle), str(clip), "--json"],
                       capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 2)


def measure(bundle: Path, long_file: Path, audio_s: float, clips: list[Path],
            folder_clips: int) -> dict:
    import sera

    model = sera.load(bundle)
    clip = clip_near(clips, 3.0)
    analyzed = time_analyze(bundle, long_file, warm_up=clip)
    figures = {
        "features": model.feature_set.name,
        "analyze": {
            "realtime_factor_recording": round(audio_s / analyzed["analyze_recording_s"], 1),
            "realtime_factor_none": round(audio_s / analyzed["analyze_none_s"], 1),
            "realtime_factor_segment_only": round(audio_s / analyzed["segment_only_s"], 1),
            **{key: round(value, 2) for key, value in analyzed.items()},
        },
        "predict_latency_ms": predict_latency_ms(model, clip),
        "folder": folder_throughput(model, clips[:folder_clips]),
        "pool_crossover": pool_crossover(model, clips),
        "cold_start_s": cold_start_s(bundle, clip),
    }
    return figures


def run(data_dir: str | Path, model_dir: str | Path | None = None, minutes: float = 10.0,
        sets: tuple[str, ...] = ("stats", "egemaps"), folder_clips: int = 300) -> dict:
    """Build the long file (and bundles), measure each bundle; return the figures."""
    data_dir = Path(data_dir)
    clips = sorted(data_dir.glob("Actor_1[1-8]/*.flac"))   # speakers the bench models never heard
    with tempfile.TemporaryDirectory() as tmp:
        built = build_conversation(data_dir, Path(tmp) / "long.flac", minutes)
        bundles = ({"given": Path(model_dir)} if model_dir is not None else
                   {name: train_bundle(data_dir, Path(tmp) / f"bundle-{name}", name)
                    for name in sets})
        result = {"audio_s": round(built["seconds"], 1), "cpus": cpu_count(),
                  "load_average_before": [round(x, 1) for x in os.getloadavg()]}
        for name, bundle in bundles.items():
            result[name] = measure(bundle, built["narrow"], built["seconds"], clips,
                                   folder_clips)
        result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="RAVDESS 16 kHz folder (Actor_*/*.flac)")
    parser.add_argument("--model", help="a bundle to measure instead of training per set")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sets", nargs="+", default=["stats", "egemaps"])
    parser.add_argument("--folder-clips", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.model, args.minutes, tuple(args.sets),
                         args.folder_clips), indent=2))


if __name__ == "__main__":
    main()
