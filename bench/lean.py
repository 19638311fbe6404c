"""Lean inference: install sizes, cold start, warm predict latency, analyze real-time factor.

    .venv/bin/python -m bench.lean [/work/shared/data/ravdess16k] [--minutes 10] [--repeats 5]

All with the shipped default model at its default settings:

- ``install``: the size of the base install and of each extra, summed over the files that the
  installed distributions of its dependency closure list in their ``RECORD`` (so it measures
  what this venv holds, without a network; ``du`` of a fresh ``pip install .`` venv agrees
  within pip's own few MB), and the top-level packages of the base install.
- ``cold start``: wall time of ``python -m sera predict clip.wav --json`` as a new process,
  against the bare import of the runtime it needs (``import numpy, onnxruntime, soundfile,
  soxr, opensmile``) in a new process, alternated in the same run; medians of ``--repeats``.
- ``predict latency``: ``model.predict(path)`` of a clip of about 3 s, warm, median of 30.
- ``analyze``: :meth:`sera.infer.Model.analyze` (adapt="recording") of a conversation of
  ``--minutes`` built from clips and pauses of 0.5-2 s of silence or noise
  (:func:`bench.segment.build_conversation`), in a fresh process after a warm-up: wall time and
  the process's CPU time (all threads), so that a busy machine's figure can be told apart from
  sera's own cost: ``cpu_bound_realtime_factor`` is audio seconds / (CPU seconds / CPUs), the
  factor with every CPU to itself.

The clips are RAVDESS (actors 11-18) where the data folder is given, else the built-in
synthetic corpus (:mod:`sera.corpora.synth`). The load average is recorded with each figure.
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
from importlib import metadata
from pathlib import Path

from bench.infer import predict_times
from bench.segment import build_conversation

#: The runtime ``sera predict`` needs, imported bare: the reference of the cold start.
BARE_IMPORT = "import numpy, onnxruntime, soundfile, soxr, opensmile"

#: The extras measured, besides the base install.
EXTRAS = ("serve", "train", "scale", "hf", "listen")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_count() -> int:
    from sera.features.executors import cpu_count

    return cpu_count()


# --- install sizes --------------------------------------------------------------------------

def sera_requirements() -> list[str]:
    """sera's own requirements, from this checkout's ``pyproject.toml`` (an installed copy's
    metadata may be older), as ``name; extra == "x"`` strings like a distribution's."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib
    except ImportError:      # Python 3.10: the installed metadata
        return metadata.distribution("sera").requires or []
    project = tomllib.loads(pyproject.read_text())["project"]
    return [*project["dependencies"],
            *(f'{text}; extra == "{extra}"'
              for extra, texts in project["optional-dependencies"].items() for text in texts)]


