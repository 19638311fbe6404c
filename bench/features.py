"""Speed of the ``seed`` feature set against the straightforward librosa path, and scaling.

    .venv/bin/python bench/features.py /work/shared/data/ravdess16k [--workers 1 2]

Per file, both paths read 2.5 s from 0.6 s at 22,050 Hz and compute the seed's ZCR, RMS and
20 MFCCs over 108 frames:

- ``librosa``: ``librosa.load(path, offset=0.6, duration=2.5)`` then
  ``librosa.feature.zero_crossing_rate``, ``rms`` and ``mfcc`` with the seed's parameters;
- ``sera``: ``get_feature_set("seed").extract(path)`` (one STFT, sparse mel bank, same numbers).

Both run in this process on one core (BLAS and OpenMP limited to one thread), after a
warm-up, over every file, twice in alternation; the best pass of each counts, so a burst of
load from other programs does not decide the ratio. CPU time (``process_time``) is reported
beside wall time, as it depends less on what else runs. ``breakdown`` splits sera's time into
its steps on the first files; ``features_only`` times both paths on waveforms already decoded
and resampled (the part that differs: both read and resample alike, with soxr HQ).

Scaling runs :func:`sera.features.extract_features` with 1, 2, ... worker processes over all
files (no store, so nothing is cached). Its wall time includes starting the workers, which
``startup_s`` (the same call on 2 files per worker) estimates. On a machine whose cores are
busy with other work, more workers cannot get more CPU: read the load average with it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

WARM_UP_FILES = 20
PASSES = 2
BREAKDOWN_FILES = 200


def librosa_seed(path) -> list:
    """The seed's features the straightforward way."""
    import librosa

    y, sr = librosa.load(path, offset=0.6, duration=2.5)
    return [librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512),
            librosa.feature.rms(y=y, frame_length=2048, hop_length=512),
            librosa.feature.mfcc(y=y, sr=sr)]


def _ms_per_file(function, paths) -> tuple[float, float]:
    """Wall and CPU milliseconds per file."""
    wall, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        function(path)
    return (1e3 * (time.perf_counter() - wall) / len(paths),
            1e3 * (time.process_time() - cpu) / len(paths))


def librosa_seed_features(y) -> list:
    """The librosa path's three feature calls on a waveform already in memory."""
    import librosa

    return [librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512),
            librosa.feature.rms(y=y, frame_length=2048, hop_length=512),
            librosa.feature.mfcc(y=y, sr=22050)]


def breakdown(paths) -> dict:
    """Milliseconds per file in each step of sera's seed path."""
    from sera import audio
    from sera.features import descriptors as fd

    steps = {"decode": 0.0, "resample+pad": 0.0, "stft": 0.0, "zcr+rms": 0.0, "mel": 0.0,
             "db+dct": 0.0}
    for path in paths:
        t0 = time.perf_counter()
        native = audio.load(path, sr=None, offset=0.6, duration=2.5)
        t1 = time.perf_counter()
        y = audio.window(audio.resample(native, 16000, 22050), 22050, 0.0, 2.5, pad=True)
        t2 = time.perf_counter()
        power = fd.stft_power(y, 2048, 512)
        t3 = time.perf_counter()
        fd.zero_crossing_rate(y, 2048, 512)
        fd.rms(y, 2048, 512)
        t4 = time.perf_counter()
        mel = fd.mel_spectrogram(power, 22050)
        t5 = time.perf_counter()
        fd.mfcc(mel, 20)
        t6 = time.perf_counter()
        for step, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5),
                                 strict=True):
            steps[step] += seconds
    return {step: round(1e3 * total / len(paths), 3) for step, total in steps.items()}


def run(data_dir, workers=(1, 2)) -> dict:
    """Time both paths over every clip under ``data_dir``; return the figures."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from sera.corpora import scan
    from sera.features import extract_features, get_feature_set

    manifest = scan(data_dir).manifest
    paths = manifest["path"].tolist()
    seed = get_feature_set("seed")
    result = {"files": len(paths), "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    # The warm-up loads every library (and its BLAS) before the thread limit applies to them.
    for path in paths[:WARM_UP_FILES]:
        seed.extract(path)
        librosa_seed(path)
    with threadpool_limits(1):
        zcr, rms, mfcc = librosa_seed(paths[0])
        oracle = np.concatenate([zcr[0], rms[0], mfcc.T.ravel()])
        result["max_abs_diff_vs_librosa"] = float(np.abs(seed.extract(paths[0]) - oracle).max())
        timings = {"sera": [], "librosa": []}
        for _ in range(PASSES):
            timings["sera"].append(_ms_per_file(seed.extract, paths))
            timings["librosa"].append(_ms_per_file(librosa_seed, paths))
        for name, passes in timings.items():
            result[f"{name}_ms_per_file"] = round(min(wall for wall, _ in passes), 3)
            result[f"{name}_cpu_ms_per_file"] = round(min(cpu for _, cpu in passes), 3)
        result["passes_wall_cpu_ms"] = {name: [[round(v, 3) for v in p] for p in passes]
                                        for name, passes in timings.items()}
        result["speedup"] = round(result["librosa_ms_per_file"] / result["sera_ms_per_file"], 2)
        result["speedup_cpu"] = round(result["librosa_cpu_ms_per_file"]
                                      / result["sera_cpu_ms_per_file"], 2)
        result["breakdown_ms"] = breakdown(paths[:BREAKDOWN_FILES])
        waves = [seed.load(path) for path in paths[:BREAKDOWN_FILES]]
        for name, function in (("sera", seed.transform), ("librosa", librosa_seed_features)):
            wall, cpu = _ms_per_file(function, waves)
            result[f"{name}_features_only_cpu_ms"] = round(cpu, 3)
        result["speedup_features_only_cpu"] = round(result["librosa_features_only_cpu_ms"]
                                                    / result["sera_features_only_cpu_ms"], 2)

    scaling = {}
    for n in workers:
        start = time.perf_counter()
        extract_features(manifest.iloc[:2 * n], seed, workers=n)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        table = extract_features(manifest, seed, workers=n)
        wall = time.perf_counter() - start
        assert not table.failures, table.failures[:3]
        scaling[n] = {"wall_s": round(wall, 3), "ms_per_file": round(1e3 * wall / len(paths), 3),
                      "startup_s": round(startup, 3),
                      "files_per_s": round(len(paths) / wall, 1)}
    result["workers"] = scaling
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    result = run(args.data_dir, workers=tuple(args.workers))
    print(f"seed features over {result['files']} files, one core each, best of {PASSES}:")
    for name in ("librosa", "sera"):
        print(f"  {name:8s} {result[f'{name}_ms_per_file']:8.3f} ms/file wall, "
              f"{result[f'{name}_cpu_ms_per_file']:8.3f} ms/file CPU")
    print(f"  ratio    {result['speedup']:8.2f}x wall, {result['speedup_cpu']:8.2f}x CPU "
          f"(load average {result['load_average'][0]:.1f} on {result['cpu_count']} cores)")
    print(f"  features only (waveform in memory): librosa "
          f"{result['librosa_features_only_cpu_ms']:.3f}, sera "
          f"{result['sera_features_only_cpu_ms']:.3f} ms CPU per clip: "
          f"{result['speedup_features_only_cpu']:.2f}x")
    print(f"  sera steps (ms/file): {result['breakdown_ms']}")
    for n, row in result["workers"].items():
        print(f"  workers={n}: {row['wall_s']:.2f} s wall, {row['ms_per_file']:.3f} ms/file, "
              f"{row['files_per_s']} files/s (pool start-up ~{row['startup_s']:.2f} s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
