"""Output formats of an analysis: the JSON document, CSV and SubRip subtitles.

One place for each format, used by ``sera analyze`` and the server's export alike. Each is a
pure function of a :class:`sera.results.Analysis`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Sequence

from sera.results import Analysis, Segment
from sera.summary import summarize

#: A character that stands for an undecodable byte of a file name (``os.fsdecode``'s
#: surrogateescape) or another lone surrogate, which no UTF-8 output can hold.
SURROGATE = re.compile("[\ud800-\udfff]")


def to_json(analysis: Analysis) -> dict:
    """The ``sera analyze --json`` document.

    ``{"path", "duration", "speakers", "adapt", "segments": [{"start", "end", "speaker",
    "label", "scores", "arousal", "valence"}], "summary": {...}}``; seconds rounded to the
    millisecond, scores, arousal and valence to four decimals; the summary
    (:func:`sera.summary.summarize`) is of the segments as written.
    """
    segments = [segment.to_dict() for segment in analysis.segments]
    labels = list(segments[0]["scores"]) if segments else []
    return {"path": analysis.path, "duration": round(analysis.duration, 3),
            "speakers": analysis.speakers, "adapt": analysis.adapt, "segments": segments,
            "summary": summarize(segments, labels)}


def json_text(obj) -> str:
    """A JSON document as ``sera ... --json`` prints it: indented, UTF-8 text, a final newline.

    The one JSON writer of the CLI and of batch outputs, so a recording's file in
    ``sera analyze ... --out DIR`` has the bytes ``sera analyze FILE --json`` prints.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable)
    # An undecodable byte of a file name (a surrogate of ``os.fsdecode``) is written as its
    # ``\udcNN`` escape, which ``json.loads`` reads back and ``os.fsencode`` turns into the same
    # bytes: lone surrogates only occur inside strings, where the escape means the same.
    return SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text) + "\n"


def analysis_from_json(doc: dict) -> Analysis:
    """The :class:`Analysis` a :func:`to_json` document describes (times to the millisecond,
    scores, arousal and valence to four decimals, as written); keys a :class:`Segment` does not
    have (the summary's are of the segments) are left out."""
    known = {field.name for field in dataclasses.fields(Segment)}
    segments = tuple(Segment(**{key: value for key, value in item.items() if key in known})
                     for item in doc["segments"])
    return Analysis(path=doc["path"], duration=doc["duration"], segments=segments,
                    adapt=doc["adapt"])


def to_csv(analysis: Analysis, labels: Sequence[str]) -> str:
    """One row per utterance: ``start,end,speaker,label,arousal,valence`` then one probability
    column per label (arousal and valence empty for labels off the circumplex)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "speaker", "label", "arousal", "valence", *labels])
    for segment in analysis.segments:
        row = segment.to_dict()
        writer.writerow([f"{row['start']:.3f}", f"{row['end']:.3f}", row["speaker"],
                         row["label"], *(affect_cell(row[key]) for key in ("arousal", "valence")),
                         *(f"{row['scores'][label]:.4f}" for label in labels)])
    return out.getvalue()


def affect_cell(value: float | None) -> str:
    """An arousal or valence as a CSV cell: four decimals, empty when there is none."""
    return "" if value is None else f"{value:.4f}"


def to_srt(analysis: Analysis) -> str:
    """SubRip subtitles: one cue per utterance, its text ``S1: angry (0.83), arousal 0.79,
    valence 0.25`` (the label and its probability alone for labels off the circumplex)."""
    cues = [f"{index}\n{srt_time(s.start)} --> {srt_time(s.end)}\n{cue_text(s)}\n"
            for index, s in enumerate(analysis.segments, start=1)]
    return "\n".join(cues)


def cue_text(segment: Segment) -> str:
    """The subtitle of one utterance."""
    text = f"{segment.speaker}: {segment.label} ({segment.scores[segment.label]:.2f})"
    if segment.arousal is None:
        return text
    return f"{text}, arousal {segment.arousal:.2f}, valence {segment.valence:.2f}"


def srt_time(seconds: float) -> str:
    """``HH:MM:SS,mmm``."""
    milliseconds = int(round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{milliseconds:03d}"


def _jsonable(value):
    """Make numpy scalars and arrays JSON-serialisable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
