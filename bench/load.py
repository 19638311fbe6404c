"""Serving under load: many clients posting 3 s clips to ``sera serve`` over loopback.

    .venv/bin/python -m bench.load /work/shared/data/ravdess16k [--model DIR] [--seconds 60]
        [--clients 64] [--workers N] [--queue Q] [--clips 64] [--stalled 32]

The server is ``sera serve`` in its own process on a free loopback port (nothing else is
reached). Measured, in this order:

- ``sequential``: each clip posted once, one request at a time (warm server): requests/s and
  median latency. The serving overhead shows against ``batch``.
- ``concurrent``: ``--clients`` concurrent clients (one httpx AsyncClient, a connection each)
  post the clips round-robin for ``--seconds``: requests/s (answered 200), p50/p99 latency of
  every answer, and every other answer or failed request by status (``errors``; 503 counts).
- ``concurrent_with_stalled`` (with ``--stalled N``): the same again while N more connections
  each send a request's headers and 100 bytes of its body, then nothing; each one the server
  cuts off (408, after its body timeout) is opened again at once, so N stay open throughout.
  ``stalled_cut_off`` counts the 408s. Normal requests must go on being answered.
- ``server_peak_rss_mb``: the server process's peak resident memory (``VmHWM``) over the whole
  run, beside its size once started (``server_rss_started_mb``).
- ``batch``: the same clips as files, classified by ``Model.predict_many`` in this process
  after the server has stopped (what ``sera predict`` does for a list): clips/s.

The clients run on the same machine as the server and take their share of its CPUs; the
figures depend on what else runs on it (``load_average`` and ``cpus`` are reported with them).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sera.features.executors import cpu_count

#: The ``sera`` command with ``serve`` registered, as a new process.
SERA = [sys.executable, "-c", "import sera.cli.serve; from sera.cli import main; main()"]

CLIP_SECONDS = 3.0


def make_clips(data_dir: Path, count: int) -> list[bytes]:
    """``count`` RAVDESS clips spread over actors and emotions, each cut or padded to exactly
    3 s, as 16 kHz 16-bit WAV files in memory."""
    import soundfile as sf

    from sera.audio import load

    files = sorted(Path(data_dir).rglob("*.flac"))
    if len(files) < count:
        raise SystemExit(f"{data_dir}: {len(files)} FLAC files, {count} clips wanted")
    clips = []
    for path in files[:: len(files) // count][:count]:
        out = io.BytesIO()
        sf.write(out, load(path, duration=CLIP_SECONDS, pad=True), 16000, format="WAV",
                 subtype="PCM_16")
        clips.append(out.getvalue())
    return clips


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int, field: str) -> float:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for process {pid}")


def start_server(model_dir: Path | None, port: int, workers: int | None, queue: int,
                 log: Path) -> subprocess.Popen:
    """``sera serve`` on loopback, once it answers ``/v1/health``."""
    import httpx

    # No access log: a line per request would cost the server CPU time.
    command = [*SERA, "serve", "--host", "127.0.0.1", "--port", str(port), "--queue", str(queue),
               "--no-access-log"]
    if model_dir is not None:
        command += ["--model", str(model_dir)]
    if workers is not None:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"sera serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("sera serve did not answer within 180 s")


def post_sequentially(url: str, clips: list[bytes]) -> dict:
    import httpx

    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        start = time.perf_counter()
        for data in clips:
            sent = time.perf_counter()
            response = client.post("/v1/predict", files={"file": ("clip.wav", data)})
            response.raise_for_status()
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - start
    return {"requests": len(clips), "requests_per_s": round(len(clips) / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1)}


async def post_concurrently(url: str, clips: list[bytes], clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    ok = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def one_client(index: int) -> None:
            nonlocal ok
            turn = index
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.post(
                        "/v1/predict", files={"file": ("clip.wav", clips[turn % len(clips)])})
                    status = str(response.status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                latencies.append(time.perf_counter() - sent)
                if status == "200":
                    ok += 1
                else:
                    errors[status] = errors.get(status, 0) + 1
                turn += clients

        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - start
    quantiles = statistics.quantiles(latencies, n=100)
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "ok": ok, "requests_per_s": round(ok / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * quantiles[98], 1), "errors": errors}


async def hold_stalled(url: str, count: int, until: float) -> int:
    """Keep ``count`` stalled uploads open until ``until`` (``time.perf_counter``); the number
    of times the server cut one off with a 408."""
    host, port = url.removeprefix("http://").split(":")
    head = (b"POST /v1/predict HTTP/1.1\r\nHost: sera\r\nContent-Type: audio/wav\r\n"
            b"Content-Length: 100000\r\n\r\nRIFF" + bytes(96))
    cut_off = 0

    async def one() -> None:
        nonlocal cut_off
        while time.perf_counter() < until:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(head)
            await writer.drain()
            try:
                reply = await asyncio.wait_for(reader.read(64), until - time.perf_counter())
                cut_off += reply.startswith(b"HTTP/1.1 408")
            except TimeoutError:
                pass
            writer.close()

    await asyncio.gather(*(one() for _ in range(count)))
    return cut_off


async def post_with_stalled(url: str, clips: list[bytes], clients: int, seconds: float,
                            stalled: int) -> dict:
    until = time.perf_counter() + seconds + 2
    holding = asyncio.create_task(hold_stalled(url, stalled, until))
    await asyncio.sleep(1.0)  # let the stalled connections open first
    measured = await post_concurrently(url, clips, clients, seconds)
    return {**measured, "stalled": stalled, "stalled_cut_off": await holding}


def classify_as_batch(model_dir: Path | None, clips: list[bytes]) -> dict:
    """The clips as files through ``Model.predict_many``, warm."""
    import sera

    model = sera.load(model_dir)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, data in enumerate(clips):
            path = Path(folder) / f"clip{index:03d}.wav"
            path.write_bytes(data)
            paths.append(str(path))
        model.predict(paths[0])  # warm-up: numba's compilation, onnxruntime's first run
        start = time.perf_counter()
        predictions, failures = model.predict_many(paths)
        elapsed = time.perf_counter() - start
    assert not failures, failures
    return {"clips": len(predictions), "clips_per_s": round(len(predictions) / elapsed, 1)}


def run(data_dir: str | os.PathLike, model_dir: str | os.PathLike | None = None,
        seconds: float = 60.0, clients: int = 64, workers: int | None = None,
        queue: int = 64, clips: int = 64, stalled: int = 0) -> dict:
    """Start ``sera serve``, load it, and measure (see the module notes).

    Returns
    -------
    dict
        ``sequential``, ``concurrent``, ``batch``, the server's memory, and the machine.
    """
    model_dir = None if model_dir is None else Path(model_dir)
    audio = make_clips(Path(data_dir), clips)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "serve.log"
        server = start_server(model_dir, port, workers, queue, log)
        try:
            started_mb = memory_mb(server.pid, "VmRSS")
            sequential = post_sequentially(url, audio)
            concurrent = asyncio.run(post_concurrently(url, audio, clients, seconds))
            with_stalled = (asyncio.run(post_with_stalled(url, audio, clients, seconds, stalled))
                            if stalled else None)
            import httpx

            health = httpx.get(f"{url}/v1/health", timeout=10).json()
            peak_mb = memory_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "clip_seconds": CLIP_SECONDS, "clips": clips,
        "server": {"workers": health["workers"], "queue": health["queue"],
                   "model": health["model"]},
        "sequential": sequential, "concurrent": concurrent,
        **({"concurrent_with_stalled": with_stalled} if with_stalled else {}),
        "batch": classify_as_batch(model_dir, audio),
        "server_rss_started_mb": round(started_mb), "server_peak_rss_mb": round(peak_mb),
        "cpus": cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="RAVDESS folder (e.g. /work/shared/data/ravdess16k)")
    parser.add_argument("--model", help="Model bundle directory (default: the shipped model)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="How long the concurrent clients post (default 60)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, help="Inference threads of the server "
                                                     "(default: one per CPU core)")
    parser.add_argument("--queue", type=int, default=64)
    parser.add_argument("--clips", type=int, default=64, help="Distinct clips posted")
    parser.add_argument("--stalled", type=int, default=0,
                        help="Also measure with this many stalled uploads open (e.g. 32)")
    args = parser.parse_args()
    print(json.dumps(run(args.data, args.model, seconds=args.seconds, clients=args.clients,
                         workers=args.workers, queue=args.queue, clips=args.clips,
                         stalled=args.stalled), indent=2))


if __name__ == "__main__":
    main()
