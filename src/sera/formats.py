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


def to_json(analysis: Analysis) -> dict:
    """The ``sera analyze --json`` document.

    ``{"path", "duration", "speakers", "adapt", "segments": [{"start", "end", "speaker",
    "label", "scores"}]}``; seconds rounded to the millisecond, scores to four decimals.
    """
    return {"path": analysis.path, "duration": round(analysis.duration, 3),
            "speakers": analysis.speakers, "adapt": analysis.adapt,
            "segments": [segment.to_dict() for segment in analysis.segments]}


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
    scores to four decimals, as written); keys a :class:`Segment` does not have are left out."""
    known = {field.name for field in dataclasses.fields(Segment)}
    segments = tuple(Segment(**{key: value for key, value in item.items() if key in known})
                     for item in doc["segments"])
    return Analysis(path=doc["path"], duration=doc["duration"], segments=segments,
                    adapt=doc["adapt"])


def to_csv(analysis: Analysis, labels: Sequence[str]) -> str:
    """One row per utterance: ``start,end,speaker,label`` then one probability column per
    label."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "speaker", "label", *labels])
    for segment in analysis.segments:
        row = segment.to_dict()
        writer.writerow([f"{row['start']:.3f}", f"{row['end']:.3f}", row["speaker"],
                         row["label"], *(f"{row['scores'][label]:.4f}" for label in labels)])
    return out.getvalue()


def to_srt(analysis: Analysis) -> str:
    """SubRip subtitles: one cue per utterance, its text ``S1: angry (0.83)``."""
    cues = [f"{index}\n{srt_time(s.start)} --> {srt_time(s.end)}\n"
            f"{s.speaker}: {s.label} ({s.scores[s.label]:.2f})\n"
            for index, s in enumerate(analysis.segments, start=1)]
    return "\n".join(cues)


def srt_time(seconds: float) -> str:
    """``HH:MM:SS,mmm``."""
    milliseconds = int(round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{milliseconds:03d}"


#: A character that stands for an undecodable byte of a file name (``os.fsdecode``'s
#: surrogateescape) or another lone surrogate, which no UTF-8 output can hold.
SURROGATE = re.compile("[\ud800-\udfff]")


def _jsonable(value):
    """Make numpy scalars and arrays JSON-serialisable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
