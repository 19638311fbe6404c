"""Inference for ``sera serve``: a pool of worker threads with bounded admission, and the
jobs it runs (decode an upload, classify it)."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from sera.errors import AudioError
from sera.formats import to_json
from sera.infer import Model
from sera.segment import SegmenterParams
from sera.serve.errors import ApiError
from sera.serve.uploads import Upload, decode

log = logging.getLogger("sera.serve")

#: Seconds a client turned away with a 503 is asked to wait.
RETRY_AFTER_S = 1


class InferencePool:
    """``workers`` threads run inference; ``queue`` more requests may wait; the rest get a 503.

    A request is admitted only once its body has arrived (a slow or stalled upload holds a
    connection, never a place here). Admission is counted on the event loop (one thread), so a
    plain counter is exact.
    """

    def __init__(self, workers: int, queue: int):
        self.workers = workers
        self.queue = queue
        self.in_flight = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sera-infer")

    @contextmanager
    def admission(self) -> Iterator[None]:
        """A place among the running and waiting requests, or a 503."""
        if self.in_flight >= self.workers + self.queue:
            raise ApiError(503, f"the server is busy ({self.workers} requests running, "
                                f"{self.queue} waiting); try again shortly",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def run(self, function: Callable, *args):
        """``function(*args)`` on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def shutdown(self) -> None:
        """Stop the threads (the app's lifespan ends: no request is running any more)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


#: How the library words another library's exception in an AudioError ("ValueError: ...").
_LIBRARY_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b")


def _plain(upload: Upload, err: AudioError) -> ApiError:
    """The 400 for audio the model cannot use. A problem the library words itself ("silent",
    "too short") is shown; another library's exception text goes to the log instead."""
    if _LIBRARY_EXCEPTION.match(err.problem):
        log.warning("%s: %s", upload.name, err.problem)
        return ApiError(400, f"{upload.name}: this audio could not be classified")
    return ApiError(400, f"{upload.name}: {err.problem}")


def predict_upload(model: Model, upload: Upload, max_duration_s: float) -> dict:
    """The ``predict`` answer for one upload."""
    y, rate = decode(upload, max_duration_s)
    try:
        prediction = model.predict(y, sample_rate=rate)
    except AudioError as err:
        raise _plain(upload, err) from None
    return {**prediction.to_dict(), "path": upload.filename}


def analyze_upload(model: Model, upload: Upload, max_duration_s: float,
                   params: SegmenterParams, adapt: str, num_speakers: int | None = None,
                   min_speakers: int | None = None, max_speakers: int | None = None) -> dict:
    """The ``analyze`` answer for one upload."""
    y, rate = decode(upload, max_duration_s)
    try:
        analysis = model.analyze(y, sample_rate=rate, params=params, adapt=adapt,
                                 num_speakers=num_speakers, min_speakers=min_speakers,
                                 max_speakers=max_speakers)
    except AudioError as err:
        raise _plain(upload, err) from None
    return to_json(replace(analysis, path=upload.filename))


def warm_up(model: Model) -> None:
    """Classify a second of seeded noise, so that one-time costs (onnxruntime's first run,
    openSMILE's first configuration on a thread) are paid before the first request, not by it."""
    rate = model.feature_set.sample_rate
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, rate).astype(np.float32)
    model.predict(noise, sample_rate=rate)
