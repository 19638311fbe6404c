"""The work of a batch: analysing each recording here, on a pool of worker processes, or on a
Dask cluster, each recording one task."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sera.batch.resume import model_fingerprint
from sera.errors import (
    BundleError,
    SeraError,
)
from sera.results import Analysis
from sera.segment import SegmenterParams

#: Recordings handed to each worker at a time: one running, one waiting, so a worker never
#: idles while this process writes the last one's files.
TASKS_PER_WORKER = 2


@dataclass(frozen=True)
class AnalyzeOptions:
    """The options of :meth:`sera.infer.Model.analyze` that every recording of a batch gets."""

    params: SegmenterParams = field(default_factory=SegmenterParams)
    adapt: str = "speaker"
    num_speakers: int | None = None
    #: A deployment's classes (:meth:`sera.infer.Model.with_labels`); ``None``: every label.
    labels: tuple[str, ...] | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def to_key(self) -> dict:
        """What of the options the outputs depend on, JSON-serialisable (options left at
        their defaults are left out, so earlier runs' keys still match)."""
        key = {"segmenter": asdict(self.params), "adapt": self.adapt, "speakers": self.num_speakers}
        optional = {"labels": None if self.labels is None else list(self.labels),
                    "min_speakers": self.min_speakers, "max_speakers": self.max_speakers}
        return {**key, **{name: value for name, value in optional.items() if value is not None}}


def analyze_one(model, path: str, options: AnalyzeOptions) -> Analysis | str:
    """``model.analyze(path, ...)``, or the one-line problem it had: a batch goes on."""
    if options.labels is not None:
        # Worker processes load the bundle afresh: the restriction travels in the options.
        model = model.with_labels(options.labels)
    try:
        return model.analyze(path, params=options.params, adapt=options.adapt,
                             num_speakers=options.num_speakers, min_speakers=options.min_speakers,
                             max_speakers=options.max_speakers)
    except SeraError as err:
        return getattr(err, "problem", str(err))
    except Exception as err:  # noqa: BLE001  (whatever a bad file makes a library raise)
        lines = str(err).strip().splitlines()
        return f"{type(err).__name__}: {lines[0] if lines else 'failed'}"


def analyze_all(model, todo: list[tuple[int, str]], options: AnalyzeOptions, workers: int,
             dask: str | None) -> Iterator[tuple[int, Analysis | str]]:
    """``(index, Analysis or problem)`` of each ``(index, path)``, in completion order.

    One worker runs here with one feature thread, as each pool or Dask worker does; a single
    recording runs here with the model's own feature threads (one per CPU by default).
    """
    if not todo:
        return
    if dask is not None:
        yield from _on_dask(model, todo, options, dask)
    elif len(todo) == 1 and workers > 1:
        yield todo[0][0], analyze_one(model, todo[0][1], options)
    elif workers <= 1:
        single = model if model.threads == 1 else type(model)(model.bundle, threads=1)
        for index, path in todo:
            yield index, analyze_one(single, path, options)
    else:
        yield from _on_pool(model, todo, options, workers)


#: The model and options of a pool worker process, set once by :func:`_start_worker`.
_WORKER: tuple | None = None


def _start_worker(bundle: str, options: AnalyzeOptions) -> None:
    from threadpoolctl import threadpool_limits

    from sera.infer import load

    global _WORKER
    # One BLAS/OpenMP thread per worker: the pool already uses the cores it is given.
    threadpool_limits(1)
    _WORKER = (load(bundle, threads=1), options)


def _analyze_in_worker(item: tuple[int, str]) -> tuple[int, Analysis | str]:
    model, options = _WORKER
    index, path = item
    return index, analyze_one(model, path, options)


def _on_pool(model, todo, options: AnalyzeOptions, workers: int):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from sera.features.executors import pool_context

    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                               mp_context=pool_context(["sera.batch", "sera.infer"]),
                               initializer=_start_worker, initargs=(str(model.path), options))
    pending = iter(todo)
    running = {pool.submit(_analyze_in_worker, item)
               for item in itertools.islice(pending, TASKS_PER_WORKER * workers)}
    try:
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                following = next(pending, None)
                if following is not None:
                    running.add(pool.submit(_analyze_in_worker, following))
                yield future.result()
    except BrokenProcessPool:
        raise SeraError("an analyze worker process died (out of memory, or a crash in a "
                        "native library?); finished recordings are kept: rerun to go on, "
                        "with --workers 1 to find the recording") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(model, todo, options: AnalyzeOptions, address: str):
    # Imported here: Dask is only loaded when asked for.
    from sera.features.executors import DASK_TASKS_PER_THREAD
    from sera.infer import DEFAULT_MODEL
    from sera.scale import client_for, map_unordered, parallelism

    # The default model is the worker's own installed copy (its path differs between
    # installs); any other bundle must be at the same path on every worker.
    bundle = None if Path(model.path).resolve() == DEFAULT_MODEL else str(model.path)
    with client_for(address) as client:
        threads = parallelism(client)
        yield from map_unordered(client, _analyze_on_dask_worker, todo, bundle,
                                 model_fingerprint(model.config), options,
                                 in_flight=DASK_TASKS_PER_THREAD * threads)


#: Models loaded by a Dask worker process, by (bundle path, fingerprint), shared by its threads.
_DASK_MODELS: dict[tuple, object] = {}
_DASK_LOCK = threading.Lock()


def _analyze_on_dask_worker(bundle: str | None, fingerprint: str, options: AnalyzeOptions,
                            item: tuple[int, str]) -> tuple[int, Analysis | str]:
    """The task a Dask worker runs: it analyses one recording with the client's model, loaded
    once per worker process.

    Raises
    ------
    BundleError
        The worker's copy of the model differs from the client's (another sera or bundle):
        its results would not be the client's.
    """
    from sera.infer import load

    with _DASK_LOCK:
        model = _DASK_MODELS.get((bundle, fingerprint))
        if model is None:
            model = load(bundle, threads=1)
            if model_fingerprint(model.config) != fingerprint:
                raise BundleError(f"{model.path}: this Dask worker's model is not the "
                                  f"client's (install the same sera and bundle on every worker)")
            _DASK_MODELS[(bundle, fingerprint)] = model
    index, path = item
    return index, analyze_one(model, path, options)
