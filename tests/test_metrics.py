"""Evaluation figures against hand-computed values, in the DESIGN.md schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from sera.labels import LABELS
from sera.metrics import breakdown, evaluate_predictions

ANGRY, DISGUST, FEAR, HAPPY = (LABELS.index(x) for x in ("angry", "disgust", "fear", "happy"))


def test_schema_and_hand_computed_figures():
    # truth: angry x2, disgust x2, fear x1; happy is only ever predicted.
    y_true = [ANGRY, ANGRY, DISGUST, DISGUST, FEAR]
    y_pred = [ANGRY, DISGUST, DISGUST, HAPPY, HAPPY]
    result = evaluate_predictions(y_true, y_pred)
    assert set(result) == {"n", "accuracy", "uar", "macro_f1", "per_class", "confusion"}
    assert result["n"] == 5
    assert result["accuracy"] == pytest.approx(2 / 5)
    # Recall over the classes in the truth only: (1/2 + 1/2 + 0) / 3. Counting the only-predicted
    # happy as a zero recall would give 0.25.
    assert result["uar"] == pytest.approx(1 / 3)
    per_class = result["per_class"]
    assert list(per_class) == list(LABELS)
    assert per_class["angry"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                  "support": 2}
    assert per_class["disgust"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert per_class["fear"] == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 1}
    # happy: two false positives lower its precision; it has no recall at all.
    assert per_class["happy"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0}
    assert per_class["sad"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    # macro-F1 over the classes seen in truth or predictions: angry, disgust, fear, happy.
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0 + 0) / 4)
    assert result["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_confusion_rows_are_truth_and_columns_predictions_in_label_order():
    result = evaluate_predictions(["sad", "sad", "sad"], ["surprise", "surprise", "sad"])
    assert result["confusion"]["labels"] == list(LABELS)
    matrix = np.array(result["confusion"]["matrix"])
    sad, surprise = LABELS.index("sad"), LABELS.index("surprise")
    assert matrix[sad, surprise] == 2 and matrix[sad, sad] == 1 and matrix.sum() == 3
    assert matrix[surprise].sum() == 0


def test_label_strings_and_indices_agree_and_json_is_strict():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 200), rng.integers(0, 7, 200)
    by_index = evaluate_predictions(y_true, y_pred)
    by_name = evaluate_predictions([LABELS[k] for k in y_true], [LABELS[k] for k in y_pred])
    assert by_index == by_name
    assert by_index["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    json.dumps(by_index, allow_nan=False)


def test_perfect_predictions():
    y = [0, 1, 2, 3, 4, 5, 6, 6]
    result = evaluate_predictions(y, y)
    assert result["accuracy"] == result["uar"] == result["macro_f1"] == 1.0
    assert np.array_equal(np.diag(result["confusion"]["matrix"]), [1, 1, 1, 1, 1, 1, 2])


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 1], [0], "2 values"),
    ([0, 9], [0, 1], "index 9"),
    (["angry", "bored"], ["angry", "sad"], "bored"),
    ([], [], "no predictions"),
])
def test_bad_input_is_refused(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        evaluate_predictions(y_true, y_pred)


def test_breakdown_per_group_matches_evaluating_each_group():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"speaker": rng.choice(["a", "b", "c"], 90),
                          "gender": rng.choice(["female", "male", None], 90)})
    y_true, y_pred = rng.integers(0, 7, 90), rng.integers(0, 7, 90)
    by_speaker = breakdown(frame, y_true, y_pred, by="speaker")
    assert list(by_speaker) == ["a", "b", "c"]
    assert sum(group["n"] for group in by_speaker.values()) == 90
    rows = (frame["speaker"] == "b").to_numpy()
    direct = evaluate_predictions(y_true[rows], y_pred[rows])
    assert by_speaker["b"] == {key: direct[key] for key in ("n", "accuracy", "uar", "macro_f1")}
    assert "unknown" in breakdown(frame, y_true, y_pred, by="gender")
    with pytest.raises(ValueError, match="rows"):
        breakdown(frame.iloc[:10], y_true, y_pred)
