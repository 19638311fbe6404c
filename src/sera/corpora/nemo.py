"""nEMO (Polish acted emotional speech): ``samples/EB0_anger_12.flac`` + ``data.tsv``.

File names carry the speaker and the emotion (``{speaker}_{emotion}_{n}``); the corpus's
``data.tsv`` beside ``samples/`` (tab-separated ``file_id, emotion, raw_text,
normalized_text, speaker_id, gender, age``) adds gender and transcript. Its ``speaker_id``
values carry leading spaces in the original release, so they are stripped. nEMO has no
disgust: a model trained on it must not take the missing class as evidence against it.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

from sera import labels
from sera.corpora.base import GENDERS, Unlabelled, Utterance

NAME = "nemo"

#: The corpus's metadata file, in the folder that holds ``samples/``.
METADATA = "data.tsv"

_NAME = re.compile(r"^([A-Z]{2}\d)_([a-z]+)_(\d+)$")


def parse(path: Path) -> Utterance | None:
    """Labels of an nEMO file from its name (and ``data.tsv``, where it lies beside
    ``samples/``); ``None`` if the name is not nEMO's.

    Raises
    ------
    Unlabelled
        An emotion word outside the corpus's six.
    """
    match = _NAME.match(path.stem)
    if match is None:
        return None
    speaker, emotion, _number = match.groups()
    if emotion not in labels.NEMO:
        raise Unlabelled(f"unknown nEMO emotion {emotion!r}")
    row = _metadata(path.parent.parent / METADATA).get(path.name, {})
    if row and row["speaker"] != speaker:
        raise Unlabelled(f"{METADATA} names speaker {row['speaker']!r}, the file name "
                         f"{speaker!r}")
    return Utterance(
        corpus=NAME,
        speaker=f"{NAME}-{speaker}",
        gender=row.get("gender", "unknown"),
        emotion=labels.NEMO[emotion],
        text=row.get("text"),
        key=path.stem,
    )


@functools.lru_cache(maxsize=8)
def _metadata(tsv: Path) -> dict[str, dict]:
    """``data.tsv`` keyed by file name: ``{"speaker", "gender", "text"}``; ``{}`` if absent."""
    if not tsv.is_file():
        return {}
    with open(tsv, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = {}
    for row in rows:
        name = row["file_id"].strip()
        if not name.endswith(".flac") and not name.endswith(".wav"):
            name += ".flac"
        out[name] = {"speaker": row["speaker_id"].strip(),
                     "gender": GENDERS.get(row["gender"].strip().lower(), "unknown"),
                     "text": row["raw_text"].strip() or None}
    return out
