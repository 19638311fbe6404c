"""The benchmark suite: one table of what sera costs on this machine, and its JSON.

    .venv/bin/python -m bench /work/shared/data/ravdess16k [--out build/bench.json]
                     [--parts features dask segment infer train epochs server lean batch conditions]

Each part runs a module of ``bench/`` with a bounded size, so the whole suite takes well
under 10 minutes on 2 busy cores:

``features``
    :func:`bench.features.run`: the ``seed`` set by sera against the straightforward librosa
    path over every file (one core, best of 2 passes), and ``extract_features`` with 1 and 2
    worker processes.
``dask``
    The same ``seed`` extraction of every file by a local process pool of 2 workers and by a
    Dask LocalCluster of 2 worker processes, alternated, best of 2 passes each, checked to
    give identical rows.
``segment``
    :func:`bench.segment.run`: silero-vad segmentation of a conversation built from the clips.
``dialogue``
    :func:`bench.dialogue.run` on the 6 same-gender pairs of held-out actors, six mixes
    (balanced, mostly neutral with and without a noise floor, skewed, one mood beside a calm
    voice, one mood): turns covered, speaker attribution, UAR of every adaptation candidate
    and per true speaker, the nested selection, analyze with and without diarization in
    real-time multiples.
``infer``
    :func:`bench.infer.run`: ``predict`` latency and throughput, ``analyze`` real-time factor
    and peak memory, cold start, of the model (below).
``train``
    :func:`sera.train.train` of the default recipe on every file (``split="none"``): once
    with feature extraction, once more from the feature cache (the fit alone).
``epochs``
    :mod:`bench.train_speed`: seconds per epoch of the PyTorch models on random data of their
    input shapes.
``server``
    :func:`bench.load.run`: requests per second of ``sera serve`` with the model (below)
    under a short load run of concurrent clients.
``conditions``
    :func:`bench.robustness.run` with :data:`bench.robustness.BENCH_CONDITIONS`: the default
    recipe trained on RAVDESS actors 01-14, UAR of actors 15-18 under noise floors, babble of
    other actors, a room and phone lines (adapt speaker), and each change against clean.
``lean``
    :func:`bench.lean.run`: the base install's size (no torch) and each extra's, cold start of
    ``sera predict`` against the bare runtime import (same run), warm predict latency, and
    ``analyze`` of 10 minutes at the default settings, with the shipped default model. It
    runs without the data folder (on the synthetic corpus), as does ``batch``.
``batch``
    :func:`bench.batch.run`: ``sera analyze FOLDER --out DIR`` over 40 synthetic two-speaker
    calls of 1-2 minutes with 1 worker, 2 workers and ``--dask local``, and a rerun over the
    finished outputs: throughput, scaling, peak memory per worker, the cost of resuming, and
    that all runs write the same bytes (about 3 minutes).

The model of ``infer`` and ``server`` is the shipped default model when it is installed
(``make model``), else a bench bundle: logistic regression on the default recipe's feature
set, trained on every third clip of actors 01-10 (:func:`bench.infer.train_bundle`; the
timings depend on the feature set, hardly on the model's quality). The JSON says which.

A part whose module is missing is skipped with a note; a part that fails is reported and makes
the suite exit 1 after the others have run. Every figure depends on the machine and on what
else runs on it: the load average is recorded before and after each part.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

#: Sizes that keep the suite under 10 minutes on 2 busy cores.
SEGMENT_MINUTES = 5.0
ANALYZE_MINUTES = 5.0
FOLDER_CLIPS = 200
DASK_PASSES = 2
EPOCH_SAMPLES = 300
LEAN_MINUTES = 10.0
DIALOGUE_PAIRS = 6
LOAD_SECONDS = 10.0
LOAD_CLIENTS = 16
BATCH_CALLS = 40
BATCH_MINUTES = (1.0, 2.0)


@dataclass
class Row:
    """One figure of the table."""

    part: str
    figure: str
    value: float | str
    unit: str
    what: str


class Context:
    """What the parts share: the data, a scratch folder, and the model to time."""

    def __init__(self, data_dir: Path, scratch: Path):
        self.data_dir = data_dir
        self.scratch = scratch
        self._model: tuple[Path, str] | None = None

    def model(self) -> tuple[Path, str]:
        """``(bundle folder, what it is)``: the default model, or a bench bundle made once."""
        if self._model is None:
            from sera.infer import DEFAULT_MODEL
            from sera.recipes import DEFAULT_RECIPE

            if (DEFAULT_MODEL / "config.json").is_file():
                self._model = (DEFAULT_MODEL, "the shipped default model")
            else:
                features = DEFAULT_RECIPE.feature_set.name
                bundle = bench_module("infer").train_bundle(self.data_dir,
                                                            self.scratch / "bundle", features)
                self._model = (bundle, f"bench bundle: logreg on {features}, 1/3 of actors "
                                       f"01-10 (the default model is not built)")
        return self._model


class Skipped(Exception):
    """A part that cannot run here (its module is missing); the message says why."""


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_module(name: str):
    """``bench.<name>``, or :class:`Skipped` if that file does not exist."""
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as err:
        if err.name == f"bench.{name}":
            raise Skipped(f"bench/{name}.py does not exist yet") from None
        raise


def call(function, *args, **wanted):
    """``function(*args, **wanted)`` with only the keyword arguments it takes: the modules'
    sizes are bounded here, whichever of them a module's version offers."""
    accepted = inspect.signature(function).parameters
    return function(*args, **{k: v for k, v in wanted.items() if k in accepted})


