"""Cross-corpus evaluation: train on one corpus alone, test on every corpus.

:func:`cross_corpus_matrix` fills a train-corpus × test-corpus UAR matrix. Off the diagonal a
recipe trained on every speaker of the row's corpus is tested on all of the column's corpus;
on the diagonal it is trained and tested on disjoint speakers of the same corpus
(:func:`sera.splits.speaker_split`), so each cell is speaker-independent and the diagonal is
the within-corpus figure the off-diagonal cells fall from. Test features are normalised per
speaker (``adapt="speaker"``) by default, the adaptation that needs no labels and carries best
across corpora.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from sera.corpora import load_manifest
from sera.errors import SeraError
from sera.features.store import cached_features
from sera.metrics import evaluate_predictions
from sera.progress import ProgressReport
from sera.recipes import Recipe
from sera.splits import Split, speaker_split
from sera.train import fit

#: Fewest speakers a corpus needs for its diagonal cell (train, validation and test speakers).
MIN_SPEAKERS_FOR_DIAGONAL = 3


def cross_corpus_matrix(source, recipe: Recipe = Recipe(), *, adapt: str = "speaker",
                        cache_dir: str | os.PathLike | None = None, workers: int = 1,
                        progress: ProgressReport | None = None) -> dict:
    """UAR of a recipe trained on each corpus and tested on each corpus.

    Parameters
    ----------
    source : path or DataFrame
        Corpus folder, CSV manifest or manifest frame holding two corpora or more (its
        ``corpus`` column).
    recipe : Recipe
        What to train for each row.
    adapt : str
        Normalisation of the test features (``"speaker"``: each test speaker by their own
        statistics).
    cache_dir : path, optional
        Feature stores kept between runs.
    workers : int
        Feature-extraction processes.
    progress : ProgressReport, optional
        Told of the features computed (:mod:`sera.progress`).

    Returns
    -------
    dict
        ``{"corpora": [...], "uar": [[...]], "n": [[...]], "adapt", "recipe", "pooled",
        "failures"}``: ``uar[i][j]`` is the UAR of the model trained on ``corpora[i]`` tested on
        ``corpora[j]`` (``None`` on the diagonal of a corpus with too few speakers to split),
        ``n[i][j]`` its test utterances, ``pooled`` the :func:`sera.metrics.evaluate_predictions`
        figures of every off-diagonal prediction together.
    """
    if recipe.augment:
        raise SeraError("the cross-corpus matrix trains on original utterances only; "
                        "give a recipe without augment")
    manifest = load_manifest(source)
    corpora = sorted(manifest["corpus"].astype(str).unique())
    if len(corpora) < 2:
        raise SeraError(f"{source}: a cross-corpus matrix needs two corpora or more; found "
                        f"{', '.join(corpora)}")
    table = cached_features(manifest, recipe.feature_set, cache_dir=cache_dir, workers=workers,
                            progress=progress)
    X, frame = table.X, table.frame.reset_index(drop=True)
    in_corpus = {c: np.flatnonzero(frame["corpus"].astype(str).to_numpy() == c) for c in corpora}
    uar = [[None] * len(corpora) for _ in corpora]
    n = [[0] * len(corpora) for _ in corpora]
    true, predicted = [], []
    for i, train_corpus in enumerate(corpora):
        rows = in_corpus[train_corpus]
        everyone = fit(_part(X, frame, rows), recipe)
        within = _within_corpus_split(frame.iloc[rows], recipe.seed)
        for j, test_corpus in enumerate(corpora):
            if i == j:
                if within is None:
                    continue
                fitted = fit(_part(X, frame, rows[within.train]), recipe,
                             val=_part(X, frame, rows[within.val]))
                test = rows[within.test]
            else:
                fitted, test = everyone, in_corpus[test_corpus]
            proba = fitted.predict_proba(X[test], frame.iloc[test], adapt=adapt)
            labels = _labels(proba)
            metrics = evaluate_predictions(frame["emotion"].iloc[test], labels)
            uar[i][j], n[i][j] = metrics["uar"], metrics["n"]
            if i != j:
                true.extend(frame["emotion"].iloc[test])
                predicted.extend(labels)
    return {"corpora": corpora, "uar": uar, "n": n, "adapt": adapt,
            "recipe": recipe.to_config(), "pooled": evaluate_predictions(true, predicted),
            "failures": [{"path": path, "error": problem} for path, problem in table.failures]}


def _within_corpus_split(corpus_frame: pd.DataFrame, seed: int) -> Split | None:
    """Speaker-disjoint train/validation/test positions within one corpus, if it has speakers
    enough."""
    if corpus_frame["speaker"].nunique() < MIN_SPEAKERS_FOR_DIAGONAL:
        return None
    return speaker_split(corpus_frame.reset_index(drop=True), seed=seed)


def _part(X: np.ndarray, frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    return X[rows], frame.iloc[rows]


def _labels(proba: np.ndarray) -> list[str]:
    from sera.labels import LABELS

    return [LABELS[k] for k in proba.argmax(axis=1)]
