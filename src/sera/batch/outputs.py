"""The files of a batch: each recording's outputs, written atomically, and the summary and
speaker tables."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sera.errors import (
    SeraError,
    os_problem,
)
from sera.formats import json_text, to_csv, to_json, to_srt
from sera.results import Analysis
from sera.summary import AFFECT, emotion_figures, summarize

if TYPE_CHECKING:
    from sera.batch.inputs import Recording

#: Output files a recording can have; JSON always (the resume reads it back).
FORMATS = ("json", "csv", "srt")

#: The tables of a batch, beside the recordings' outputs.
SUMMARY, SPEAKERS = "summary", "speakers"


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` to write to, moved into place when the block
    ends.

    The temporary name is fixed per target (this process is the only writer), so one left by
    a killed run is simply overwritten when its recording is redone.

    Raises
    ------
    SeraError
        The folder or the file cannot be written (a full disk, no permission): one line with
        the path and the system's reason; the temporary file is removed.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SeraError(f"{path}: cannot write ({os_problem(err)})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`."""
    with replacing(path) as partial:
        partial.write_bytes(data)


def write_outputs(out: Path, name: str, analysis: Analysis, formats: Sequence[str],
                  labels: Sequence[str]) -> dict[str, int]:
    """Write a recording's files (``name.json`` and the other ``formats``); their sizes."""
    render = {"json": lambda: json_text(to_json(analysis)),
              "csv": lambda: to_csv(analysis, labels), "srt": lambda: to_srt(analysis)}
    sizes = {}
    for fmt in formats:
        data = render[fmt]().encode("utf-8")
        write_atomic(out / f"{name}.{fmt}", data)
        sizes[fmt] = len(data)
    return sizes


def table_figures(figures: dict) -> dict:
    """:func:`sera.summary.emotion_figures` as table cells: one ``share_<label>`` column per
    label; mean arousal and valence only when there are some."""
    cells = {key: figures[key] for key in ("utterances", "speaking_time", "dominant_emotion")}
    cells.update((f"share_{label}", share) for label, share in figures["shares"].items())
    cells.update((f"mean_{key}", figures[f"mean_{key}"]) for key in AFFECT
                 if figures[f"mean_{key}"] is not None)
    return cells


def summary_row(recording: Recording, doc: dict | None, labels: Sequence[str],
                problem: str = "") -> dict:
    """The summary table's row of a recording: from its JSON document, or its problem."""
    figures = {} if doc is None else {"duration": doc["duration"],
                                      "speakers": len(doc["speakers"]),
                                      **table_figures(emotion_figures(doc["segments"], labels))}
    return {"path": recording.path, **figures, **recording.columns, "error": problem}


def speaker_rows(recording: Recording, doc: dict, labels: Sequence[str]) -> list[dict]:
    """The speaker table's rows of a recording: one per speaker, in order of appearance."""
    speakers = summarize(doc["segments"], labels)["speakers"]
    return [{"recording": recording.path, "speaker": speaker, **table_figures(figures)}
            for speaker, figures in speakers.items()]


def summary_columns(labels: Sequence[str], affect: Iterable[str],
                    manifest: Iterable[str]) -> list[str]:
    """The summary table's columns."""
    return ["path", "duration", "speakers", "utterances", "speaking_time",
            "dominant_emotion", *(f"share_{label}" for label in labels),
            *(f"mean_{key}" for key in affect), *manifest, "error"]


def speaker_columns(labels: Sequence[str], affect: Iterable[str]) -> list[str]:
    """The speaker table's columns."""
    return ["recording", "speaker", "speaking_time", "utterances", "dominant_emotion",
            *(f"share_{label}" for label in labels), *(f"mean_{key}" for key in affect)]


def write_tables(out: Path, summary: list[dict], speakers: list[dict], labels: Sequence[str],
                 recordings: Sequence[Recording]) -> None:
    """Write ``summary.csv`` and ``speakers.csv`` (and ``.parquet`` copies when pyarrow is
    importable). Mean arousal and valence columns appear when some segment has them."""
    affect = [key for key in AFFECT if any(f"mean_{key}" in row for row in summary)]
    manifest = list(dict.fromkeys(column for r in recordings for column in r.columns))
    tables = {SUMMARY: (summary_columns(labels, affect, manifest), summary),
              SPEAKERS: (speaker_columns(labels, affect), speakers)}
    try:
        import pyarrow  # noqa: F401  (only to know whether the Parquet copies can be written)
    except ImportError:
        parquet = False
    else:
        parquet = True
    for table, (columns, rows) in tables.items():
        write_atomic(out / f"{table}.csv", csv_text(columns, rows).encode("utf-8"))
        if parquet:
            write_parquet(out / f"{table}.parquet", columns, rows)


def csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    """Rows as CSV; a missing or ``None`` value is an empty cell."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row[column] for column in columns])
    return text.getvalue()


def write_parquet(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    """Rows as a Parquet file, written atomically; a missing value is null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({column: pa.array([row.get(column) for row in rows]) for column in columns})
    with replacing(path) as partial:
        pq.write_table(table, partial)
