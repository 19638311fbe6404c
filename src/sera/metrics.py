"""Evaluation figures: accuracy, UAR, macro-F1, per-class figures and the confusion matrix.

:func:`evaluate_predictions` returns the ``sera evaluate --json`` document of DESIGN.md.
UAR (unweighted average recall) is the mean recall over the classes present in the truth: a
class that is only ever predicted lowers precision (and its F1 of 0 enters macro-F1) but does
not count as a zero recall. Figures that are undefined (precision of a class never predicted,
recall of a class never true) are ``None``, which is ``null`` in JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from sera.calibration import (
    cross_fitted_temperature,
    expected_calibration_error,
    reliability,
)
from sera.errors import InputError
from sera.labels import LABELS


def evaluate_predictions(y_true, y_pred, labels: Sequence[str] = LABELS) -> dict:
    """Every figure of one evaluation, JSON-ready.

    Parameters
    ----------
    y_true, y_pred : array-like
        Class indices into ``labels``, or the label strings themselves.
    labels : sequence of str
        The label order of the per-class figures and of both axes of the confusion matrix.

    Returns
    -------
    dict
        ``{"n", "accuracy", "uar", "macro_f1", "per_class": {label: {"precision", "recall",
        "f1", "support"}}, "confusion": {"labels", "matrix"}}``; matrix rows are the true
        labels, columns the predicted ones, both in ``labels`` order.
    """
    labels = list(labels)
    true = _indices(y_true, labels, "y_true")
    pred = _indices(y_pred, labels, "y_pred")
    if true.shape != pred.shape:
        raise InputError(f"y_true has {true.size} values but y_pred has {pred.size}")
    if true.size == 0:
        raise InputError("no predictions to evaluate")
    classes = np.arange(len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, labels=classes, zero_division=np.nan)
    # A class never true and never predicted has an undefined F1 and stays out of macro-F1.
    defined_f1 = ~np.isnan(f1)
    return {
        "n": int(true.size),
        "accuracy": float(np.mean(true == pred)),
        "uar": float(np.mean(recall[support > 0])),
        "macro_f1": float(np.mean(f1[defined_f1])),
        "per_class": {
            label: {"precision": _number(precision[k]), "recall": _number(recall[k]),
                    "f1": _number(f1[k]), "support": int(support[k])}
            for k, label in enumerate(labels)
        },
        "confusion": {
            "labels": labels,
            "matrix": confusion_matrix(true, pred, labels=classes).tolist(),
        },
    }


def breakdown(frame: pd.DataFrame, y_true, y_pred, by: str = "speaker",
              labels: Sequence[str] = LABELS) -> dict[str, dict]:
    """Headline figures per group of rows (per speaker, corpus, gender, ...).

    Parameters
    ----------
    frame : pd.DataFrame
        One row per prediction, in the order of ``y_true`` and ``y_pred``, with column ``by``.
    y_true, y_pred : array-like
        As for :func:`evaluate_predictions`.
    by : str
        The column to group by.

    Returns
    -------
    dict
        ``{group: {"n", "accuracy", "uar", "macro_f1"}}`` in sorted group order.
    """
    if len(frame) != len(y_true) or len(frame) != len(y_pred):
        raise InputError(f"frame has {len(frame)} rows but there are {len(y_true)} truths "
                         f"and {len(y_pred)} predictions")
    groups = frame[by].fillna("unknown").astype(str).to_numpy()
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for group in sorted(set(groups)):
        rows = groups == group
        figures = evaluate_predictions(true[rows], pred[rows], labels)
        out[group] = {key: figures[key] for key in ("n", "accuracy", "uar", "macro_f1")}
    return out


def _indices(values, labels: list[str], name: str) -> np.ndarray:
    """Class indices from indices or label strings; raises on anything outside ``labels``."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        bad = values[(values < 0) | (values >= len(labels))]
        if bad.size:
            raise InputError(f"{name} has class index {bad[0]} outside 0..{len(labels) - 1}")
        return values.astype(np.int64)
    position = {label: k for k, label in enumerate(labels)}
    unknown = sorted({str(v) for v in values} - position.keys())
    if unknown:
        raise InputError(f"{name} has label(s) {', '.join(unknown)} not in {', '.join(labels)}")
    return np.array([position[str(v)] for v in values], dtype=np.int64)


def _number(value: float) -> float | None:
    """A float, or ``None`` where the figure is undefined."""
    return None if np.isnan(value) else float(value)


