"""A CSV manifest: columns ``path`` and ``emotion``, optionally ``corpus``, ``speaker``,
``gender``, ``intensity``, ``text``.

Relative paths are resolved against the CSV file's folder, so a corpus folder with its
``manifest.csv`` can be moved as a whole. Emotions may use any spelling in
:data:`sera.labels.ALIASES`. Without a ``corpus`` column the corpus is ``csv``; speaker ids
get the corpus prefix unless they already have it, so a manifest written by
``sera corpus scan --manifest`` reads back unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sera.audio import is_audio
from sera.corpora.base import (
    COLUMNS,
    GENDERS,
    UNKNOWN_SPEAKER,
    ScanResult,
    Utterance,
    build_result,
    speaker_id,
)
from sera.errors import CorpusError
from sera.labels import canonical

if TYPE_CHECKING:
    import pandas as pd

NAME = "csv"

#: The file :func:`sera.corpora.scan` looks for in a folder before anything else.
MANIFEST_NAME = "manifest.csv"

REQUIRED = ("path", "emotion")


def scan(csv_path: str | os.PathLike) -> ScanResult:
    """Read a CSV manifest into a :class:`ScanResult`.

    Rows whose file is missing, is not audio, or whose emotion is not recognised are
    skipped with the reason; audio is not decoded.

    Raises
    ------
    CorpusError
        The CSV cannot be read or lacks a required column.
    """
    csv_path = Path(os.path.abspath(csv_path))
    table = _read(csv_path)
    labelled, skipped = [], []
    for line, row in enumerate(table.to_dict("records"), start=2):  # line 1 is the header
        if row["path"] is None:
            skipped.append((f"{csv_path}:{line}", "empty path"))
            continue
        path = Path(os.path.abspath(csv_path.parent / row["path"]))
        problem = _problem(path, row["emotion"], csv_path.name)
        if problem:
            skipped.append((path, problem))
            continue
        corpus = row.get("corpus") or NAME
        labelled.append((path, Utterance(
            corpus=corpus,
            speaker=speaker_id(corpus, row.get("speaker") or UNKNOWN_SPEAKER),
            gender=GENDERS.get((row.get("gender") or "").lower(), "unknown"),
            emotion=canonical(row["emotion"]),
            intensity=row.get("intensity"),
            text=row.get("text"),
        )))
    return build_result(labelled, skipped)


def _read(csv_path: Path) -> pd.DataFrame:
    """The CSV as strings, column names lower-case, empty cells as ``None``."""
    import pandas as pd

    try:
        try:
            table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        except UnicodeDecodeError:
            # A path that is not valid UTF-8 (sera.corpora.write_manifest writes such names
            # byte for byte) is read back by surrogateescape, which only the Python engine
            # and plain str objects (not Arrow strings) keep as they are.
            table = pd.read_csv(csv_path, dtype=object, keep_default_na=False,
                                engine="python", encoding_errors="surrogateescape")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CorpusError(f"{csv_path}: not a readable CSV manifest ({first_line})") from None
    table.columns = [str(name).strip().lower() for name in table.columns]
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise CorpusError(f"{csv_path}: missing column(s) {', '.join(missing)} "
                          f"(has: {', '.join(table.columns) or 'none'})")
    known = [name for name in COLUMNS if name in table.columns]
    return table[known].astype(object).where(table[known] != "", None)


def _problem(path: Path, emotion: str | None, csv_name: str) -> str | None:
    """Why a manifest row cannot be used, or ``None`` if it can."""
    if not path.is_file():
        return f"listed in {csv_name} but not found"
    if not is_audio(path):
        return f"not an audio file (extension {path.suffix or 'none'})"
    if canonical(emotion or "") is None:
        return f"unknown emotion {emotion!r}"
    return None
