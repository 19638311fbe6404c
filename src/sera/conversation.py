"""The utterances of a conversation to speakers and emotions: a whole recording, or a stream.

:func:`label_utterances` and :func:`label_stream` turn the utterances :mod:`sera.segment`
finds into :class:`sera.results.Segment` s; they back :meth:`sera.infer.Model.analyze` and
:meth:`sera.infer.Model.stream`. Unless told there is one speaker, each utterance is embedded by
the speaker encoder (:mod:`sera.speaker.diarize`; a long one also on both sides of the point
where its voice most likely changes), and every segment gets a speaker: clustered over the
whole recording by :func:`label_utterances`, assigned as each utterance ends by
:func:`label_stream`. The default adaptation normalises each speaker's utterances by that
speaker's own statistics. They take the model as an argument (anything with
``utterance_features``, ``predict_proba`` and ``labels``), so data flows one way:
:mod:`sera.infer` imports this module, never the reverse.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Protocol

import numpy as np

from sera.errors import InputError, check_choice
from sera.options import RECORDING_ADAPTS, RecordingAdapt
from sera.results import DEFAULT_SPEAKER, Segment, labelled
from sera.scoring import BATCH_SIZE
from sera.segment import SAMPLE_RATE, Utterance

#: Utterances embedded by the speaker encoder together (one onnxruntime call for their windows).
EMBED_BATCH = 16

#: Utterances whose statistics a stream adapts to (the most recent ones): about an hour of
#: conversation, enough for stable statistics, and it bounds a stream's memory.
STREAM_HISTORY = 1000


class Classifier(Protocol):
    """What the conversation logic needs of a model (:class:`sera.infer.Model`)."""

    labels: tuple[str, ...]

    def utterance_features(self, utterance: Utterance) -> np.ndarray: ...

    def predict_proba(self, X: np.ndarray, adapt: str = "none",
                      groups=None) -> np.ndarray: ...


def check_adapt(adapt: object) -> RecordingAdapt:
    """``adapt`` if it is one of :data:`sera.options.RECORDING_ADAPTS`, else an
    :class:`~sera.errors.InputError` naming them."""
    return check_choice("recording adaptation", adapt, RECORDING_ADAPTS)


def check_speakers(num_speakers: int | None, min_speakers: int | None = None,
                   max_speakers: int | None = None) -> None:
    """Raise InputError unless ``num_speakers`` is ``None`` (found) or a positive count, and the
    bounds on a found count are positive, in order, and not given beside a count."""
    for name, value in (("number of speakers", num_speakers), ("least number of speakers",
                                                            min_speakers),
                        ("most speakers", max_speakers)):
        if value is not None and value < 1:
            raise InputError(f"the {name} must be at least 1, not {value}")
    if num_speakers is not None and (min_speakers is not None or max_speakers is not None):
        raise InputError("give the number of speakers, or bounds on it (min/max), not both")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise InputError(f"the least number of speakers ({min_speakers}) is more than the most "
                         f"({max_speakers})")


def known_speakers(num_speakers: int | None, min_speakers: int | None,
                   max_speakers: int | None) -> int | None:
    """The number of speakers when it is given, or when the bounds leave one choice."""
    if num_speakers is None and max_speakers is not None and (min_speakers or 1) == max_speakers:
        return max_speakers
    return num_speakers


def label_utterances(model: Classifier, utterances: Iterable[Utterance],
                     adapt: str = "speaker", batch_size: int = BATCH_SIZE,
                     executor: Executor | None = None, num_speakers: int | None = None,
                     min_speakers: int | None = None,
                     max_speakers: int | None = None) -> Iterator[Segment]:
    """Tell the speakers of one recording apart and classify their utterances.

    Each utterance's features are computed as it arrives (by ``executor``'s threads while the
    segmenter goes on finding the next ones, or in this thread) and its audio then dropped; at
    most ``batch_size`` utterances wait for their features at a time. With ``adapt="none"``
    each batch of ``batch_size`` is classified at once; with ``adapt="recording"`` the
    features (one row per utterance) are kept until the last utterance, normalised together
    by the recording's statistics, then classified.

    Unless ``num_speakers=1``, utterances are also embedded by the speaker encoder, ``EMBED_BATCH``
    at a time; a long one (4 s or more) also gets the features of the two sides of the point
    where its voice most likely changes. At the end the utterances (a long one's sides) are
    clustered into speakers; a long utterance whose sides land with two speakers becomes two
    segments; with ``adapt="speaker"`` (the default) each speaker is normalised by their own
    statistics.

    Parameters
    ----------
    model : Classifier
        A :class:`sera.infer.Model`.
    utterances : iterable of sera.segment.Utterance
        In time order, e.g. from :func:`sera.segment.segment_file`.
    adapt : str
        ``"speaker"``, ``"recording"`` or ``"none"``.
    batch_size : int
        Utterances per onnxruntime call with ``adapt="none"``, and most utterances in flight.
    executor : concurrent.futures.Executor, optional
        Computes the features (``model.utterance_features`` must be safe to call from its
        workers); ``None`` computes them in this thread.
    num_speakers : int, optional
        How many speakers the recording has; found from the voices when ``None``. With ``1``
        no speaker encoder runs and every segment is ``S1``.
    min_speakers, max_speakers : int, optional
        Bounds on the number found (a meeting of three to five: ``3`` and ``5``); a found
        number outside them becomes the nearest bound (:func:`sera.speaker.diarize.cluster`).

    Yields
    ------
    Segment
        In time order.
    """
    check_adapt(adapt)
    check_speakers(num_speakers, min_speakers, max_speakers)
    num_speakers = known_speakers(num_speakers, min_speakers, max_speakers)
    if num_speakers != 1:
        bounds = (1, None) if num_speakers is not None else (min_speakers or 1, max_speakers)
        yield from _diarized(model, utterances, adapt, batch_size, executor, num_speakers, bounds)
        return
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


def _diarized(model: Classifier, utterances: Iterable[Utterance], adapt: str, batch_size: int,
              executor: Executor | None, num_speakers: int | None,
              bounds: tuple[int, int | None]) -> Iterator[Segment]:
    """:func:`label_utterances` with the speakers told apart."""
    from sera.speaker.diarize import diarize, embed_utterances

    found: list = []       # per utterance: its Embedded and the rows of its whole and sides
    in_flight: list[Future] = []
    waiting: list[Utterance] = []

    def embed(batch: list[Utterance]) -> None:
        embedded = embed_utterances([(u.audio, u.start) for u in batch])
        for utterance, e in zip(batch, embedded, strict=True):
            parts = [utterance, *(_piece_of(utterance, side) for side in (e.sides or ()))]
            rows = [model.utterance_features(part) if executor is None
                    else executor.submit(model.utterance_features, part) for part in parts]
            in_flight.extend(row for row in rows if isinstance(row, Future))
            found.append((e, rows))
        # Bound the audio that waits in the executor's queue.
        while len(in_flight) > batch_size:
            in_flight.pop(0).result()

    for utterance in utterances:
        waiting.append(utterance)
        if len(waiting) == EMBED_BATCH:
            embed(waiting)
            waiting = []
    embed(waiting)
    spans: list[Utterance] = []
    rows: list = []
    names: list[str] = []
    turns_found = diarize([e for e, _ in found], num_speakers, min_speakers=bounds[0],
                          max_speakers=bounds[1])
    for (_, feature_rows), turns in zip(found, turns_found, strict=True):
        # One turn: the whole utterance's features; two: each side's.
        for (piece, name), row in zip(turns, feature_rows[:1] if len(turns) == 1
                                      else feature_rows[1:], strict=True):
            spans.append(Utterance(piece.start, piece.end, _NO_AUDIO))
            rows.append(row)
            names.append(name)
    yield from _classified(model, spans, rows, adapt, names)


def label_stream(model: Classifier, utterances: Iterable[Utterance], adapt: str = "speaker",
                 history: int = STREAM_HISTORY, num_speakers: int | None = None
                 ) -> Iterator[Segment]:
    """Classify each utterance of a stream as soon as it arrives.

    Unless ``num_speakers=1``, each utterance (cut in two where its voice changes) goes to the most
    similar speaker heard so far or starts a new one
    (:class:`sera.speaker.diarize.OnlineDiarizer`). With ``adapt="speaker"`` a segment is
    normalised by the statistics of its speaker's segments among the last ``history`` up to and
    including it; with ``"recording"`` by all of the last ``history``; both are shrunk toward
    the training statistics while they are few. With ``"none"``, by the training statistics.
    """
    check_adapt(adapt)
    check_speakers(num_speakers)
    online = None
    if num_speakers != 1:
        from sera.speaker.diarize import OnlineDiarizer, embed_utterance

        online = OnlineDiarizer(num_speakers)
    heard: deque[tuple[str, np.ndarray]] = deque(maxlen=history)
    for utterance in utterances:
        if online is None:
            turns = [(utterance, DEFAULT_SPEAKER)]
        else:
            turns = [(_piece_of(utterance, piece), name) for piece, name in
                     online.turns(embed_utterance(utterance.audio, utterance.start))]
        for piece, speaker in turns:
            heard.append((speaker, model.utterance_features(piece)))
            if adapt == "none":
                probabilities = model.predict_proba(heard[-1][1][None], adapt="none")
            else:
                groups = ([name for name, _ in heard] if adapt == "speaker"
                          else np.zeros(len(heard)))
                probabilities = model.predict_proba(np.stack([row for _, row in heard]),
                                                    adapt=adapt, groups=groups)
            yield segment_of(piece, probabilities[-1], model.labels, speaker)


def segment_of(utterance: Utterance, probabilities: np.ndarray, labels: tuple[str, ...],
               speaker: str = DEFAULT_SPEAKER) -> Segment:
    """The :class:`Segment` of an utterance with these label probabilities."""
    label, scores = labelled(probabilities, labels)
    return Segment(start=utterance.start, end=utterance.end, label=label, scores=scores,
                   speaker=speaker)


def _piece_of(utterance: Utterance, piece) -> Utterance:
    """The part of an utterance that a :class:`sera.speaker.diarize.Piece` spans."""
    if piece.start <= utterance.start and piece.end >= utterance.end:
        return utterance
    first = max(int(round((piece.start - utterance.start) * SAMPLE_RATE)), 0)
    last = int(round((piece.end - utterance.start) * SAMPLE_RATE))
    return Utterance(piece.start, piece.end, utterance.audio[first:last])


#: Stands in for the audio of an utterance once its features are computed.
_NO_AUDIO = np.zeros(0, np.float32)


def _classified(model: Classifier, spans: list[Utterance], rows: list[np.ndarray | Future],
                adapt: str, speakers: list[str] | None = None) -> list[Segment]:
    if not rows:
        return []
    X = np.stack([row.result() if isinstance(row, Future) else row for row in rows])
    speakers = speakers or [DEFAULT_SPEAKER] * len(rows)
    groups = {"none": None, "recording": np.zeros(len(rows)), "speaker": speakers}[adapt]
    probabilities = model.predict_proba(X, adapt=adapt, groups=groups)
    return [segment_of(span, p, model.labels, speaker)
            for span, p, speaker in zip(spans, probabilities, speakers, strict=True)]