# --- parts ------------------------------------------------------------------------------


def part_features(context: Context) -> tuple[dict, list[Row]]:
    result = call(bench_module("features").run, context.data_dir, workers=(1, 2))
    n = result["files"]
    rows = [
        Row("features", "sera seed", result["sera_ms_per_file"], "ms/file",
            f"get_feature_set('seed').extract(path): read 2.5 s at 22.05 kHz + ZCR, RMS, 20 MFCC;"
            f" {n} files, 1 core, wall, best of 2 passes"),
        Row("features", "librosa seed", result["librosa_ms_per_file"], "ms/file",
            "the same features by librosa.load + librosa.feature.zero_crossing_rate/rms/mfcc, "
            "same files, same run"),
        Row("features", "speed-up", result["speedup"], "x",
            f"librosa / sera wall time per file (CPU time: {result['speedup_cpu']}x; max "
            f"|difference| {result['max_abs_diff_vs_librosa']:.1e})"),
    ]
    for workers, figures in result["workers"].items():
        rows.append(Row("features", f"{workers} worker(s)", figures["ms_per_file"], "ms/file",
                        f"extract_features(all {n} files, 'seed', workers={workers}), wall "
                        f"incl. pool start-up (~{figures['startup_s']} s); "
                        f"{figures['files_per_s']} files/s"))
    return result, rows


def part_dask(context: Context) -> tuple[dict, list[Row]]:
    import numpy as np

    from sera.corpora import scan
    from sera.features import extract_features
    from sera.scale import LOCAL, client_for

    manifest = scan(context.data_dir).manifest
    n = len(manifest)
    result = {"files": n, "feature_set": "seed"}
    start = time.perf_counter()
    # The cluster `--dask local` starts, kept up for all the passes.
    with client_for(LOCAL) as client:
        client.wait_for_workers(2)
        result["cluster_start_s"] = round(time.perf_counter() - start, 2)
        address = client.scheduler.address
        # The first call pays the workers' imports (librosa, numba's cache).
        start = time.perf_counter()
        extract_features(manifest.iloc[:8], "seed", dask=address)
        result["first_call_8_files_s"] = round(time.perf_counter() - start, 2)
        # Alternated, best pass of each: a burst of load elsewhere does not decide the ratio.
        passes = {"pool": [], "dask": []}
        for _ in range(DASK_PASSES):
            start = time.perf_counter()
            pool = extract_features(manifest, "seed", workers=2)
            passes["pool"].append(round(time.perf_counter() - start, 2))
            start = time.perf_counter()
            on_dask = extract_features(manifest, "seed", dask=address)
            passes["dask"].append(round(time.perf_counter() - start, 2))
    result["passes_s"] = passes
    result.update({f"{name}_s": min(seconds) for name, seconds in passes.items()})
    result["identical_rows"] = bool(pool.frame.equals(on_dask.frame)
                                    and np.array_equal(pool.X, on_dask.X))
    assert not pool.failures and not on_dask.failures, (pool.failures, on_dask.failures)
    rows = [Row("dask", "LocalCluster start", result["cluster_start_s"], "s",
                "LocalCluster(n_workers=2, threads_per_worker=1, processes=True) until ready")]
    for name, label, note in (
            ("pool", "process pool, 2 workers",
             "extract_features(workers=2), wall incl. starting the pool"),
            ("dask", "Dask LocalCluster, 2 workers",
             "extract_features(dask=address): connect, workers read the files, results back, "
             "warm workers")):
        seconds = result[f"{name}_s"]
        result[f"{name}_ms_per_file"] = round(1e3 * seconds / n, 3)
        result[f"{name}_files_per_s"] = round(n / seconds, 1)
        rows.append(Row("dask", label, result[f"{name}_ms_per_file"], "ms/file",
                        f"{note}; {n} files, 'seed', best of {DASK_PASSES}; "
                        f"{result[f'{name}_files_per_s']} files/s"))
    rows.append(Row("dask", "same rows", str(result["identical_rows"]), "",
                    "Dask's feature table equals the process pool's, value for value"))
    return result, rows


