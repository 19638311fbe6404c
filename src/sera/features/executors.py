"""Where features are computed: this process, a local process pool, or a Dask cluster.

The three executors share one interface (:func:`compute`): work items ``(row, path, kinds)``,
the feature set and an optional augmenter in; ``(row, vectors or problem)`` out, in completion
order. The Parquet store (:mod:`sera.features.store`) caches and writes what they give, and
:meth:`sera.infer.Model.predict_many` uses them directly for long lists of files, so inference
needs neither pandas nor pyarrow.

BLAS and OpenMP are limited to one thread once per worker process (the pool already uses the
cores it is given, and one utterance's matrices are small); this process's own limits are
never changed.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import numpy as np

from sera import audio
from sera.errors import AudioError, FeatureError, problem_of
from sera.features.registry import get_feature_set
from sera.features.sets import FeatureSet

#: The ``augment`` value of an original (not augmented) utterance.
ORIGINAL = "none"

#: Most files in one task handed to a worker process (amortises inter-process overhead).
TASK_FILES = 8

#: Tasks submitted to a Dask cluster at a time, per worker thread: enough to keep every
#: thread busy while results travel back, few enough to bound what is pending.
DASK_TASKS_PER_THREAD = 4


def cpu_count() -> int:
    """CPUs this process may use: ``os.process_cpu_count()`` (Python 3.13+, honours the
    affinity mask on every system), else ``os.cpu_count()``; at least 1.

    Called only when a pool is made.
    """
    counter = getattr(os, "process_cpu_count", None) or os.cpu_count
    return max(1, counter() or 1)


class Augmentation(Protocol):
    """What :func:`extract_features` needs of an augmenter (e.g. :class:`sera.augment.Augmenter`).

    ``augment(y, sr, kind, key)`` must be deterministic in ``(kind, key)``; the key passed is
    the file's path. Kinds named in an optional ``channel_kinds`` attribute are recording
    conditions, applied to the decoded file before the feature set's own trimming or window;
    the others are applied to the prepared waveform. A JSON-serialisable ``params`` attribute,
    when present, identifies the settings so cached augmented rows can be reused; without it
    they are always recomputed.
    """

    kinds: tuple[str, ...]

    def augment(self, y: np.ndarray, sr: int, kind: str, key: str) -> np.ndarray: ...


class _Extractor:
    """Loads a file once and computes the features of it and of its augmented copies."""

    def __init__(self, feature_set: FeatureSet, augment: Augmentation | None):
        self.feature_set = feature_set
        self.augment = augment

    def __call__(self, batch: list[tuple[int, str, tuple[str, ...]]]
                 ) -> list[tuple[int, list[np.ndarray] | str]]:
        """``(row, vectors in kind order)`` per file, or ``(row, problem)`` if it failed."""
        return [(i, self._guarded(path, kinds)) for i, path, kinds in batch]

    def _guarded(self, path: str, kinds: tuple[str, ...]) -> list[np.ndarray] | str:
        # A batch goes on past any bad file: whatever a file makes a library raise becomes
        # that file's one-line problem.
        try:
            return self.extract(path, kinds)
        except Exception as err:  # noqa: BLE001
            return problem_of(err)

    def extract(self, path: str, kinds: tuple[str, ...]) -> list[np.ndarray]:
        """Flattened float32 features of ``path`` for each kind (``"none"``: the original)."""
        fs = self.feature_set
        prepared = fs.load(path)
        channels = set(getattr(self.augment, "channel_kinds", ()))
        decoded = audio.load(path, sr=fs.sample_rate) if channels & set(kinds) else None
        vectors = []
        for kind in kinds:
            if kind == ORIGINAL:
                wave = prepared
            elif kind in channels:
                # A recording heard through another channel is augmented as decoded, before
                # the set's trimming or window, as such a file is at run time (a floor under
                # the leading and trailing pauses changes what trimming keeps).
                wave = fs.prepare(self.augment.augment(decoded, fs.sample_rate, kind, path))
            else:
                # The seed's kinds work on the analysed window, as the seed's code did.
                wave = self.augment.augment(prepared, fs.sample_rate, kind, path)
            x = np.asarray(fs.transform(wave), dtype=np.float32).reshape(-1)
            if not np.isfinite(x).all():
                copy = "" if kind == ORIGINAL else f" of the {kind} copy"
                raise AudioError(path, f"{int((~np.isfinite(x)).sum())} features{copy} "
                                       f"are NaN or infinite")
            vectors.append(x)
        return vectors


#: The extractor of a worker process, built once by :func:`_start_worker`.
_WORKER: _Extractor | None = None


def _start_worker(config: dict, augment: Augmentation | None) -> None:
    from threadpoolctl import threadpool_limits

    global _WORKER
    # One BLAS/OpenMP thread per worker process, set once: the pool already uses the cores
    # it is given.
    threadpool_limits(1)
    _WORKER = _Extractor(get_feature_set(config), augment)


def _run_in_worker(batch):
    return _WORKER(batch)


def _run_on_dask_worker(config: dict, augment: Augmentation | None, batch):
    """The task a Dask worker runs: it reads the batch's files and returns their features.

    Building the set from its configuration is cheap (sets that load something heavy, such
    as ``hf:`` encoders, cache it per process); Dask workers already run BLAS and OpenMP on
    one thread each.
    """
    return _Extractor(get_feature_set(config), augment)(batch)


def compute(todo, feature_set: FeatureSet, augment: Augmentation | None, workers: int,
            dask: str | None):
    """Yield ``(row, vectors or problem)`` for every work item, in completion order.

    The executors (this process, a local process pool, a Dask cluster) share one interface:
    the work items, the set's configuration and the augmenter in, results in completion
    order out; :func:`sera.features.extract_features` does the caching and writing for all
    of them.
    """
    if dask is not None and todo:
        yield from _on_dask(todo, feature_set.to_config(), augment, dask)
    elif workers <= 1 or len(todo) <= 1:
        yield from _in_process(todo, feature_set, augment)
    else:
        yield from _on_pool(todo, feature_set.to_config(), augment, workers)


def _in_process(todo, feature_set: FeatureSet, augment: Augmentation | None):
    extractor = _Extractor(feature_set, augment)
    for item in todo:
        yield from extractor([item])


def _on_pool(todo, config: dict, augment: Augmentation | None, workers: int):
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(augment),
                               initializer=_start_worker, initargs=(config, augment))
    futures = [pool.submit(_run_in_worker, batch) for batch in _batches(todo, workers)]
    try:
        for future in as_completed(futures):
            yield from future.result()
    except BrokenProcessPool:
        raise FeatureError("a feature worker process died (a crash in a native library?); "
                           "finished rows are kept, rerun with one worker to find the "
                           "file") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(todo, config: dict, augment: Augmentation | None, address: str):
    # Imported here: Dask is only loaded when asked for.
    from sera.scale import client_for, map_unordered, parallelism

    with client_for(address) as client:
        threads = parallelism(client)
        for results in map_unordered(client, _run_on_dask_worker, _batches(todo, threads),
                                     config, augment, in_flight=DASK_TASKS_PER_THREAD * threads):
            yield from results


def _batches(todo: list, workers: int) -> list[list]:
    """Work items in tasks of up to :data:`TASK_FILES` files, about 4 or more per worker."""
    size = max(1, min(TASK_FILES, len(todo) // (4 * workers)))
    return [todo[start:start + size] for start in range(0, len(todo), size)]


def _pool_context(augment: Augmentation | None = None) -> multiprocessing.context.BaseContext:
    """The context of the feature pool: :func:`pool_context` preloading this module and, with
    an augmenter, :mod:`sera.augment` (librosa), whose numba kernels are then compiled (or
    loaded from numba's cache) once in the forkserver rather than by every worker at the same
    time, which can corrupt the cache."""
    return pool_context([__name__, *(("sera.augment",) if augment else ())])


def pool_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """Start worker processes clean, never by forking this one (forking a process that runs
    BLAS or numba threads can deadlock).

    The forkserver imports the ``preload`` modules once and forks each worker from that, so
    workers start in milliseconds. spawn (a fresh interpreter per worker) is the fallback
    where there is no forkserver (Windows). Used by the feature pool and by
    :mod:`sera.batch`.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context

