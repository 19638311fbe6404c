"""Calibrated probabilities: temperature scaling and the expected calibration error.

A model trained to separate classes on its training speakers is overconfident on new ones.
Temperature scaling (Guo et al., 2017) divides the log-probabilities by one number ``T``
fitted on out-of-fold predictions of the training speakers (speakers the fold's model never
heard), then renormalises: the ranking of the classes, hence the predicted label, is
unchanged, and ``T > 1`` softens overconfident scores. sera's ONNX graphs output
probabilities, so the temperature scales their logarithm; for a softmax model that is the same
as scaling the logits.

All functions are pure, over arrays: ``proba`` is ``(n, k)``, ``y`` holds class indices.
"""

from __future__ import annotations

import numpy as np

from sera.errors import InputError, check_positive

#: Bins of :func:`expected_calibration_error` and of the reliability diagram.
N_BINS = 10

#: Search range of the temperature (log-uniform between the bounds).
TEMPERATURE_BOUNDS = (0.05, 20.0)

#: Probabilities are clipped here before their logarithm (a class that a model gives
#: exactly 0, e.g. one absent from its training data, stays at ~0 at any temperature).
_FLOOR = 1e-12


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities ``softmax(log(proba) / T)``, rows summing to 1, as float32.

    Parameters
    ----------
    proba : np.ndarray
        ``(n, k)`` probabilities.
    temperature : float
        ``T > 0``; ``1`` returns the probabilities unchanged (up to float rounding).
    """
    check_positive("temperature", temperature)
    logits = np.log(np.clip(np.asarray(proba, dtype=np.float64), _FLOOR, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean ``-log p(true class)`` of ``(n, k)`` probabilities."""
    proba = np.asarray(proba, dtype=np.float64)
    picked = proba[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, _FLOOR, None))))


def fit_temperature(proba: np.ndarray, y: np.ndarray,
                    bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The temperature that minimises the negative log-likelihood of held-out predictions.

    Parameters
    ----------
    proba : np.ndarray
        ``(n, k)`` out-of-fold probabilities (from models that never saw these speakers).
    y : np.ndarray
        ``(n,)`` true class indices.
    bounds : (float, float)
        Search range of ``T``.

    Returns
    -------
    float
        ``T``, rounded to 4 decimals so that a bundle's config is reproducible.
    """
    from scipy.optimize import minimize_scalar  # training only: inference needs no scipy

    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        raise InputError("fitting a temperature needs at least one prediction")
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(apply_temperature(proba, np.exp(log_t)), y),
        bounds=tuple(np.log(bounds)), method="bounded", options={"xatol": 1e-4})
    return round(float(np.exp(result.x)), 4)


def reliability(proba: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> dict:
    """Confidence against accuracy in equal-width confidence bins (a reliability diagram).

    The confidence of a row is its top probability; it is right when the top class is ``y``.

    Returns
    -------
    dict
        ``{"edges": [n_bins + 1], "count": [...], "confidence": [...], "accuracy": [...]}``,
        the mean confidence and accuracy per bin (``None`` in empty bins), JSON-ready.
    """
    proba = np.asarray(proba, dtype=np.float64)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y, dtype=np.int64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 joins the first bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count, mean_conf, accuracy = [], [], []
    for b in range(n_bins):
        rows = index == b
        count.append(int(rows.sum()))
        mean_conf.append(float(confidence[rows].mean()) if rows.any() else None)
        accuracy.append(float(correct[rows].mean()) if rows.any() else None)
    return {"edges": edges.round(6).tolist(), "count": count, "confidence": mean_conf,
            "accuracy": accuracy}


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: the count-weighted mean ``|accuracy - confidence|`` over
    :func:`reliability`'s equal-width bins of top-class confidence."""
    bins = reliability(proba, y, n_bins)
    n = sum(bins["count"])
    if n == 0:
        raise InputError("the expected calibration error needs at least one prediction")
    rows = zip(bins["count"], bins["accuracy"], bins["confidence"], strict=True)
    return float(sum(c * abs(a - f) for c, a, f in rows if c) / n)


def calibration_config(temperatures: dict[str, float], *, fitted_on: str,
                       ece_before: dict[str, float] | None = None,
                       ece_after: dict[str, float] | None = None) -> dict:
    """The ``"calibration"`` entry of a bundle's ``config.json``.

    Parameters
    ----------
    temperatures : dict
        Temperature per adaptation mode (``"none"``: single clips normalised by training
        statistics; a group mode: clips normalised by their group's statistics). The
        ``"temperature"`` entry, used for any mode not listed, is the adapted one.
    fitted_on : str
        What the out-of-fold predictions were (for the card and the curious).
    """
    adapted = [t for mode, t in temperatures.items() if mode != "none"]
    default = adapted[0] if adapted else temperatures["none"]
    return {"method": "temperature", "temperature": default, "by_adapt": dict(temperatures),
            "fitted_on": fitted_on, "ece_before": ece_before or {}, "ece_after": ece_after or {}}


def temperature_for(calibration: dict | None, adapt: str) -> float:
    """The temperature a bundle's calibration entry gives for an adaptation mode (1: none)."""
    if not calibration:
        return 1.0
    return float(calibration.get("by_adapt", {}).get(adapt, calibration["temperature"]))


def cross_fitted_temperature(proba: np.ndarray, y: np.ndarray, fold: np.ndarray
                             ) -> tuple[np.ndarray, list[float]]:
    """Calibrate each fold's predictions with a temperature fitted on the *other* folds'
    out-of-fold predictions, so no test label tunes its own scores.

    Returns
    -------
    calibrated : np.ndarray
        float32, the shape of ``proba`` (a lone fold is left as it is).
    temperatures : list of float
        The temperature of each fold that got one, in the order of ``np.unique(fold)``.
    """
    out = np.array(proba, dtype=np.float32)
    temperatures = []
    for name in np.unique(fold):
        rows = fold == name
        if (~rows).any():
            temperatures.append(fit_temperature(proba[~rows], y[~rows]))
            out[rows] = apply_temperature(proba[rows], temperatures[-1])
    return out, temperatures
