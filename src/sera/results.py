"""What a model says: the emotion of a clip, of an utterance, of a whole recording.

Small frozen result types shared by inference (:mod:`sera.infer`), the conversation logic
(:mod:`sera.conversation`), the output formats (:mod:`sera.formats`), the CLI and the server.
This module imports only :mod:`sera.labels` (which imports nothing of sera), so every layer can
use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sera.labels import affect

#: The speaker of every segment until speakers are told apart.
DEFAULT_SPEAKER = "S1"


@dataclass(frozen=True)
class Prediction:
    """The emotion of one clip.

    Attributes
    ----------
    label : str
        The most probable label.
    scores : dict
        Probability per label, in the model's label order.
    path : str or None
        The file, or ``None`` for an array.
    arousal, valence : float or None
        In [0, 1], 0.5 neither high nor low: unless given (read back from a document),
        derived from :attr:`scores` (:func:`sera.labels.affect`); ``None`` for labels off the
        circumplex.
    """

    label: str
    scores: dict[str, float]
    path: str | None = None
    arousal: float | None = None
    valence: float | None = None

    def __post_init__(self) -> None:
        _fill_affect(self)

    def to_dict(self) -> dict[str, Any]:
        """The ``sera predict --json`` item: ``{"path", "label", "scores", "arousal",
        "valence"}``."""
        return {"path": self.path, "label": self.label, "scores": rounded(self.scores),
                **rounded_affect(self)}


@dataclass(frozen=True)
class Segment:
    """The emotion of one utterance of a recording; times in seconds from its start.

    ``speaker`` is ``S1``, ``S2``, ... in order of first appearance; ``arousal`` and
    ``valence`` are as for :class:`Prediction`.
    """

    start: float
    end: float
    label: str
    scores: dict[str, float] = field(repr=False)
    speaker: str = DEFAULT_SPEAKER
    arousal: float | None = None
    valence: float | None = None

    def __post_init__(self) -> None:
        _fill_affect(self)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """The ``sera analyze --json`` item: ``{"start", "end", "speaker", "label", "scores",
        "arousal", "valence"}``, times rounded to the millisecond."""
        return {"start": round(self.start, 3), "end": round(self.end, 3),
                "speaker": self.speaker, "label": self.label, "scores": rounded(self.scores),
                **rounded_affect(self)}


@dataclass(frozen=True)
class Analysis:
    """Every utterance of one recording and its emotion (:meth:`sera.infer.Model.analyze`).

    It reads like the list of its segments (``len``, iteration, indexing).

    Attributes
    ----------
    path : str or None
        The file, or ``None`` for an array.
    duration : float
        Seconds of audio analysed.
    segments : tuple of Segment
        In time order.
    adapt : str
        The normalisation that ran: ``"speaker"`` (each diarized speaker by their own
        statistics), ``"recording"`` or ``"none"``.
    """

    path: str | None
    duration: float
    segments: tuple[Segment, ...]
    adapt: str = "speaker"

    @property
    def speakers(self) -> list[str]:
        """The speakers, in order of first appearance."""
        return list(dict.fromkeys(segment.speaker for segment in self.segments))

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __getitem__(self, index: int) -> Segment:
        return self.segments[index]


def labelled(probabilities: Sequence[float], labels: Sequence[str]
             ) -> tuple[str, dict[str, float]]:
    """The most probable label and the score of each, as :class:`Prediction` and
    :class:`Segment` hold them.

    >>> labelled([0.2, 0.7, 0.1], ("angry", "happy", "sad"))
    ('happy', {'angry': 0.2, 'happy': 0.7, 'sad': 0.1})
    """
    scores = dict(zip(labels, map(float, probabilities), strict=True))
    return max(scores, key=scores.__getitem__), scores


def rounded(scores: dict[str, float]) -> dict[str, float]:
    """Scores to four decimals, for JSON output."""
    return {label: round(float(p), 4) for label, p in scores.items()}


def rounded_affect(result: Prediction | Segment) -> dict[str, float | None]:
    """``{"arousal", "valence"}`` of a result to four decimals (``None`` stays), for JSON
    output."""
    return {key: None if getattr(result, key) is None else round(float(getattr(result, key)), 4)
            for key in ("arousal", "valence")}


def _fill_affect(result: Prediction | Segment) -> None:
    """Derive a frozen result's arousal and valence from its scores unless they were given."""
    if result.arousal is None and result.valence is None:
        found = affect(result.scores)
        if found is not None:
            object.__setattr__(result, "arousal", found[0])
            object.__setattr__(result, "valence", found[1])
