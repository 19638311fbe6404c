"""SAVEE: ``ALL/DC_a01.wav`` (Kaggle) or ``DC/a01.wav`` (the original release).

Four male speakers (DC, JE, JK, KL); an emotion prefix (a, d, f, h, n, sa, su) and a
two-digit sentence number.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "savee"

SPEAKERS = ("DC", "JE", "JK", "KL")

#: All four SAVEE speakers are men.
GENDER = "male"

_SPEAKER = "|".join(SPEAKERS)
_NAME_WITH_SPEAKER = re.compile(rf"^({_SPEAKER})_([a-z]{{1,2}})(\d{{2}})$", re.IGNORECASE)
_NAME_IN_SPEAKER_FOLDER = re.compile(r"^([a-z]{1,2})(\d{2})$", re.IGNORECASE)


def parse(path: Path) -> Utterance | None:
    """Labels of a SAVEE file from its name (and folder); ``None`` if not SAVEE's.

    Raises
    ------
    Unlabelled
        An emotion prefix outside the corpus's seven.
    """
    match = _NAME_WITH_SPEAKER.match(path.stem)
    if match is not None:
        speaker, code, number = match.groups()
    else:
        match = _NAME_IN_SPEAKER_FOLDER.match(path.stem)
        if match is None or path.parent.name.upper() not in SPEAKERS:
            return None
        speaker, (code, number) = path.parent.name, match.groups()
    speaker, code = speaker.upper(), code.lower()
    if code not in labels.SAVEE:
        raise Unlabelled(f"unknown SAVEE emotion code {code!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{speaker}",
        gender=GENDER,
        emotion=labels.SAVEE[code],
        key=f"{speaker}_{code}{number}",
    )
