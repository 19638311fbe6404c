"""EMOVO (Italian acted emotional speech): ``f1/dis-f1-b1.wav``.

Three dash-separated fields: the state (``dis gio neu pau rab sor tri``), the actor (``f1``-``f3``
female, ``m1``-``m3`` male) and the sentence (``b1``-``b3``, ``d1``-``d2``, ``l1``-``l4``,
``n1``-``n5``). Costantini et al. (2014), LREC; released for research use only.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "emovo"

_NAME = re.compile(r"^([a-z]{3})-([fm]\d)-([a-z]\d)$", re.IGNORECASE)

#: Gender by the actor code's letter.
GENDER_BY_LETTER = {"f": "female", "m": "male"}


def parse(path: Path) -> Utterance | None:
    """Labels of an EMOVO file from its name; ``None`` if the name is not EMOVO's.

    Raises
    ------
    Unlabelled
        A state code outside the corpus's seven.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    state, actor, sentence = (part.lower() for part in match.groups())
    if state not in labels.EMOVO:
        raise Unlabelled(f"unknown EMOVO state {state!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{actor}",
        gender=GENDER_BY_LETTER[actor[0]],
        emotion=labels.EMOVO[state],
        key=f"{state}-{actor}-{sentence}",
    )
