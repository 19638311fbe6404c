"""Detect a corpus's layout and scan it into a manifest.

Each audio file is labelled by the first convention that recognises it: the RAVDESS,
CREMA-D, TESS, SAVEE, EmoDB, nEMO, EMOVO and ASED file names, then an emotion-named folder.
So a corpus folder, the Kaggle bundle (``Crema/ Ravdess/ Savee/ Tess/`` under one root) and
any mix of them scan as one. A ``manifest.csv`` in the folder takes precedence over all of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sera.audio import AUDIO_EXTENSIONS, audio_files
from sera.corpora import ased, cremad, csvfile, emodb, emovo, folder, nemo, ravdess, savee, tess
from sera.corpora.base import ScanResult, Unlabelled, Utterance, build_result
from sera.errors import CorpusError, InputError

if TYPE_CHECKING:
    import pandas as pd

#: Layouts that read labels from file names, tried in this order.
FILE_NAME_LAYOUTS = (ravdess, cremad, tess, savee, emodb, nemo, emovo, ased)

_NO_CONVENTION = ("file name follows no RAVDESS, CREMA-D, TESS, SAVEE, EmoDB, nEMO, EMOVO or "
                  "ASED convention and no folder in its path names an emotion")


def scan(path: str | os.PathLike) -> ScanResult:
    """Scan a corpus folder or a CSV manifest into a manifest, without decoding audio.

    Parameters
    ----------
    path : str or path-like
        A folder (a corpus, the Kaggle bundle root, folders per label, or a folder holding
        ``manifest.csv``) or a CSV manifest file.

    Returns
    -------
    ScanResult
        ``.manifest`` (one row per utterance, sorted by path) and ``.skipped``.

    Raises
    ------
    CorpusError
        The path is missing, or holds no audio file that any layout recognises.
    """
    root = Path(os.path.abspath(Path(path).expanduser()))
    if not root.exists():
        raise CorpusError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return csvfile.scan(root)
        raise CorpusError(f"{root}: not a folder or a CSV manifest")
    if (root / csvfile.MANIFEST_NAME).is_file():
        return csvfile.scan(root / csvfile.MANIFEST_NAME)
    return _scan_folder(root)


def _scan_folder(root: Path) -> ScanResult:
    """Label every audio file under ``root`` by the first convention that recognises it."""
    files, unreadable = audio_files(root)
    if not files:
        extensions = " ".join(sorted(AUDIO_EXTENSIONS))
        where = f" ({unreadable[0][0]}: {unreadable[0][1]})" if unreadable else ""
        raise CorpusError(f"{root}: no audio files ({extensions}) in this folder{where}")
    labelled, skipped, recognised = [], list(unreadable), 0
    for path in files:
        try:
            utterance = _label(path, root)
        except Unlabelled as why:
            recognised += 1
            skipped.append((path, str(why)))
            continue
        if utterance is None:
            skipped.append((path, _NO_CONVENTION))
        else:
            recognised += 1
            labelled.append((path, utterance))
    if not recognised:
        raise CorpusError(f"{root}: no recognisable layout: none of its {len(files)} audio "
                          "files follows a RAVDESS, CREMA-D, TESS, SAVEE, EmoDB, nEMO, EMOVO or "
                          "ASED name or sits in a folder named after an emotion (or give a CSV "
                          "manifest)")
    return build_result(labelled, skipped)


def _label(path: Path, root: Path) -> Utterance | None:
    """The first layout's reading of a file; ``None`` if no layout recognises it."""
    for layout in FILE_NAME_LAYOUTS:
        utterance = layout.parse(path)
        if utterance is not None:
            return utterance
    return folder.parse(path, root)


def load_manifest(source) -> pd.DataFrame:
    """A manifest from a corpus folder, a CSV manifest, a manifest frame, or a list of them
    (several corpora in one run: their rows together, each file once).

    Raises
    ------
    CorpusError
        No source, or one with no labelled utterances.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    if isinstance(source, (list, tuple)):
        if not source:
            raise CorpusError("no corpus given")
        frames = [load_manifest(one) for one in source]
        merged = pd.concat(frames, ignore_index=True).drop_duplicates("path")
        return merged.sort_values("path", kind="stable").reset_index(drop=True)
    result = scan(source)
    if result.manifest.empty:
        raise CorpusError(f"{source}: no labelled utterances found")
    return result.manifest


def collect_clips(paths: list[str | os.PathLike], group_by: str | None = None
                  ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The audio files named by files, folders and CSV manifests, the group of each, and the
    folders that could not be read.

    Parameters
    ----------
    paths : list of path
        Audio files, folders (searched for audio files) and CSV manifests (their files).
    group_by : str, optional
        A manifest column (``"speaker"``, ``"corpus"``, ...) whose value groups each file:
        folders are then scanned as corpora for it. ``None``: each file is its own group.

    Returns
    -------
    clips : list of str
        The files, in the order given (a folder's in its sorted order).
    groups : list of str
        The group of each clip.
    unreadable : list of (str, str)
        ``(folder, problem)`` of what could not be searched (failures, like files that
        cannot be read).

    Raises
    ------
    InputError
        ``group_by`` for a single audio file (its group is unknown), or a manifest without
        that column.
    """
    clips: list[str] = []
    groups: list[str] = []
    unreadable: list[tuple[str, str]] = []
    for path in map(Path, paths):
        manifest_file = path.is_file() and path.suffix.lower() == ".csv"
        if group_by is not None or manifest_file:
            if path.is_file() and not manifest_file:
                raise InputError(f"{path}: grouping by {group_by} needs the {group_by} of each "
                                 f"clip: give the corpus folder or a CSV manifest, not a "
                                 f"single file")
            manifest = scan(path).manifest
            if group_by is not None and group_by not in manifest.columns:
                raise InputError(f"{path}: the manifest has no column {group_by!r} (it has "
                                 f"{', '.join(manifest.columns)})")
            files = manifest["path"].tolist()
            clips += files
            groups += manifest[group_by].astype(str).tolist() if group_by else files
        elif path.is_dir():
            found, refused = audio_files(path)
            clips += map(str, found)
            groups += map(str, found)
            unreadable += refused
        else:
            clips.append(str(path))
            groups.append(str(path))
    return clips, groups, unreadable
