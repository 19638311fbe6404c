"""Train / validation / test splits of a manifest, and the checks that keep them honest.

Every split is a :class:`Split` of positional row indices (``frame.iloc[...]``). The honest
splits keep speakers apart: :func:`speaker_split` (the default), :func:`loso`
(leave-one-speaker-out) and :func:`corpus_split` (test on a corpus never trained on). Only the
training rows of an honest split are ever augmented, and :func:`rows_to_augment` is the one way
to get them. :func:`random_split` is the seed's protocol (rows shuffled after augmentation, so
copies of one utterance land on both sides); it warns that its figure is inflated by leakage.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sera.errors import LeakageError, SplitError


class LeakageWarning(UserWarning):
    """A split whose test figure is inflated because test data also reached training."""


@dataclass(frozen=True)
class Split:
    """Positional row indices of the training, validation and test parts of a frame."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            object.__setattr__(self, part, np.sort(np.asarray(getattr(self, part), dtype=np.int64)))

    def frames(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The train, validation and test rows of ``frame`` (the frame the split was made on)."""
        return frame.iloc[self.train], frame.iloc[self.val], frame.iloc[self.test]


def check_disjoint(a: pd.DataFrame, b: pd.DataFrame, on: Iterable[str] = ("path", "speaker"),
                   ) -> None:
    """Raise if any value of the ``on`` columns appears in both frames.

    ``path`` is the source utterance: augmented rows carry the path of the utterance they were
    made from, so a shared path means an augmented copy of one side reached the other.

    Raises
    ------
    LeakageError
        Naming the column, how many values are shared and a few of them.
    """
    for column in on:
        shared = sorted(set(a[column].dropna()) & set(b[column].dropna()), key=str)
        if shared:
            shown = ", ".join(map(str, shared[:3])) + (", ..." if len(shared) > 3 else "")
            raise LeakageError(f"{len(shared)} {column} value(s) on both sides of the split: "
                               f"{shown}")


def rows_to_augment(manifest: pd.DataFrame, split: Split) -> pd.DataFrame:
    """The training rows of an honest split: the only utterances that may be augmented.

    Checks first that no speaker and no utterance of the validation or test part is among them,
    so an augmented copy made from the returned rows can never carry held-out data into training.

    Raises
    ------
    LeakageError
        If the split shares a speaker or an utterance between training and held-out rows.
    """
    train, val, test = split.frames(manifest)
    held_out = pd.concat([val, test])
    check_disjoint(train, held_out)
    return train


def speaker_split(manifest: pd.DataFrame, test_size: float = 0.2, val_size: float = 0.1,
                  seed: int = 0) -> Split:
    """Split by speaker: no speaker in more than one part.

    Parameters
    ----------
    manifest : pd.DataFrame
        With ``speaker`` and (optionally) ``gender`` columns.
    test_size, val_size : float
        Fractions of the *speakers* held out for test and validation. Each part gets at least
        one speaker (``val_size=0`` gives no validation part).
    seed : int
        Which speakers are drawn.

    Returns
    -------
    Split
        Speaker-disjoint parts, each with the genders in proportion as far as counts allow.

    Raises
    ------
    SplitError
        If some rows have no speaker, or there are too few speakers for the parts asked for.
    """
    speakers = _speakers(manifest)
    n_test = max(1, round(test_size * len(speakers)))
    n_val = max(1, round(val_size * len(speakers))) if val_size > 0 else 0
    if len(speakers) < n_test + n_val + 1:
        raise SplitError(f"{len(speakers)} speaker(s) cannot be split into training, validation "
                         f"and test speakers ({n_test + n_val + 1} needed)")
    order = _stratified_order(speakers, np.random.default_rng(seed))
    test_speakers, val_speakers = order[:n_test], order[n_test:n_test + n_val]
    return _split_by(manifest["speaker"], val_speakers, test_speakers)


def loso(manifest: pd.DataFrame, val_size: float = 0.1, seed: int = 0,
         ) -> Iterator[tuple[str, Split]]:
    """Leave-one-speaker-out folds, in speaker order.

    Each fold tests on one speaker; its validation speakers (``val_size`` of the others, at
    least one) are drawn from the rest with a seed derived from ``seed`` and the fold number.

    Yields
    ------
    (speaker, Split)
        The held-out speaker and its split.
    """
    speakers = _speakers(manifest)
    if len(speakers) < 3:
        raise SplitError(f"leave-one-speaker-out needs at least 3 speakers, found {len(speakers)}")
    for fold, speaker in enumerate(speakers.index):
        others = speakers.drop(speaker)
        n_val = max(1, round(val_size * len(others))) if val_size > 0 else 0
        order = _stratified_order(others, np.random.default_rng([seed, fold]))
        yield str(speaker), _split_by(manifest["speaker"], order[:n_val], [speaker])


def corpus_split(manifest: pd.DataFrame, test_corpus: str | Iterable[str], val_size: float = 0.1,
                 seed: int = 0) -> Split:
    """Test on one corpus (or several); train and validate on the others, speaker-disjoint.

    Raises
    ------
    SplitError
        If a test corpus is not in the manifest, or no other corpus is left to train on.
    """
    tests = [test_corpus] if isinstance(test_corpus, str) else list(test_corpus)
    corpora = set(manifest["corpus"])
    missing = sorted(set(tests) - corpora)
    if missing:
        raise SplitError(f"corpus {', '.join(missing)} not in the manifest "
                         f"(it has {', '.join(sorted(corpora))})")
    rest = manifest[~manifest["corpus"].isin(tests)]
    if rest.empty:
        raise SplitError(f"nothing left to train on once {', '.join(tests)} is held out")
    test_speakers = manifest.loc[manifest["corpus"].isin(tests), "speaker"].unique()
    speakers = _speakers(rest)
    n_val = max(1, round(val_size * len(speakers))) if val_size > 0 else 0
    if len(speakers) < n_val + 1:
        raise SplitError(f"{len(speakers)} training speaker(s) cannot also give "
                         f"{n_val} validation speaker(s)")
    order = _stratified_order(speakers, np.random.default_rng(seed))
    return _split_by(manifest["speaker"], order[:n_val], test_speakers)


def random_split(frame: pd.DataFrame, test_size: float = 0.2, val_size: float = 0.0,
                 seed: int = 0) -> Split:
    """The seed's protocol: shuffle all rows, augmented copies included, and cut.

    Speakers, and copies of one utterance, end up on both sides, so the test figure measures
    memory of voices and recordings, not generalisation. Always warns.

    Warns
    -----
    LeakageWarning
        Saying that the figure is inflated by leakage.
    """
    warnings.warn("random split: the same speakers and augmented copies of the same utterances "
                  "are in training and test, so the figure it gives is inflated by leakage; "
                  "use the speaker split for an honest one", LeakageWarning, stacklevel=2)
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = round(test_size * len(frame))
    n_val = round(val_size * len(frame))
    return Split(train=order[n_test + n_val:], val=order[n_test:n_test + n_val],
                 test=order[:n_test])


def _speakers(manifest: pd.DataFrame) -> pd.Series:
    """Each speaker's gender (its most frequent one), indexed by speaker in sorted order."""
    if manifest["speaker"].isna().any():
        missing = int(manifest["speaker"].isna().sum())
        raise SplitError(f"{missing} utterance(s) have no speaker, so the split cannot keep "
                         f"speakers apart (use the random split, which is leaky)")
    gender = manifest["gender"] if "gender" in manifest else pd.Series("unknown", manifest.index)
    gender = gender.fillna("unknown").astype(str)
    speakers = gender.groupby(manifest["speaker"].astype(str)).agg(lambda g: g.mode().iloc[0])
    return speakers.sort_index()


def _stratified_order(speakers: pd.Series, rng: np.random.Generator) -> list[str]:
    """Speakers in a random order whose every prefix has the genders in proportion.

    Within each gender the speakers are shuffled; the i-th of n speakers of a gender is placed
    at (i + 0.5) / n, so taking the first k speakers of the order takes each gender in its
    share. Ties between genders are broken at random.
    """
    keys = []
    for _, group in speakers.groupby(speakers, sort=True):
        shuffled = rng.permutation(group.index.to_numpy())
        keys += [((i + 0.5) / len(shuffled), rng.random(), s) for i, s in enumerate(shuffled)]
    return [speaker for *_, speaker in sorted(keys)]


def _split_by(speaker_column: pd.Series, val_speakers: Iterable[object],
              test_speakers: Iterable[object]) -> Split:
    """Rows whose speaker is in the test set, the validation set, or neither (training)."""
    speaker = speaker_column.astype(str).to_numpy()
    is_test = np.isin(speaker, [str(s) for s in test_speakers])
    is_val = np.isin(speaker, [str(s) for s in val_speakers]) & ~is_test
    rows = np.arange(len(speaker))
    return Split(train=rows[~is_test & ~is_val], val=rows[is_val], test=rows[is_test])
