"""The utterances of a conversation to emotions: a whole recording, or a live stream.

:func:`label_utterances` and :func:`label_stream` turn the utterances :mod:`sera.segment`
finds into :class:`sera.results.Segment` s; they back :meth:`sera.infer.Model.analyze` and
:meth:`sera.infer.Model.stream`. They take the model as an argument (anything with
``utterance_features``, ``predict_proba`` and ``labels``), so data flows one way:
:mod:`sera.infer` imports this module, never the reverse.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

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
        raise ValueError(f"a recording adapts per recording or not at all "
                         f"({', '.join(RECORDING_MODES)}), not {adapt!r}")


def label_utterances(model: Classifier, utterances: Iterable[Utterance],
                     adapt: str = "recording", batch_size: int = BATCH_SIZE,
                     map_batch: Callable | None = None) -> Iterator[Segment]:
    """Classify the utterances of one recording.

    Utterances are gathered in batches of ``batch_size``; each batch's features are computed
    (by ``map_batch``, which may spread them over threads) and its audio dropped. With
    ``adapt="none"`` each batch is classified at once; with ``adapt="recording"`` the
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
        Utterances per step.
    map_batch : callable, optional
        ``map_batch(function, items) -> list``; the built-in ``map`` (in this thread) when
        ``None``.

    Yields
    ------
    Segment
        In time order.
    """
    check_adapt(adapt)
    spans: list[Utterance] = []
    rows: list[np.ndarray] = []
    batch: list[Utterance] = []

    def features_of(utterances: list[Utterance]) -> None:
        spans.extend(Utterance(u.start, u.end, _NO_AUDIO) for u in utterances)
        rows.extend((map_batch or _map)(model.utterance_features, utterances))

    for utterance in utterances:
        batch.append(utterance)
        if len(batch) == batch_size:
            features_of(batch)
            batch = []
            if adapt == "none":
                yield from _classified(model, spans, rows, adapt)
                spans, rows = [], []
    features_of(batch)
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


def _map(function, items):
    return list(map(function, items))


def _classified(model: Classifier, spans: list[Utterance], rows: list[np.ndarray],
                adapt: str) -> list[Segment]:
    if not rows:
        return []
    groups = None if adapt == "none" else np.zeros(len(rows))
    probabilities = model.predict_proba(np.stack(rows), adapt=adapt, groups=groups)
    return [segment_of(span, p, model.labels) for span, p in zip(spans, probabilities, strict=True)]