def closure(extras: tuple[str, ...] = ()) -> dict[str, metadata.Distribution]:
    """The installed distributions sera needs with ``extras`` (sera itself left out), by
    normalised name."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    todo = [("sera", tuple(extras))]
    while todo:
        name, wanted = todo.pop()
        key = name.lower().replace("_", "-")
        if key in found and not wanted:
            continue
        if name == "sera":
            dist, requires = None, sera_requirements()
        else:
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
            found[key], requires = dist, dist.requires or []
        for text in requires:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env)
                                                 for env in environments):
                if requirement.name.lower().replace("_", "-") not in found:
                    todo.append((requirement.name, tuple(requirement.extras)))
    return found


def size_mb(distributions) -> float:
    """Megabytes of the files the distributions installed (their ``RECORD``)."""
    total = 0
    for dist in distributions:
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    return round(total / 2**20, 1)


def install_sizes() -> dict:
    base = closure()
    sizes = {"base_mb": size_mb(base.values()),
             "base_distributions": sorted(base),
             "base_has_torch": any(name in base for name in ("torch", "triton"))
             or any(name.startswith("nvidia") for name in base)}
    for extra in EXTRAS:
        added = {name: dist for name, dist in closure((extra,)).items() if name not in base}
        sizes[f"{extra}_adds_mb"] = size_mb(added.values())
        sizes[f"{extra}_adds"] = sorted(added)
    largest = sorted(base.values(), key=lambda dist: -size_mb([dist]))[:8]
    sizes["base_largest_mb"] = {dist.metadata["Name"]: size_mb([dist]) for dist in largest}
    return sizes


# --- clips and the long recording -----------------------------------------------------------

def clips_for(data_dir: Path | None, scratch: Path) -> list[Path]:
    """RAVDESS clips of actors 11-18, or the synthetic corpus written to ``scratch``."""
    if data_dir is not None and data_dir.is_dir():
        clips = sorted(data_dir.glob("Actor_1[1-8]/*.flac"))
        if clips:
            return clips
    from sera.corpora.synth import synthesize

    manifest = synthesize(scratch / "synthetic", num_speakers=4, per_emotion=4)
    return [Path(path) for path in manifest["path"]]


def clip_near(clips: list[Path], seconds: float) -> Path:
    import soundfile as sf

    return min(clips[:200], key=lambda clip: abs(sf.info(clip).duration - seconds))


# --- timings ---------------------------------------------------------------------------------

def wall_s(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start


def cold_start(clip: Path, repeats: int) -> dict:
    predict = [sys.executable, "-m", "sera", "predict", str(clip), "--json"]
    bare = [sys.executable, "-c", BARE_IMPORT]
    wall_s(predict)      # the first run fills the page cache for both
    wall_s(bare)
    times: dict[str, list[float]] = {"predict": [], "bare": []}
    for _ in range(repeats):
        times["predict"].append(wall_s(predict))
        times["bare"].append(wall_s(bare))
    predict_s, bare_s = statistics.median(times["predict"]), statistics.median(times["bare"])
    return {"predict_s": round(predict_s, 3), "bare_import_s": round(bare_s, 3),
            "ratio": round(predict_s / bare_s, 2), "repeats": repeats,
            "load_average": load_average()}


def predict_latency(clip: Path, repeats: int = 30) -> dict:
    import soundfile as sf

    import sera

    times = predict_times(sera.load(), clip, repeats)
    return {"median_ms": round(1000 * statistics.median(times), 1),
            "p90_ms": round(1000 * sorted(times)[int(0.9 * len(times))], 1),
            "clip_s": round(sf.info(clip).duration, 2), "repeats": repeats,
            "load_average": load_average()}


def analyze(long_file: Path, warm_up: Path) -> dict:
    """Analyze the long file in a fresh process: wall and CPU seconds, and the VAD's part."""
    code = textwrap.dedent(f"""
        import json, resource, time
        import sera
        from sera.segment import segment_file

        def cpu():
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime

        model = sera.load()
        model.analyze({str(warm_up)!r})
        start, cpu0 = time.perf_counter(), cpu()
        analysis = model.analyze({str(long_file)!r})
        wall, used = time.perf_counter() - start, cpu() - cpu0
        start, cpu0 = time.perf_counter(), cpu()
        utterances = sum(1 for _ in segment_file({str(long_file)!r}))
        print(json.dumps({{"wall_s": wall, "cpu_s": used, "duration_s": analysis.duration,
                          "segments": len(analysis), "adapt": analysis.adapt,
                          "segment_only_wall_s": time.perf_counter() - start,
                          "segment_only_cpu_s": cpu() - cpu0}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    audio, cpus = figures["duration_s"], cpu_count()
    return {**{key: round(value, 2) if isinstance(value, float) else value
               for key, value in figures.items()},
            "realtime_factor": round(audio / figures["wall_s"], 1),
            "cpu_bound_realtime_factor": round(audio / (figures["cpu_s"] / cpus), 1),
            "cpus": cpus, "load_average": load_average()}


def run(data_dir: str | Path | None = None, minutes: float = 10.0, repeats: int = 5) -> dict:
    data_dir = Path(data_dir) if data_dir is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        clips = clips_for(data_dir, scratch)
        source = "RAVDESS actors 11-18" if clips[0].suffix == ".flac" else "synthetic corpus"
        clip = clip_near(clips, 3.0)
        built = build_conversation(None, scratch / "long.flac", minutes, clips=clips)
        result = {"clips": source, "cpus": cpu_count(), "load_average_start": load_average(),
                  "install": install_sizes(),
                  "cold_start": cold_start(clip, repeats),
                  "predict_latency": predict_latency(clip),
                  "analyze": analyze(built["narrow"], warm_up=clip)}
    result["load_average_end"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", help="RAVDESS 16 kHz folder (else: synthetic)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.minutes, args.repeats), indent=2))


if __name__ == "__main__":
    main()
