"""ASED (Amharic emotional speech): ``01Neutral/n1-01-01-01-01.wav``.

Five dash-separated fields: the emotion and its number (``n1`` neutral, ``f2`` fear, ``h3``
happy, ``s4`` sad, ``a5`` angry; one file of the release writes ``S4``), the sentence, the
repetition, the gender (``01`` female, ``02`` male) and the speaker (``01``-``65``). A few
speakers have one file with the other gender code; :func:`sera.corpora.base.build_result` gives
every speaker the gender most of their files give. Retta et al. (2023), ACM TALLIP; no licence
stated (research use with citation). No disgust, no surprise.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "ased"

_NAME = re.compile(r"^([a-z]\d)-(\d{2})-(\d{2})-(\d{2})-(\d{2})$", re.IGNORECASE)

#: The gender field.
GENDERS = {"01": "female", "02": "male"}


def parse(path: Path) -> Utterance | None:
    """Labels of an ASED file from its name; ``None`` if the name is not ASED's.

    Raises
    ------
    Unlabelled
        An emotion code or a gender code outside the corpus's.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    code, sentence, repetition, gender, speaker = match.groups()
    code = code.lower()
    if code not in labels.ASED:
        raise Unlabelled(f"unknown ASED emotion code {code!r}")
    if gender not in GENDERS:
        raise Unlabelled(f"unknown ASED gender code {gender!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{speaker}",
        gender=GENDERS[gender],
        emotion=labels.ASED[code],
        key=f"{code}-{sentence}-{repetition}-{speaker}",
    )
