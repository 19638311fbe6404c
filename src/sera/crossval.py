"""Cross-validation: leave-one-speaker-out or leave-one-corpus-out folds of a recipe.

:func:`cross_validate` runs the folds (features and augmented copies computed once, each fold
fitted on its training speakers' rows only) and pools their held-out predictions; the figures
of the pool are :func:`sera.metrics.pooled_figures`'.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sera.corpora import load_manifest
from sera.errors import SeraError
from sera.features.store import cached_features
from sera.metrics import heldout_figures, pooled_figures
from sera.progress import ProgressReport
from sera.recipes import DEFAULT_RECIPE, Recipe
from sera.splits import corpus_split, loso
from sera.train import CALIBRATION_FOLDS_BY, fit, recipe_augmenter, training_rows


@dataclass
class CVResult:
    """What :func:`cross_validate` returns: pooled metrics, per-fold figures and predictions."""

    metrics: dict
    folds: list[dict]
    predictions: pd.DataFrame
    histories: dict[str, list[dict]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def cross_validate(source, recipe: Recipe = DEFAULT_RECIPE, *, split: str = "loso",
                   cache_dir: str | os.PathLike | None = None, workers: int = 1,
                   progress: ProgressReport | None = None,
                   on_fold: Callable[[str, dict], None] | None = None) -> CVResult:
    """Leave-one-speaker-out (``"loso"``) or leave-one-corpus-out (``"corpus"``) evaluation.

    Features (and augmented copies) are extracted once; each fold fits the recipe on its
    training speakers' rows only and predicts its held-out group's original clips, adapted
    (the recipe's ``adapt``) and one clip at a time. The pooled predictions give the headline
    figures (:func:`sera.metrics.pooled_figures`); ``folds`` gives each held-out group's own.

    Parameters
    ----------
    source : path, DataFrame or list
        As :func:`sera.corpora.load_manifest` takes it.
    recipe : Recipe
        What to fit in each fold.
    split : str
        ``"loso"`` or ``"corpus"``.
    cache_dir, workers, progress
        As for :func:`sera.train.train`.
    on_fold : callable, optional
        Called with each fold's name and figures as it finishes.

    Raises
    ------
    SeraError
        An unknown split, or leave-one-corpus-out over one corpus.
    """
    manifest = load_manifest(source)
    fs = recipe.feature_set
    base = cached_features(manifest, fs, cache_dir=cache_dir, workers=workers, progress=progress)
    kept = manifest[manifest["path"].isin(set(base.frame["path"]))].reset_index(drop=True)
    if split == "loso":
        folds = list(loso(kept, seed=recipe.seed))
    elif split == "corpus":
        corpora = sorted(kept["corpus"].unique())
        if len(corpora) < 2:
            raise SeraError(f"leave-one-corpus-out needs two corpora or more; found "
                            f"{', '.join(corpora)}")
        folds = [(c, corpus_split(kept, c, seed=recipe.seed)) for c in corpora]
    else:
        raise SeraError(f"cross-validation splits are loso and corpus, not {split!r}")

    X, frame = base.X, base.frame
    index = {p: i for i, p in enumerate(frame["path"])}
    pool = base
    if recipe.augment:
        # One pool of copies for every fold. With babble = "others" its crowd is every speaker,
        # so a held-out speaker's voice may murmur under a training copy; never their labels.
        pool = cached_features(kept, fs, cache_dir=cache_dir, workers=workers, progress=progress,
                               augment=recipe_augmenter(recipe, kept))
    pooled, probas = [], {"adapted": [], "single_clip": []}
    fold_figures, histories = [], {}
    for name, parts in folds:
        *rows, _ = training_rows(kept, parts, recipe, cache_dir, workers, progress=None,
                                  pool=pool)
        pick = lambda idx: np.array([index[p] for p in kept["path"].iloc[idx]], dtype=int)  # noqa: E731
        val_i, test_i = pick(parts.val), pick(parts.test)
        fitted = fit(rows, recipe, val=(X[val_i], frame.iloc[val_i]))
        proba = fitted.predict_proba(X[test_i], frame.iloc[test_i])
        probas["adapted"].append(proba)
        probas["single_clip"].append(fitted.predict_proba(X[test_i], frame.iloc[test_i],
                                                          adapt="none"))
        fold_metrics = heldout_figures(frame.iloc[test_i], proba)
        fold_figures.append({"fold": name, **{k: fold_metrics[k] for k in
                                               ("n", "accuracy", "uar", "macro_f1")}})
        histories[name] = list(getattr(fitted.estimator, "history", []) or [])
        predicted = frame.iloc[test_i][["path", "corpus", "speaker", "gender", "emotion"]].copy()
        predicted["fold"] = name
        pooled.append(predicted)
        if on_fold is not None:
            on_fold(name, fold_metrics)
    predictions = pd.concat(pooled, ignore_index=True)
    raw = {kind: np.concatenate(parts) for kind, parts in probas.items()}
    calibrate = recipe.calibration in CALIBRATION_FOLDS_BY
    metrics = pooled_figures(predictions, raw, calibrate=calibrate,
                             protocol="held out" if split == "corpus" else "LOSO")
    metrics["protocol"] = {"split": split, "recipe": recipe.to_config(), "folds": len(folds),
                           "calibration": "temperature per fold, fitted on the out-of-fold "
                                          "predictions of the other folds' speakers"
                           if calibrate else "none"}
    return CVResult(metrics=metrics, folds=fold_figures, predictions=predictions,
                    histories=histories, failures=base.failures)
