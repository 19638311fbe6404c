"""Evaluate a model bundle on a labelled corpus: figures, breakdowns, adaptation, honesty checks.

:func:`evaluate` runs the bundle through the same inference path as ``sera predict``
(onnxruntime, no torch) and scores it with :func:`sera.metrics.evaluate_predictions`.
Utterances of speakers the bundle was trained on are left out by default, so the figure
is speaker-independent unless asked otherwise.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from sera.calibration import expected_calibration_error, reliability
from sera.corpora import GROUP_COLUMNS, load_manifest
from sera.corpora.base import UNKNOWN_SPEAKER
from sera.errors import SeraError, check_choice
from sera.metrics import breakdown, evaluate_predictions
from sera.options import ADAPTS
from sera.progress import ProgressReport

#: Placeholder speaker ids that say nothing about who is speaking.
_UNKNOWN_SPEAKER_SUFFIX = f"-{UNKNOWN_SPEAKER}"


def default_adapt(manifest: pd.DataFrame) -> str:
    """The adaptation ``evaluate`` uses when none is asked for.

    Per-speaker normalisation when the corpus names its speakers (their statistics need no
    labels, and shrinkage keeps speakers with few clips safe), otherwise none.
    """
    speakers = manifest["speaker"].dropna().astype(str)
    known = speakers[~speakers.str.endswith(_UNKNOWN_SPEAKER_SUFFIX)]
    return "speaker" if len(known) == len(manifest) and len(known) else "none"


def evaluate(model, source, *, adapt: str | None = None, include_training_speakers: bool = False,
             workers: int | None = None, progress: ProgressReport | None = None) -> dict:
    """Score a model on a labelled corpus.

    Parameters
    ----------
    model : sera.infer.Model
        The model to evaluate (``sera.load(...)``).
    source : path or DataFrame
        Corpus folder, CSV manifest or manifest frame.
    adapt : str, optional
        ``"none"``, ``"recording"``, ``"speaker"`` or ``"corpus"``; default
        :func:`default_adapt`.
    include_training_speakers : bool
        Keep utterances of speakers the bundle was trained on (an optimistic figure).
    workers : int, optional
        Feature-extraction processes.
    progress : ProgressReport, optional
        Told of the features computed (:mod:`sera.progress`).

    Returns
    -------
    dict
        The DESIGN.md ``evaluate`` schema (``n, accuracy, uar, macro_f1, per_class,
        confusion``) plus ``ece`` (expected calibration error of the scores, 10 bins),
        ``reliability`` (its diagram's bins), ``breakdown`` (per corpus, speaker, gender),
        ``adapt``, ``labels`` (those the model may answer), ``excluded_other_labels`` (utterances of
        other labels, left out), ``excluded_training_speakers``, ``failures`` and ``model``.
    """
    manifest = load_manifest(source)
    adapt = adapt or default_adapt(manifest)
    check_choice("adaptation", adapt, ADAPTS)
    heard = set(model.config.get("training", {}).get("speaker_ids", []))
    excluded = sorted(heard & set(manifest["speaker"])) if not include_training_speakers else []
    if excluded:
        manifest = manifest[~manifest["speaker"].isin(excluded)].reset_index(drop=True)
    if manifest.empty:
        raise SeraError(f"{source}: every utterance is by a speaker the model was trained on "
                        f"(use --include-training-speakers for that optimistic figure)")
    # A model restricted to a deployment's classes (Model.with_labels) is scored on the
    # utterances of those classes; the others are outside what it may answer.
    other = ~manifest["emotion"].isin(model.labels)
    if other.all():
        raise SeraError(f"{source}: no utterance carries one of the labels "
                        f"{', '.join(model.labels)}")
    manifest = manifest[~other].reset_index(drop=True)
    groups = None if adapt == "none" else manifest[GROUP_COLUMNS[adapt]].tolist()
    predictions, failures = model.predict_many(manifest["path"].tolist(), adapt=adapt,
                                               groups=groups, workers=workers,
                                               progress=progress)
    by_path = {os.path.abspath(p.path): p for p in predictions}
    scored = manifest[manifest["path"].map(os.path.abspath).isin(by_path)].copy()
    if scored.empty:
        raise SeraError(f"{source}: no utterance could be classified")
    scored_predictions = [by_path[os.path.abspath(p)] for p in scored["path"]]
    scored["predicted"] = [p.label for p in scored_predictions]
    metrics = evaluate_predictions(scored["emotion"], scored["predicted"],
                                   labels=model.labels)
    metrics["breakdown"] = {by: breakdown(scored, scored["emotion"], scored["predicted"], by=by,
                                          labels=model.labels)
                            for by in ("corpus", "speaker", "gender")}
    # Calibration of the scores the user sees (the bundle's temperature already applied).
    proba = np.array([[p.scores[label] for label in model.labels] for p in scored_predictions])
    truth = np.array([list(model.labels).index(e) for e in scored["emotion"]])
    metrics["ece"] = expected_calibration_error(proba, truth)
    metrics["reliability"] = {"scores": {**reliability(proba, truth), "ece": metrics["ece"]}}
    metrics["adapt"] = adapt
    metrics["labels"] = list(model.labels)
    metrics["excluded_other_labels"] = int(other.sum())
    metrics["excluded_training_speakers"] = excluded
    metrics["failures"] = [{"path": path, "error": problem} for path, problem in failures]
    metrics["model"] = str(model.path)
    return metrics
