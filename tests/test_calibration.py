"""Temperature scaling and the expected calibration error, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from sera.calibration import (
    apply_temperature,
    calibration_config,
    expected_calibration_error,
    fit_temperature,
    reliability,
    temperature_for,
)


def overconfident(n=4000, seed=0):
    """Labels drawn from softmax(logits) but scores from softmax(3 * logits): too sure."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 5))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=p) for p in true_p])
    shown = np.exp(3 * logits) / np.exp(3 * logits).sum(1, keepdims=True)
    return shown, y


def test_temperature_recovers_the_overconfidence_factor():
    proba, y = overconfident()
    t = fit_temperature(proba, y)
    assert 2.6 < t < 3.4  # the scores are the truth at temperature 1/3
    before, after = (expected_calibration_error(proba, y),
                     expected_calibration_error(apply_temperature(proba, t), y))
    assert before > 0.1 and after < 0.03


def test_temperature_keeps_the_ranking_and_sums_to_one():
    proba, _ = overconfident(200)
    for t in (0.5, 2.0):
        scaled = apply_temperature(proba, t)
        assert np.array_equal(scaled.argmax(1), proba.argmax(1))
        np.testing.assert_allclose(scaled.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(apply_temperature(proba, 1.0), proba, atol=1e-5)
    # A higher temperature lowers the top probability of every row (not a uniform row).
    assert (apply_temperature(proba, 2.0).max(1) <= proba.max(1) + 1e-6).all()
    with pytest.raises(ValueError):
        apply_temperature(proba, 0.0)


def test_ece_by_hand():
    # Two bins used: 0.9-confident rows right 2 of 4 times (gap 0.4), 0.6-confident rows
    # right 2 of 2 (gap 0.4 as well): ECE = 0.4.
    proba = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    y = np.array([0, 0, 1, 1, 0, 0])
    assert expected_calibration_error(proba, y) == pytest.approx(0.4)
    bins = reliability(proba, y)
    assert bins["count"][8] == 4 and bins["count"][5] == 2 and sum(bins["count"]) == 6
    assert bins["accuracy"][8] == 0.5 and bins["confidence"][5] == pytest.approx(0.6)
    assert bins["accuracy"][0] is None


def test_calibrated_scores_have_zero_ece_when_right_as_often_as_claimed():
    proba = np.array([[0.75, 0.25]] * 8)
    y = np.array([0] * 6 + [1] * 2)
    assert expected_calibration_error(proba, y) == pytest.approx(0.0)


def test_config_and_lookup():
    config = calibration_config({"none": 2.5, "speaker": 1.5}, fitted_on="oof")
    assert config["method"] == "temperature" and config["temperature"] == 1.5
    assert temperature_for(config, "none") == 2.5
    assert temperature_for(config, "speaker") == 1.5
    assert temperature_for(config, "recording") == 1.5  # an unlisted mode: the adapted one
    assert temperature_for(None, "none") == 1.0
