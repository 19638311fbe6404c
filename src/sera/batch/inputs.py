"""The inputs of a batch: the recordings of files, folders and CSV manifests, each with its
output name, and the check that no two outputs collide."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath

from sera.audio import audio_files
from sera.batch.outputs import SPEAKERS, SUMMARY, summary_columns
from sera.errors import (
    CorpusError,
    InputError,
)
from sera.summary import AFFECT


@dataclass(frozen=True)
class Recording:
    """One recording of a batch.

    Attributes
    ----------
    path : str
        As found (a folder argument joined with the file's place in it); the JSON's ``path``.
    name : str
        Output name: POSIX path relative to the output folder, without a suffix.
    columns : dict
        The manifest's own columns for this recording (empty for files and folders).
    problem : str or None
        Why it cannot be analysed before it is even opened (a folder that could not be read:
        reported as a failure, never skipped without a word).
    """

    path: str
    name: str
    columns: dict[str, str] = field(default_factory=dict, compare=False)
    problem: str | None = field(default=None, compare=False)


def find_recordings(paths: Iterable[str | os.PathLike]) -> list[Recording]:
    """The recordings of files, folders (searched for audio files) and CSV manifests.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        In the order their recordings are analysed and reported; a folder's files in sorted
        order, a manifest's in its row order. A path given twice is analysed once.

    Raises
    ------
    CorpusError
        A manifest without a ``path`` column or with an empty path.
    """
    recordings: list[Recording] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files, unreadable = audio_files(path)
            recordings += [Recording(str(file), output_name(file.relative_to(path)))
                           for file in files]
            recordings += [Recording(folder, output_name(Path(folder).relative_to(path)),
                                     problem=problem) for folder, problem in unreadable]
        elif path.suffix.lower() == ".csv" and path.is_file():
            recordings += read_manifest(path)
        else:
            # As given: the JSON's path is then the one `sera analyze FILE --json` prints.
            recordings.append(Recording(os.fspath(given), output_name(PurePath(path.name))))
    first: dict[str, Recording] = {}
    for recording in recordings:
        first.setdefault(recording.path, recording)
    return list(first.values())


def read_manifest(manifest: Path) -> list[Recording]:
    """The recordings a CSV manifest lists: its ``path`` column, its other columns carried.

    A relative path is relative to the manifest's folder; the output name is the path
    relative to that folder (a file outside it: its file name).
    """
    with open(manifest, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if "path" not in (reader.fieldnames or ()):
            raise CorpusError(f"{manifest}: a manifest needs a 'path' column (it has "
                              f"{', '.join(reader.fieldnames or ()) or 'none'})")
        rows = list(reader)
    root = manifest.parent
    recordings = []
    for line, row in enumerate(rows, start=2):
        value = (row.pop("path") or "").strip()
        if not value:
            raise CorpusError(f"{manifest}: line {line} has no path")
        path = root / value
        recordings.append(Recording(str(path), output_name(_relative_to(path, root)),
                                    {key: value or "" for key, value in row.items()
                                     if key is not None}))
    return recordings


def output_name(relative: PurePath) -> str:
    """The output name of a recording at ``relative``: POSIX separators, audio suffix dropped."""
    return PurePosixPath(*relative.parts).with_suffix("").as_posix()


def _relative_to(path: Path, root: Path) -> PurePath:
    """``path`` relative to ``root`` when it lies under it, else its file name alone."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if relative == ".." or relative.startswith(".." + os.sep):
        return PurePath(path.name)
    return PurePath(relative)


def check_outputs(recordings: Sequence[Recording], formats: Sequence[str],
                  labels: Sequence[str], out: Path) -> None:
    """Refuse a batch whose recordings would overwrite each other's outputs or the tables,
    or whose manifest columns would take the place of a summary column.

    Raises
    ------
    InputError
        Naming the recordings and the file they would share, or the column.
    """
    owner: dict[str, str] = {f"{table}.{suffix}": f"the {table} table"
                             for table in (SUMMARY, SPEAKERS) for suffix in ("csv", "parquet")}
    for recording in recordings:
        for fmt in formats:
            target = f"{recording.name}.{fmt}"
            if target in owner:
                raise InputError(f"{owner[target]} and {recording.path} would both be written "
                                 f"to {out / target}: analyze them into separate folders")
            owner[target] = recording.path
    taken = set(summary_columns(labels, AFFECT, ()))
    for recording in recordings:
        clash = sorted(taken & set(recording.columns))
        if clash:
            raise InputError(f"{recording.path}: the manifest column {clash[0]!r} is also a "
                             f"summary column: rename it")
