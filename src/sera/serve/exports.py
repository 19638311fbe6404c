"""``/v1/export``: an analyze answer turned into the file ``sera analyze`` writes.

The work (parsing a JSON body of up to :data:`sera.serve.MAX_EXPORT_MB`, checking it, formatting
it) runs on an inference worker, never on the event loop, so a large export does not hold up
the health checks or anyone else's requests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

from pydantic import ValidationError

from sera.formats import to_csv, to_json, to_srt
from sera.results import Analysis, Segment
from sera.serve.errors import ApiError
from sera.serve.schemas import AnalyzeResponse, describe


def parse_analysis(body: bytes, labels: Sequence[str], max_segments: int) -> Analysis:
    """The analysis a JSON body holds, checked against the schema and the model's labels.

    Raises
    ------
    ApiError
        422 not an analyze answer (malformed JSON, a field missing or out of range, other
        labels); 413 more than ``max_segments`` segments.
    """
    try:
        analysis = AnalyzeResponse.model_validate_json(body)
    except ValidationError as err:
        raise ApiError(422, describe(err.errors(include_url=False))) from None
    if len(analysis.segments) > max_segments:
        raise ApiError(413, f"segments: {len(analysis.segments)} utterances, more than the "
                            f"limit of {max_segments}")
    used = set(analysis.segments[0].scores) if analysis.segments else set(labels)
    for number, item in enumerate(analysis.segments, start=1):
        # Every segment scores the model's labels, or one subset of them (``?labels=``).
        if (set(item.scores) != used or item.label not in used or not used <= set(labels)
                or len(used) < 2):
            raise ApiError(422, f"segments: utterance {number} does not have this model's "
                                f"labels ({', '.join(labels)}) or the subset of the first")
    return Analysis(
        path=analysis.path, duration=analysis.duration, adapt=analysis.adapt,
        # Arousal and valence as answered (derived from the scores when left out): the export
        # is the file the command line writes, not one recomputed from rounded scores.
        segments=tuple(Segment(start=item.start, end=item.end, label=item.label,
                               scores=item.scores, speaker=item.speaker, arousal=item.arousal,
                               valence=item.valence)
                       for item in analysis.segments))


def export_file(body: bytes, kind: str, labels: Sequence[str], max_segments: int,
                ) -> tuple[str, str]:
    """The text of the ``kind`` file (``json``, ``csv`` or ``srt``) for an analyze answer, and
    the stem of its file name."""
    recording = parse_analysis(body, labels, max_segments)
    if kind == "csv":
        used = set(recording.segments[0].scores) if recording.segments else set(labels)
        text = to_csv(recording, [label for label in labels if label in used])
    elif kind == "srt":
        text = to_srt(recording)
    else:
        # As `sera analyze --json` prints it (sera.cli._app.print_json).
        text = json.dumps(to_json(recording), indent=2, ensure_ascii=False) + "\n"
    return text, PurePosixPath(recording.path or "recording").stem or "recording"