def heldout_figures(frame: pd.DataFrame, proba: np.ndarray) -> dict:
    """:func:`evaluate_predictions` of held-out rows (``emotion`` true) from their
    probabilities over :data:`sera.labels.LABELS`, with the breakdown by corpus, speaker and
    gender."""
    predicted = [LABELS[i] for i in proba.argmax(axis=1)]
    metrics = evaluate_predictions(frame["emotion"], predicted)
    metrics["breakdown"] = {by: breakdown(frame, frame["emotion"], predicted, by=by)
                            for by in ("corpus", "speaker", "gender")}
    return metrics


def pooled_figures(predictions: pd.DataFrame, probabilities: dict[str, np.ndarray], *,
                   calibrate: bool, protocol: str) -> dict:
    """The figures of cross-validation's pooled held-out predictions.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One row per held-out clip (``path``, ``corpus``, ``speaker``, ``gender``, ``emotion``,
        ``fold``). Its ``predicted``, ``predicted_single_clip``, ``confidence_adapted`` and
        ``confidence_single_clip`` columns are set here.
    probabilities : dict
        ``{"adapted": (n, len(LABELS)), "single_clip": ...}``, rows in ``predictions``' order.
    calibrate : bool
        Calibrate each fold by a temperature fitted on the other folds
        (:func:`sera.calibration.cross_fitted_temperature`) before the ECE and confidences.
    protocol : str
        How each corpus's clips were held out, in the names of ``by_corpus`` (``"LOSO"``).

    Returns
    -------
    dict
        :func:`evaluate_predictions` of the adapted predictions with ``breakdown``, ``ece``,
        ``ece_uncalibrated``, ``single_clip``, ``reliability`` and ``by_corpus``.
    """
    raw = probabilities
    y = np.array([LABELS.index(e) for e in predictions["emotion"]], dtype=np.int64)
    calibrated = {}
    for kind, proba in raw.items():
        calibrated[kind] = cross_fitted_temperature(proba, y, predictions["fold"].to_numpy())[0] \
            if calibrate else proba
        predictions[f"predicted_{kind}" if kind != "adapted" else "predicted"] = [
            LABELS[i] for i in proba.argmax(axis=1)]
        predictions[f"confidence_{kind}"] = calibrated[kind].max(axis=1)
    metrics = evaluate_predictions(predictions["emotion"], predictions["predicted"])
    metrics["breakdown"] = {by: breakdown(predictions, predictions["emotion"],
                                          predictions["predicted"], by=by)
                            for by in ("corpus", "speaker", "gender")}
    metrics["ece"] = expected_calibration_error(calibrated["adapted"], y)
    metrics["ece_uncalibrated"] = expected_calibration_error(raw["adapted"], y)
    single = evaluate_predictions(predictions["emotion"], predictions["predicted_single_clip"])
    metrics["single_clip"] = {
        "uar": single["uar"], "accuracy": single["accuracy"], "macro_f1": single["macro_f1"],
        "ece": expected_calibration_error(calibrated["single_clip"], y),
        "ece_uncalibrated": expected_calibration_error(raw["single_clip"], y)}
    metrics["reliability"] = {
        "adapted, uncalibrated": {**reliability(raw["adapted"], y),
                                  "ece": metrics["ece_uncalibrated"]},
        "adapted, calibrated": {**reliability(calibrated["adapted"], y), "ece": metrics["ece"]},
        "single clip, calibrated": {**reliability(calibrated["single_clip"], y),
                                    "ece": metrics["single_clip"]["ece"]},
    }
    metrics["by_corpus"] = per_corpus_figures(predictions, calibrated, y, protocol)
    return metrics


def per_corpus_figures(predictions: pd.DataFrame, calibrated: dict, y: np.ndarray,
                       protocol: str) -> dict:
    """Single-clip and adapted UAR and ECE of each corpus's held-out utterances."""
    out = {}
    for corpus in sorted(predictions["corpus"].unique()):
        rows = (predictions["corpus"] == corpus).to_numpy()
        part = predictions[rows]
        out[f"{corpus} ({protocol})"] = {
            "n": int(rows.sum()),
            "uar_single_clip": evaluate_predictions(part["emotion"],
                                                    part["predicted_single_clip"])["uar"],
            "uar_adapted": evaluate_predictions(part["emotion"], part["predicted"])["uar"],
            "ece_single_clip": expected_calibration_error(calibrated["single_clip"][rows],
                                                          y[rows]),
            "ece_adapted": expected_calibration_error(calibrated["adapted"][rows], y[rows]),
        }
    return out
