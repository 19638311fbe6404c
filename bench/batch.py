"""Many recordings: ``sera analyze PATH --out DIR`` with 1 worker, 2 workers, Dask, and a rerun.

    PYTHONPATH=src python -m bench.batch [--calls 40] [--minutes 1 2] [--passes 1]
                                         [--out build/batch.json]

(``make bench`` runs it with its defaults; the issue's full size is ``--calls 200 --minutes 1
3``.) ``--calls`` synthetic two-speaker calls (:func:`sera.corpora.synth.dialogue`, two new
voices per call, lengths drawn uniformly from ``--minutes``) are written as 16 kHz 16-bit WAV,
then the shipped default model analyzes the folder four times, each as a new ``sera``
process, as a user would run it:

``1 worker``
    ``--workers 1``: this process, one feature thread.
``2 workers``
    ``--workers 2``: a process pool, the model loaded once per worker.
``dask local``
    ``--dask local``: a LocalCluster of 2 single-threaded worker processes, started by the
    command (its start-up is in the figure).
``rerun``
    ``--workers 2`` again over the finished outputs of ``2 workers``: the cost of resuming.

Each figure is the wall time of the whole command (start-up, model load, pool or cluster,
hashing, writing). Throughput is hours of audio per hour of wall time, which is also the
multiple of real time; scaling efficiency is ``(t1 / t2) / 2``. Peak memory is the largest
resident set of the analysing processes (the command itself with 1 worker; its worker
processes otherwise), sampled every 0.1 s with psutil, as is the CPU time of the command and
its children (up to the last sample). CPU time and the load average are recorded beside each
run, and before and after the runs the cores that two busy processes get together: on a shared
machine a busy neighbour shows there, and that figure caps any speed-up measured then. The outputs
of the three first runs must be identical, byte for byte, and the rerun must leave them unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CALLS = 40
MINUTES = (1.0, 2.0)
SAMPLE_S = 0.1


def write_calls(folder: Path, calls: int, minutes: tuple[float, float], seed: int) -> float:
    """Write the calls; the seconds of audio in all."""
    import soundfile as sf

    from sera.corpora.synth import dialogue

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    total = 0.0
    for i in range(calls):
        audio, _ = dialogue(60 * rng.uniform(*minutes), seed=seed * calls + i)
        sf.write(folder / f"call{i:04d}.wav", audio, SAMPLE_RATE, subtype="PCM_16")
        total += audio.shape[0] / SAMPLE_RATE
    return total


def _children(process) -> list:
    import psutil

    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def timed_command(arguments: list[str]) -> dict:
    """Run ``sera ARGUMENTS`` as a new process: wall and CPU seconds, peak memory."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "sera", *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    main = psutil.Process(process.pid)
    peaks: dict[int, float] = {}
    # Per process, the CPU seconds last seen: pool workers are children of the forkserver,
    # which nobody waits for, so getrusage(RUSAGE_CHILDREN) would miss them.
    cpu: dict[int, float] = {}
    while process.poll() is None:
        for member in [main, *_children(main)]:
            try:
                rss, times = member.memory_info().rss / 2 ** 20, member.cpu_times()
            except psutil.Error:    # it ended between listing and reading it
                continue
            peaks[member.pid] = max(peaks.get(member.pid, 0.0), rss)
            cpu[member.pid] = times.user + times.system
        time.sleep(SAMPLE_S)
    stderr = process.stderr.read()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"sera {' '.join(arguments)} failed:\n{stderr[-2000:]}")
    others = [mb for pid, mb in peaks.items() if pid != main.pid]
    return {"wall_s": round(wall, 2), "cpu_s": round(sum(cpu.values()), 2),
            "command_peak_rss_mb": round(peaks.get(main.pid, 0.0)),
            "children_peak_rss_mb": round(max(others)) if others else None,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "stderr_tail": stderr.strip().splitlines()[-1:]}


