"""Folder per label: ``ROOT/angry/a.wav``, ``ROOT/spk1/angry/a.wav``, ``ROOT/female/sad/a.wav``.

The emotion is the folder nearest the file whose name is an emotion (any spelling in
:data:`sera.labels.ALIASES`). Other folders between the root and the file name the speaker,
except ``female``/``male``-style folders, which give the gender.
"""

from __future__ import annotations

from pathlib import Path

from sera.corpora.base import GENDERS, UNKNOWN_SPEAKER, Utterance, speaker_id
from sera.labels import canonical

NAME = "folder"



def parse(path: Path, root: Path) -> Utterance | None:
    """Labels of a file from the folders between ``root`` and it; ``None`` if none is an emotion.

    Parameters
    ----------
    path : Path
        The audio file, under ``root``.
    root : Path
        The scanned folder; folders above it are never read as labels.
    """
    folders = path.relative_to(root).parts[:-1]
    emotions = [label for label in map(canonical, folders) if label is not None]
    if not emotions:
        return None
    genders = [GENDERS[name.lower()] for name in folders if name.lower() in GENDERS]
    speakers = [name for name in folders
                if canonical(name) is None and name.lower() not in GENDERS]
    return Utterance(
        corpus=NAME,
        speaker=speaker_id(NAME, "/".join(speakers) or UNKNOWN_SPEAKER),
        gender=genders[-1] if genders else "unknown",
        emotion=emotions[-1],
    )
