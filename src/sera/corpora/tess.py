"""TESS: ``OAF_angry/OAF_back_angry.wav``.

Two actresses, OAF (older) and YAF (younger), each say "Say the word ..." for 200 words
in seven emotions. The emotion is the file name's last part; Kaggle copies spell the
folders in several ways (``OAF_Fear``, ``OAF_Pleasant_surprise``,
``YAF_pleasant_surprised``), which serve only when a file name's emotion is unknown.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "tess"

_NAME = re.compile(r"^(OAF|YAF)_([a-z]+)_([a-z_]+)$", re.IGNORECASE)

#: Both TESS speakers are women.
GENDER = "female"


def parse(path: Path) -> Utterance | None:
    """Labels of a TESS file from its name (or its folder); ``None`` if not TESS's.

    Raises
    ------
    Unlabelled
        Neither the file name nor the folder names a TESS emotion.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    speaker, word, emotion = match.group(1).upper(), match.group(2).lower(), match.group(3)
    label = labels.TESS.get(emotion.lower()) or labels.TESS.get(_folder_emotion(path, speaker))
    if label is None:
        raise Unlabelled(f"unknown TESS emotion {emotion!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{speaker}",
        gender=GENDER,
        emotion=label,
        text=f"Say the word {word}",
        key=f"{speaker}_{word}_{label}",
    )


def _folder_emotion(path: Path, speaker: str) -> str:
    """The emotion part of a ``SPEAKER_emotion`` folder name, lower-case ('' if none)."""
    folder = path.parent.name.lower()
    prefix = f"{speaker.lower()}_"
    return folder[len(prefix):] if folder.startswith(prefix) else ""
