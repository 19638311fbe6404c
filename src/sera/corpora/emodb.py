"""EmoDB (Berlin Database of Emotional Speech): ``wav/03a01Fa.wav``.

Speaker (2 digits), sentence code (``a01``...``b10``), emotion letter (German initial),
version letter. Boredom (``L``) has no canonical label and is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "emodb"

_NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")

#: Speaker -> sex, from the EmoDB documentation.
GENDERS = {
    "03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
    "12": "male", "13": "female", "14": "female", "15": "male", "16": "female",
}

#: Sentence codes, from the EmoDB documentation.
SENTENCES = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}


def parse(path: Path) -> Utterance | None:
    """Labels of an EmoDB file from its name; ``None`` if the name is not EmoDB's.

    Raises
    ------
    Unlabelled
        Boredom, or an emotion letter outside the corpus's seven.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    speaker, sentence, emotion, _version = match.groups()
    if emotion not in labels.EMODB:
        raise Unlabelled(f"unknown EmoDB emotion code {emotion!r}")
    label = labels.EMODB[emotion]
    if label is None:
        # labels.EMODB maps only boredom to None: sera's seven labels have no place for it.
        raise Unlabelled(f"EmoDB emotion {emotion!r} (boredom) is left out by default")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{speaker}",
        gender=GENDERS.get(speaker, "unknown"),
        emotion=label,
        text=SENTENCES.get(sentence),
        key=path.stem,
    )
