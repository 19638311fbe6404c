"""CREMA-D: ``AudioWAV/1001_DFA_ANG_XX.wav``.

Four underscore-separated fields: actor (1001-1091), sentence, emotion, level. Gender per
actor comes from the corpus's own ``VideoDemographics.csv``.
"""

from __future__ import annotations

import re
from pathlib import Path

from sera import labels
from sera.corpora.base import Unlabelled, Utterance

NAME = "cremad"

_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")

#: Actor id -> sex, transcribed from CREMA-D's VideoDemographics.csv (48 male, 43 female).
GENDERS = {
    "1001": "male", "1002": "female", "1003": "female", "1004": "female", "1005": "male",
    "1006": "female", "1007": "female", "1008": "female", "1009": "female", "1010": "female",
    "1011": "male", "1012": "female", "1013": "female", "1014": "male", "1015": "male",
    "1016": "male", "1017": "male", "1018": "female", "1019": "male", "1020": "female",
    "1021": "female", "1022": "male", "1023": "male", "1024": "female", "1025": "female",
    "1026": "male", "1027": "male", "1028": "female", "1029": "female", "1030": "female",
    "1031": "male", "1032": "male", "1033": "male", "1034": "male", "1035": "male",
    "1036": "male", "1037": "female", "1038": "male", "1039": "male", "1040": "male",
    "1041": "male", "1042": "male", "1043": "female", "1044": "male", "1045": "male",
    "1046": "female", "1047": "female", "1048": "male", "1049": "female", "1050": "male",
    "1051": "male", "1052": "female", "1053": "female", "1054": "female", "1055": "female",
    "1056": "female", "1057": "male", "1058": "female", "1059": "male", "1060": "female",
    "1061": "female", "1062": "male", "1063": "female", "1064": "male", "1065": "male",
    "1066": "male", "1067": "male", "1068": "male", "1069": "male", "1070": "male",
    "1071": "male", "1072": "female", "1073": "female", "1074": "female", "1075": "female",
    "1076": "female", "1077": "male", "1078": "female", "1079": "female", "1080": "male",
    "1081": "male", "1082": "female", "1083": "male", "1084": "female", "1085": "male",
    "1086": "male", "1087": "male", "1088": "male", "1089": "female", "1090": "male",
    "1091": "female",
}

#: Sentence codes (file-name field 2), from the CREMA-D documentation.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}


def parse(path: Path) -> Utterance | None:
    """Labels of a CREMA-D file from its name; ``None`` if the name is not CREMA-D's.

    Raises
    ------
    Unlabelled
        An emotion code outside the corpus's six.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    actor, sentence, emotion, level = match.groups()
    if emotion not in labels.CREMAD:
        raise Unlabelled(f"unknown CREMA-D emotion code {emotion!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{actor}",
        gender=GENDERS.get(actor, "unknown"),
        emotion=labels.CREMAD[emotion],
        intensity=labels.CREMAD_INTENSITY.get(level),
        text=SENTENCES.get(sentence),
        key=path.stem,
    )