def part_segment(context: Context) -> tuple[dict, list[Row]]:
    result = call(bench_module("segment").run, context.data_dir, minutes=SEGMENT_MINUTES)
    minutes = result["audio_s"] / 60
    rows = [
        Row("segment", "VAD segmentation, 16 kHz FLAC",
            result["flac_16k_mono"]["realtime_factor"], "x real time",
            f"segment_file on a {minutes:.1f} min conversation: audio s / wall s"),
        Row("segment", "VAD segmentation, 48 kHz stereo WAV",
            result["wav_48k_stereo"]["realtime_factor"], "x real time",
            "the same conversation as 48 kHz stereo: decode + downmix + resample + VAD"),
        Row("segment", "peak memory", result["peak_rss_mb"], "MB",
            f"max resident set of the process (Python allocations peak "
            f"{result['python_alloc_peak_mb']} MB)"),
    ]
    return result, rows


def part_dialogue(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("dialogue")
    result = call(module.run, context.data_dir, pairs=DIALOGUE_PAIRS)
    rows = []
    for kind in module.KINDS:
        figures = result[kind]
        what = (f"{figures['dialogues']} same-gender two-speaker dialogues of held-out RAVDESS "
                f"actors, {figures['turns']} turns, {figures['neutral_share']:.0%} neutral")
        rows += [
            Row("dialogue", f"{kind}: turns covered by one segment",
                figures["turns_covered_by_one_segment"], "share", what),
            Row("dialogue", f"{kind}: speaker attribution", figures["speaker_attribution"],
                "share", "turns whose segment has their speaker (best naming)"),
        ] + [Row("dialogue", f"{kind}: UAR, {mode}", uar, "UAR",
                 "normalised per true speaker (the ceiling)" if mode == "true speaker" else
                 f"adaptation candidate {mode!r}, same features")
             for mode, uar in figures["uar"].items()]
    for way, figures in result["selection"].items():
        if isinstance(figures, dict):
            judged = next(k for k in figures if k.startswith("meets_the_rule_on_"))
            rows.append(Row("dialogue", f"selection {way}: {figures['chosen']}",
                            int(figures[judged]), "meets rule",
                            f"{judged.replace('_', ' ')} (1 yes, 0 no)"))
    for name, figures in result["speed"].items():
        if isinstance(figures, dict) and "realtime_factor" in figures:
            rows.append(Row("dialogue", f"analyze {name}", figures["realtime_factor"],
                            "x real time", f"balanced dialogues, {result['speed']['audio_s']} s "
                                           f"of audio, warm, best of 2"))
    return result, rows


def part_infer(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("infer")
    bundle, model = context.model()
    result = call(module.run, context.data_dir, model_dir=bundle, minutes=ANALYZE_MINUTES,
                  folder_clips=FOLDER_CLIPS)
    result["model"] = model
    figures = result["given"]
    analyze, folder = figures["analyze"], figures["folder"]
    name = figures["features"]
    rows = [
        Row("infer", "predict latency", figures["predict_latency_ms"], "ms",
            f"model.predict(path) on one ~3 s clip, warm, median of 20; {model}"),
        Row("infer", "predict, 1 process", folder["workers_1_clips_per_s"], "clips/s",
            f"model.predict_many over {folder['clips']} clips, workers=1 ({name} features)"),
        Row("infer", "predict, 2 workers", folder["workers_2_clips_per_s"], "clips/s",
            f"model.predict_many over {folder['clips']} clips, workers=2 (pool start included)"),
        Row("infer", "analyze", analyze["realtime_factor_recording"], "x real time",
            f"model.analyze of a {result['audio_s'] / 60:.1f} min conversation "
            f"({analyze['segments']} segments), adapt='recording': audio s / wall s"),
        Row("infer", "analyze peak memory", round(analyze["peak_rss_mb"]), "MB",
            f"max resident set of the analyzing process (after loading the model: "
            f"{round(analyze['rss_after_load_mb'])} MB)"),
        Row("infer", "cold start", figures["cold_start_s"], "s",
            "`sera predict --model DIR clip --json` as a new process, median of 3"),
    ]
    return result, rows


def part_train(context: Context) -> tuple[dict, list[Row]]:
    from sera.recipes import DEFAULT_RECIPE
    from sera.train import train

    recipe = DEFAULT_RECIPE
    result = {"recipe": recipe.to_config(), "workers": 2}
    with tempfile.TemporaryDirectory() as cache:
        for run in ("with_features", "from_cache"):
            start = time.perf_counter()
            trained = train(context.data_dir, recipe, split="none", cache_dir=cache, workers=2)
            result[f"{run}_s"] = round(time.perf_counter() - start, 2)
    result["utterances"] = trained.training["utterances"]
    what = (f"sera.train.train(data, DEFAULT_RECIPE = {recipe.model} on {recipe.feature_set.name}, "
            f"adapt={recipe.adapt}, split='none'), {result['utterances']} training utterances")
    rows = [Row("train", "default recipe", result["with_features_s"], "s",
                f"{what}; feature extraction with 2 workers included"),
            Row("train", "default recipe, features cached", result["from_cache_s"], "s",
                "the same, features read from the Parquet cache: the fit alone")]
    return result, rows


def part_epochs(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("train_speed")
    result, rows = {"samples": EPOCH_SAMPLES}, []
    for name, (_, shape) in module.MODELS.items():
        seconds = round(module.seconds_per_epoch(name, EPOCH_SAMPLES, 1), 2)
        result[name] = seconds
        rows.append(Row("epochs", name, seconds, "s/epoch",
                        f"one epoch of {EPOCH_SAMPLES} random samples of shape "
                        f"{'x'.join(map(str, shape))} (+ validation on a tenth), PyTorch CPU"))
    return result, rows


def part_server(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("load")
    bundle, model = context.model()
    result = call(module.run, context.data_dir, model_dir=bundle, seconds=LOAD_SECONDS,
                  clients=LOAD_CLIENTS)
    result["model"] = model
    concurrent, sequential = result["concurrent"], result["sequential"]
    rows = [
        Row("server", "requests, concurrent", concurrent["requests_per_s"], "req/s",
            f"POST /v1/predict (3 s WAV) from {concurrent['clients']} concurrent clients for "
            f"{concurrent['seconds']} s, answered 200; p50 {concurrent['p50_ms']} ms, p99 "
            f"{concurrent['p99_ms']} ms, errors {concurrent['errors'] or 'none'}"),
        Row("server", "requests, one at a time", sequential["requests_per_s"], "req/s",
            f"{sequential['requests']} POSTs in sequence, p50 {sequential['p50_ms']} ms"),
        Row("server", "server peak memory", result["server_peak_rss_mb"], "MB",
            f"peak resident set of the sera serve process (started: "
            f"{result['server_rss_started_mb']} MB); {model}"),
    ]
    return result, rows


def part_lean(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("lean")
    data = context.data_dir if context.data_dir.is_dir() else None
    result = call(module.run, data, minutes=LEAN_MINUTES)
    install, cold = result["install"], result["cold_start"]
    latency, analyzed = result["predict_latency"], result["analyze"]
    load = "load average {}".format
    rows = [
        Row("lean", "base install", install["base_mb"], "MB",
            f"pip install . without extras: {len(install['base_distributions'])} "
            f"distributions, torch: {'yes' if install['base_has_torch'] else 'no'}"),
        *(Row("lean", f"[{extra}] adds", install[f"{extra}_adds_mb"], "MB",
              ", ".join(install[f"{extra}_adds"][:6]) + (" ..." if len(
                  install[f"{extra}_adds"]) > 6 else ""))
          for extra in module.EXTRAS),
        Row("lean", "cold predict", cold["predict_s"], "s",
            f"python -m sera predict clip --json, new process, median of {cold['repeats']}; "
            f"{load(cold['load_average'][0])}"),
        Row("lean", "bare runtime import", cold["bare_import_s"], "s",
            f"{module.BARE_IMPORT}, alternated with the above"),
        Row("lean", "cold predict / bare import", cold["ratio"], "x", "goal <= 1.6"),
        Row("lean", "warm predict", latency["median_ms"], "ms",
            f"model.predict(path), {latency['clip_s']} s clip, median of "
            f"{latency['repeats']} (goal <= 15); {load(latency['load_average'][0])}"),
        Row("lean", "analyze", analyzed["realtime_factor"], "x real time",
            f"default model and adapt, {analyzed['duration_s'] / 60:.1f} min of "
            f"{result['clips']} with pauses, {analyzed['segments']} segments (goal >= 200); "
            f"{load(analyzed['load_average'][0])}"),
        Row("lean", "analyze, CPU-bound", analyzed["cpu_bound_realtime_factor"], "x real time",
            f"audio s / (CPU s {analyzed['cpu_s']} / {analyzed['cpus']} CPUs): the factor "
            f"with the CPUs to itself"),
    ]
    return result, rows


def part_conditions(context: Context) -> tuple[dict, list[Row]]:
    module = bench_module("robustness")
    result = call(module.run, context.data_dir, conditions=module.BENCH_CONDITIONS,
                  adapts=("speaker",), out=context.scratch / "conditions",
                  cache=context.scratch / "conditions-cache")
    curve = result["curves"]["adapt speaker"]
    clean = curve["clean"]["uar"]
    what = (f"the default recipe trained on RAVDESS actors 01-14, held-out actors 15-18 "
            f"({result['test_utterances']} clips) under each condition, adapt speaker")
    rows = [Row("conditions", f"UAR {name}", round(figures["uar"], 3), "UAR",
                what if name == "clean" else f"change against clean: "
                                             f"{figures['uar'] - clean:+.3f}")
            for name, figures in curve.items()]
    rows.append(Row("conditions", "train", result["train_seconds"], "s",
                    "extraction (with the recipe's augmented copies) and fit"))
    summary = {k: v for k, v in result.items() if k not in ("model", "test_rows", "curves")}
    return {**summary, "curve": {c: f["uar"] for c, f in curve.items()}}, rows


def part_batch(context: Context) -> tuple[dict, list[Row]]:
    result = call(bench_module("batch").run, calls=BATCH_CALLS, minutes=BATCH_MINUTES)
    runs = result["runs"]
    what = (f"sera analyze FOLDER --out DIR, {result['calls']} synthetic two-speaker calls of "
            f"{result['minutes'][0]:g}-{result['minutes'][1]:g} min ({result['audio_h']} h), "
            f"default model; wall of the whole command")
    rows = [Row("batch", f"{name}", runs[name]["x_real_time"], "x real time",
                f"{what}, {options}; {runs[name]['wall_s']} s, CPU {runs[name]['cpu_s']} s, "
                f"peak {runs[name]['peak_rss_per_worker_mb']} MB per worker, load average "
                f"{runs[name]['load_average'][0]}")
            for name, options in (("1 worker", "--workers 1"), ("2 workers", "--workers 2"),
                                  ("dask local", "--dask local (LocalCluster start included)"))]
    rows += [
        Row("batch", "scaling efficiency", result["scaling_efficiency"], "share",
            f"(1-worker time / 2-worker time) / 2; speed-up {result['speedup_2_workers']}x "
            f"(goal >= 1.8x)"),
        Row("batch", "cores available", result["cores_available_before"], "cores",
            f"CPU s / wall s of two busy processes before the runs "
            f"({result['cores_available_after']} after): the ceiling of the speed-up then"),
        Row("batch", "dask local vs pool", result["dask_vs_pool"], "share",
            "wall of --dask local / wall of --workers 2 - 1 (goal within 0.15)"),
        Row("batch", "rerun over finished outputs", result["rerun_share"], "share",
            f"{runs['rerun']['wall_s']} s / the first 2-worker run (goal < 0.05): start, hash "
            f"every file, read every JSON back, write the tables"),
        Row("batch", "identical outputs", str(result["identical_outputs"]
                                              and result["rerun_left_outputs_unchanged"]), "",
            "every file of the 1-worker, 2-worker and Dask runs byte for byte; the rerun "
            "changed none"),
    ]
    return result, rows


PARTS = {"features": part_features, "dask": part_dask, "segment": part_segment,
         "dialogue": part_dialogue,
         "infer": part_infer, "train": part_train, "epochs": part_epochs,
         "server": part_server, "lean": part_lean, "batch": part_batch,
         "conditions": part_conditions}


#: Parts that run without the data folder.
DATA_FREE_PARTS = ("lean", "batch")


# --- the suite --------------------------------------------------------------------------


def run_suite(data_dir: Path, parts: list[str]) -> dict:
    from sera.features.executors import cpu_count

    report = {"data_dir": str(data_dir), "cpus": cpu_count(),
              "load_average_start": load_average(), "parts": {}, "rows": []}
    suite_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        context = Context(data_dir, Path(scratch))
        for name in parts:
            entry, rows = run_part(name, context)
            report["parts"][name] = entry
            report["rows"] += [asdict(row) for row in rows]
            print(f"bench: {name} {entry['status']} in {entry['seconds']} s "
                  f"(load average {entry['load_average_after'][0]})", flush=True)
    report["total_s"] = round(time.perf_counter() - suite_start, 1)
    report["load_average_end"] = load_average()
    return report


def run_part(name: str, context: Context) -> tuple[dict, list[Row]]:
    """Run one part; its figures, or the note of why it was skipped or failed."""
    entry = {"load_average_before": load_average()}
    start = time.perf_counter()
    try:
        result, rows = PARTS[name](context)
        entry.update(status="ok", result=result)
    except Skipped as skip:
        entry.update(status="skipped", note=str(skip))
        rows = [Row(name, "skipped", "-", "", str(skip))]
    # A failing part must not hide the others; the bench modules exit with SystemExit.
    except (Exception, SystemExit) as err:
        traceback.print_exc()
        entry.update(status="failed", note=f"{type(err).__name__}: {err}")
        rows = [Row(name, "FAILED", "-", "", f"{type(err).__name__}: {err}"[:200])]
    entry["seconds"] = round(time.perf_counter() - start, 1)
    entry["load_average_after"] = load_average()
    return entry, rows


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"sera bench: {report['cpus']} CPUs, load average "
                        f"{report['load_average_start'][0]} at start, "
                        f"{report['load_average_end'][0]} at end; {report['total_s']} s",
                  show_lines=False)
    for column, justify in (("part", "left"), ("figure", "left"), ("value", "right"),
                            ("unit", "left"), ("what it measured", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in report["rows"]:
        # escape: "[serve] adds" is text, not rich markup.
        table.add_row(*(escape(str(row[key])) for key in ("part", "figure", "value", "unit",
                                                          "what")))
    Console(width=160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="RAVDESS 16 kHz folder (Actor_*/*.flac)")
    parser.add_argument("--out", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    args = parser.parse_args()
    parts = args.parts
    if not args.data_dir.is_dir():
        parts = [part for part in parts if part in DATA_FREE_PARTS]
        print(f"bench: {args.data_dir} is not a folder: running only {', '.join(parts)} "
              f"(on the synthetic corpus)")
    report = run_suite(args.data_dir, parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(report)
    print(f"bench: figures in {args.out}")
    if any(part["status"] == "failed" for part in report["parts"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
