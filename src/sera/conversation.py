"""The utterances of a conversation to emotions: a whole recording, or a live stream.

:func:`label_utterances` and :func:`label_stream` turn the utterances :mod:`sera.segment`
finds into :class:`sera.results.Segment` s; they back :meth:`sera.infer.Model.analyze` and
:meth:`sera.infer.Model.stream`. They take the model as an argument (anything with
``utterance_features``, ``predict_proba`` and ``labels``), so data flows one way:
:mod:`sera.infer` imports this module, never the reverse.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Protocol

import numpy as np

from sera.errors import InputError
from sera.results import Segment
from sera.segment import Utterance

#: Adaptations that make sense within one recording (it has no speaker or corpus labels).
RECORDING_MODES = ("none", "recording")

#: Utterances per feature-and-classify step.
BATCH_SIZE = 64

#: Utterances whose statistics a stream adapts to (the most recent ones): about an hour of
#: conversation, enough for stable statistics, and it bounds a stream's memory.
STREAM_HISTORY = 1000


class Classifier(Protocol):
    """What the conversation logic needs of a model (:class:`sera.infer.Model`)."""

    labels: tuple[str, ...]

    def utterance_features(self, utterance: Utterance) -> np.ndarray: ...

    def predict_proba(self, X: np.ndarray, adapt: str = "none",
                      groups=None) -> np.ndarray: ...


def check_adapt(adapt: str) -> None:
    """Raise ValueError unless ``adapt`` is one of :data:`RECORDING_MODES`."""
    if adapt not in RECORDING_MODES:
        raise InputError(f"a recording adapts per recording or not at all "
                         f"({', '.join(RECORDING_MODES)}), not {adapt!r}")


def label_utterances(model: Classifier, utterances: Iterable[Utterance],
                     adapt: str = "recording", batch_size: int = BATCH_SIZE,
                     executor: Executor | None = None) -> Iterator[Segment]:
    """Classify the utterances of one recording.

    Each utterance's features are computed as it arrives (by ``executor``'s threads while the
    segmenter goes on finding the next ones, or in this thread) and its audio then dropped; at
    most ``batch_size`` utterances wait for their features at a time. With ``adapt="none"``
    each batch of ``batch_size`` is classified at once; with ``adapt="recording"`` the
    features (one row per utterance) are kept until the last utterance, normalised together
    by the recording's statistics, then classified.

    Parameters
    ----------
    model : Classifier
        A :class:`sera.infer.Model`.
    utterances : iterable of sera.segment.Utterance
        In time order, e.g. from :func:`sera.segment.segment_file`.
    adapt : str
        ``"recording"`` or ``"none"``.
    batch_size : int
        Utterances per onnxruntime call with ``adapt="none"``, and most utterances in flight.
    executor : concurrent.futures.Executor, optional
        Computes the features (``model.utterance_features`` must be safe to call from its
        workers); ``None`` computes them in this thread.

    Yields
    ------
    Segment
        In time order.
    """
    check_adapt(adapt)
    spans: list[Utterance] = []
    rows: list[np.ndarray | Future] = []
    done = 0   # rows[:done] are arrays, the rest futures
    for utterance in utterances:
        spans.append(Utterance(utterance.start, utterance.end, _NO_AUDIO))
        rows.append(model.utterance_features(utterance) if executor is None
                    else executor.submit(model.utterance_features, utterance))
        # Bound the audio that waits in the executor's queue.
        while len(rows) - done > batch_size:
            rows[done] = rows[done].result()
            done += 1
        if adapt == "none" and len(rows) == batch_size:
            yield from _classified(model, spans, rows, adapt)
            spans, rows, done = [], [], 0
    yield from _classified(model, spans, rows, adapt)


def label_stream(model: Classifier, utterances: Iterable[Utterance], adapt: str = "recording",
                 history: int = STREAM_HISTORY) -> Iterator[Segment]:
    """Classify each utterance of a stream as soon as it arrives.

    With ``adapt="recording"`` an utterance is normalised by the statistics of the last
    ``history`` utterances up to and including it (shrunk toward the training statistics while
    they are few); with ``"none"`` exactly as :func:`label_utterances` does.
    """
    check_adapt(adapt)
    if adapt == "none":
        yield from label_utterances(model, utterances, "none", batch_size=1)
        return
    heard: deque[np.ndarray] = deque(maxlen=history)
    for utterance in utterances:
        heard.append(model.utterance_features(utterance))
        probabilities = model.predict_proba(np.stack(heard), adapt="recording",
                                            groups=np.zeros(len(heard)))
        yield segment_of(utterance, probabilities[-1], model.labels)


def segment_of(utterance: Utterance, probabilities: np.ndarray,
               labels: tuple[str, ...]) -> Segment:
    """The :class:`Segment` of an utterance with these label probabilities."""
    scores = dict(zip(labels, map(float, probabilities), strict=True))
    return Segment(start=utterance.start, end=utterance.end,
                   label=labels[int(np.argmax(probabilities))], scores=scores)


#: Stands in for the audio of an utterance once its features are computed.
_NO_AUDIO = np.zeros(0, np.float32)


def _classified(model: Classifier, spans: list[Utterance], rows: list[np.ndarray | Future],
                adapt: str) -> list[Segment]:
    if not rows:
        return []
    X = np.stack([row.result() if isinstance(row, Future) else row for row in rows])
    groups = None if adapt == "none" else np.zeros(len(rows))
    probabilities = model.predict_proba(X, adapt=adapt, groups=groups)
    return [segment_of(span, p, model.labels) for span, p in zip(spans, probabilities, strict=True)]
