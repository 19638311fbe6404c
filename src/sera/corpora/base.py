"""What every corpus layout shares: the manifest columns, the scan result, file helpers.

A layout module turns one file into an :class:`Utterance` (its labels and speaker), returns
``None`` when the file does not follow its convention, or raises :class:`Unlabelled` when the
file follows the convention but cannot be given one of sera's labels. :func:`build_result`
turns the labelled files into the manifest every later stage reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sera.errors import CorpusError, os_problem
from sera.labels import LABELS

if TYPE_CHECKING:
    import pandas as pd

#: Manifest columns, in order. ``intensity`` and ``text`` are ``None`` where unknown.
COLUMNS: tuple[str, ...] = ("path", "corpus", "speaker", "gender", "emotion", "intensity", "text")

#: The manifest column that groups utterances for each adaptation mode (a speaker's clips, a
#: corpus's, one file's).
GROUP_COLUMNS = {"speaker": "speaker", "corpus": "corpus", "recording": "path"}

#: Loose gender names (lower-case) a CSV column or a folder name may use.
GENDERS = {
    "female": "female", "f": "female", "woman": "female", "women": "female",
    "male": "male", "m": "male", "man": "male", "men": "male",
}

#: The speaker id (after its corpus prefix) of files whose speaker is not known; every such
#: file of a corpus counts as one pooled speaker.
UNKNOWN_SPEAKER = "unknown"


class Unlabelled(Exception):
    """A file follows a layout's convention but cannot get a canonical label; ``str`` says why."""


@dataclass(frozen=True)
class Utterance:
    """The labels of one file, as a layout reads them from its name or folder.

    Attributes
    ----------
    corpus, speaker, gender, emotion : str
        Manifest values; ``speaker`` already carries its corpus prefix.
    intensity, text : str or None
        Where the corpus records them.
    key : str or None
        Identity of the recording within its corpus, so that two copies of one utterance
        (a Kaggle copy beside the original release) count once. ``None``: the path.
    """

    corpus: str
    speaker: str
    gender: str
    emotion: str
    intensity: str | None = None
    text: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """A scanned corpus.

    Attributes
    ----------
    manifest : pandas.DataFrame
        One row per utterance, columns :data:`COLUMNS`, sorted by path.
    skipped : list of (str, str)
        ``(path, reason)`` for audio files that could not be labelled.
    """

    manifest: pd.DataFrame
    skipped: list[tuple[str, str]]

    def summary(self) -> dict:
        """Counts per emotion (all seven, canonical order), speaker, gender and corpus.

        Returns
        -------
        dict
            ``{"n", "by_emotion", "by_speaker", "by_gender", "by_corpus",
            "skipped": [{"path", "reason"}]}``, ready for JSON.
        """
        frame = self.manifest
        by_emotion = frame["emotion"].value_counts()
        return {
            "n": len(frame),
            "by_emotion": {label: int(by_emotion.get(label, 0)) for label in LABELS},
            "by_speaker": _counts(frame["speaker"]),
            "by_gender": _counts(frame["gender"]),
            "by_corpus": _counts(frame["corpus"]),
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
        }


def speaker_id(corpus: str, speaker: str) -> str:
    """Prefix a speaker id with its corpus (``ravdess-07``), unless it already is."""
    prefix = f"{corpus}-"
    return speaker if speaker.startswith(prefix) else prefix + speaker


def build_result(labelled: Iterable[tuple[Path, Utterance]],
                 skipped: Iterable[tuple[Path | str, str]]) -> ScanResult:
    """Assemble a :class:`ScanResult`: sort by path, drop second copies of one recording, give
    each speaker one gender (:func:`majority_gender`).

    Parameters
    ----------
    labelled : iterable of (Path, Utterance)
        Absolute paths and their labels.
    skipped : iterable of (path, reason)
        Files already found unusable.
    """
    rows, first_copy = [], {}
    skipped = [(str(path), reason) for path, reason in skipped]
    labelled = sorted(labelled, key=lambda item: str(item[0]))
    gender = majority_gender(utt for _path, utt in labelled)
    for path, utt in labelled:
        key = (utt.corpus, utt.key or str(path))
        if key in first_copy:
            skipped.append((str(path), f"duplicate of {first_copy[key]}"))
            continue
        first_copy[key] = str(path)
        rows.append((str(path), utt.corpus, utt.speaker, gender.get(utt.speaker, utt.gender),
                     utt.emotion, utt.intensity, utt.text))
    # object dtype keeps None (not NaN) where intensity or text is unknown.
    import pandas as pd  # imported here: sera.corpora.voice (the synthetic voices) needs none

    manifest = pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)
    return ScanResult(manifest=manifest, skipped=sorted(skipped))


def majority_gender(utterances: Iterable[Utterance]) -> dict[str, str]:
    """Each known speaker's gender: the one most of their files give.

    A speaker has one gender, but a corpus's labels can disagree (ASED gives five speakers one
    file with the other gender code). ``unknown`` counts only where nothing else is given; a tie
    goes to the gender of the speaker's first file. The pool of files without a speaker
    (``<corpus>-unknown``) is no one speaker and keeps each file's own gender.
    """
    votes: dict[str, dict[str, int]] = {}
    for utt in utterances:
        if utt.speaker == speaker_id(utt.corpus, UNKNOWN_SPEAKER):
            continue
        votes.setdefault(utt.speaker, {}).setdefault(utt.gender, 0)
        votes[utt.speaker][utt.gender] += 1
    chosen = {}
    for speaker, counts in votes.items():
        known = {g: n for g, n in counts.items() if g != "unknown"} or counts
        chosen[speaker] = max(known, key=known.get)  # first maximum: the first file's on a tie
    return chosen


def write_manifest(manifest: pd.DataFrame, out: str | os.PathLike) -> Path:
    """Write a manifest as CSV atomically (a temporary file, then a rename); return its path.

    A path that is not valid UTF-8 is written byte for byte (surrogateescape), so the manifest
    still names that file and :func:`sera.corpora.scan` reads it back to the same path.

    Raises
    ------
    CorpusError
        The manifest cannot be written (the path and the system's reason); no partial file
        is left behind.
    """
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        manifest.to_csv(partial, index=False, encoding="utf-8", errors="surrogateescape")
        os.replace(partial, out)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise CorpusError(f"{out}: cannot write the manifest ({os_problem(err)})") from None
    return out


def _counts(column: pd.Series) -> dict[str, int]:
    """Value counts as a plain dict sorted by value."""
    return {str(key): int(count) for key, count in sorted(column.value_counts().items())}