#: A process that spins for a given number of seconds and prints the CPU seconds it got.
SPIN = ("import sys, time\nstart = time.perf_counter()\n"
        "while time.perf_counter() - start < float(sys.argv[1]):\n    pass\n"
        "print(time.process_time())")


def cores_available(processes: int = 2, seconds: float = 3.0) -> float:
    """How many cores ``processes`` busy processes got together (CPU s / wall s): the
    parallelism the machine offered at the time, the ceiling of any speed-up measured then."""
    spinning = [subprocess.Popen([sys.executable, "-c", SPIN, str(seconds)],
                                 stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    return round(sum(float(p.communicate()[0]) for p in spinning) / seconds, 2)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def run(calls: int = CALLS, minutes: tuple[float, float] = MINUTES, seed: int = 0,
        passes: int = 1) -> dict:
    """Write the calls, run the commands (the first three ``passes`` times, alternated, best
    pass of each: a burst of load elsewhere then hits every setting), return the figures."""
    import shutil

    from sera.features.executors import cpu_count

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        start = time.perf_counter()
        audio_s = write_calls(scratch / "calls", calls, minutes, seed)
        result = {"calls": calls, "minutes": list(minutes), "audio_h": round(audio_s / 3600, 3),
                  "write_calls_s": round(time.perf_counter() - start, 1), "cpus": cpu_count(),
                  "passes": passes, "model": "the shipped default model", "runs": {}}
        settings = {"1 worker": (["--workers", "1"], "one", 1),
                    "2 workers": (["--workers", "2"], "two", 2),
                    "dask local": (["--dask", "local"], "dask", 2)}
        timed: dict[str, dict] = result["runs"]
        trees = {}
        result["cores_available_before"] = cores_available()
        for _ in range(passes):
            for name, (options, out, workers) in settings.items():
                shutil.rmtree(scratch / out, ignore_errors=True)
                figures = analyze_folder(scratch, out, options, audio_s, workers)
                if name not in timed or figures["wall_s"] < timed[name]["wall_s"]:
                    timed[name] = figures
                trees[name] = tree(scratch / out)
        result["cores_available_after"] = cores_available()
        # Over the finished outputs of the last 2-worker pass.
        timed["rerun"] = analyze_folder(scratch, "two", ["--workers", "2"], audio_s, 2)
        trees["rerun"] = tree(scratch / "two")
        t1, t2 = timed["1 worker"]["wall_s"], timed["2 workers"]["wall_s"]
        result.update(
            speedup_2_workers=round(t1 / t2, 2),
            scaling_efficiency=round(t1 / t2 / 2, 3),
            dask_vs_pool=round(timed["dask local"]["wall_s"] / t2 - 1, 3),
            rerun_share=round(timed["rerun"]["wall_s"] / t2, 3),
            identical_outputs=trees["1 worker"] == trees["2 workers"] == trees["dask local"],
            rerun_left_outputs_unchanged=trees["rerun"] == trees["2 workers"])
    return result


def analyze_folder(scratch: Path, out: str, options: list[str], audio_s: float,
                   workers: int) -> dict:
    """``sera analyze scratch/calls --out scratch/out OPTIONS``, timed."""
    figures = timed_command(["analyze", str(scratch / "calls"), "--out", str(scratch / out),
                             *options])
    figures["x_real_time"] = round(audio_s / figures["wall_s"], 1)
    # Audio per CPU second: the throughput the run would have with its cores to itself.
    figures["audio_s_per_cpu_s"] = round(audio_s / figures["cpu_s"], 1)
    figures["peak_rss_per_worker_mb"] = (figures["command_peak_rss_mb"] if workers == 1
                                         else figures["children_peak_rss_mb"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--minutes", type=float, nargs=2, default=MINUTES,
                        metavar=("SHORTEST", "LONGEST"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=1,
                        help="runs of each setting, alternated; the best is kept")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.calls, tuple(args.minutes), args.seed, args.passes)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
