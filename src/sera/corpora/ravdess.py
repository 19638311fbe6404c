"""RAVDESS: ``Actor_07/03-01-05-02-01-01-07.wav``.

Seven dash-separated fields: modality, vocal channel, emotion, intensity, statement,
repetition, actor. Odd-numbered actors are male, even-numbered female. Song files
(vocal channel 02) are left out: sera is about speech.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "ravdess"

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")

#: Vocal channel field: 01 speech, 02 song.
SPEECH = "01"

#: Gender by actor number parity (even, odd).
GENDER_BY_PARITY = ("female", "male")


def parse(path: Path) -> Utterance | None:
    """Labels of a RAVDESS file from its name; ``None`` if the name is not RAVDESS's.

    Raises
    ------
    Unlabelled
        A song file, or an emotion code outside the corpus's eight.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    _modality, channel, emotion, intensity, statement, _repetition, actor = match.groups()
    if channel != SPEECH:
        raise Unlabelled(f"RAVDESS vocal channel {channel} is song, not speech")
    if emotion not in labels.RAVDESS:
        raise Unlabelled(f"unknown RAVDESS emotion code {emotion!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{actor}",
        gender=GENDER_BY_PARITY[int(actor) % 2],
        emotion=labels.RAVDESS[emotion],
        intensity=labels.RAVDESS_INTENSITY.get(intensity),
        text=labels.RAVDESS_STATEMENT.get(statement),
        key=path.stem,
    )
