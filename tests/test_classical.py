"""Classical models: the shared estimator interface, and ONNX exports that match scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from threadpoolctl import threadpool_limits

from sera.errors import UnknownModelError
from sera.labels import LABELS
from sera.models import MODELS, get_model_spec

CLASSICAL = [name for name, spec in MODELS.items() if spec.kind == "sklearn"]
PRESENT = np.array([0, 2, 3, 5])  # four of the seven labels; the others never occur


@pytest.fixture(autouse=True)
def one_thread():
    """OpenMP spin-waiting on a busy shared machine makes gradient boosting crawl."""
    with threadpool_limits(limits=1):
        yield


def blobs(n: int, classes: np.ndarray, seed: int, dim: int = 8):
    """Well-separated Gaussian blobs, one per class, already roughly standardised."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 2.5, (len(LABELS), dim))
    y = rng.choice(classes, n)
    X = centres[y] + rng.standard_normal((n, dim))
    return X.astype(np.float32), y


def onnx_probabilities(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    assert session.get_outputs()[0].shape[1] == len(LABELS)
    return session.run(None, {"features": X})[0]


@pytest.mark.parametrize("name", CLASSICAL)
def test_fit_predict_and_onnx_parity(name, tmp_path):
    X, y = blobs(240, PRESENT, seed=0)
    X_test, y_test = blobs(120, PRESENT, seed=1)
    model = get_model_spec(name).build(seed=0).fit(X, y)
    proba = model.predict_proba(X_test)
    assert proba.shape == (120, len(LABELS)) and proba.dtype == np.float32
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    absent = np.setdiff1d(np.arange(len(LABELS)), PRESENT)
    assert np.all(proba[:, absent] == 0)
    assert np.array_equal(model.predict(X_test), proba.argmax(axis=1))
    assert np.mean(model.predict(X_test) == y_test) > 0.8  # blobs 2.5 sigma apart
    assert model.history == []
    json.dumps(model.params)
    model.export_onnx(tmp_path / "model.onnx")
    exported = onnx_probabilities(tmp_path / "model.onnx", X_test)
    assert exported.shape == proba.shape and exported.dtype == np.float32
    np.testing.assert_allclose(exported, proba, atol=1e-4)


@pytest.mark.parametrize("name", CLASSICAL)
def test_two_classes_export_too(name, tmp_path):
    classes = np.array([1, 4])
    X, y = blobs(120, classes, seed=2)
    model = get_model_spec(name).build().fit(X, y)
    model.export_onnx(tmp_path / "model.onnx")
    X_test, _ = blobs(60, classes, seed=3)
    np.testing.assert_allclose(onnx_probabilities(tmp_path / "model.onnx", X_test),
                               model.predict_proba(X_test), atol=1e-4)


@pytest.mark.parametrize("name", CLASSICAL)
def test_same_seed_same_model(name):
    X, y = blobs(150, PRESENT, seed=4)
    first = get_model_spec(name).build(seed=7).fit(X, y).predict_proba(X)
    again = get_model_spec(name).build(seed=7).fit(X, y).predict_proba(X)
    assert np.array_equal(first, again)


def test_gradient_boosting_stops_early_on_the_validation_set():
    X, y = blobs(200, PRESENT, seed=5)
    X_val, y_val = blobs(60, np.array([0, 1, 2, 3, 5]), seed=6)  # 1 never seen in training
    model = get_model_spec("hgb").build(max_iter=500).fit(X, y, X_val, y_val)
    estimator = model.estimator_
    assert estimator.early_stopping is True
    assert len(estimator.validation_score_) == estimator.n_iter_ + 1
    unvalidated = get_model_spec("hgb").build(max_iter=20).fit(X, y)
    assert unvalidated.estimator_.validation_score_.size == 0


def test_bad_labels_are_refused():
    X, _ = blobs(20, PRESENT, seed=0)
    with pytest.raises(ValueError, match="label indices"):
        get_model_spec("logreg").build().fit(X, np.full(20, 7))
    with pytest.raises(ValueError, match="two classes"):
        get_model_spec("logreg").build().fit(X, np.zeros(20, dtype=int))


def test_registry_names_every_model_and_its_features():
    assert {"seed-cnn1d", "compact-cnn", "svm", "logreg", "hgb"} <= set(MODELS)
    assert (MODELS["seed-cnn1d"].module, MODELS["seed-cnn1d"].cls, MODELS["seed-cnn1d"].features) \
        == ("sera.models.seed_cnn1d", "SeedCNN1D", "seed")
    assert (MODELS["compact-cnn"].module, MODELS["compact-cnn"].cls,
            MODELS["compact-cnn"].features) == ("sera.models.compact", "CompactCNN", "logmel")
    assert all(spec.kind in {"torch", "sklearn"} for spec in MODELS.values())
    with pytest.raises(UnknownModelError, match="svm"):
        get_model_spec("nope")
    assert get_model_spec("svm").build(C=3.0).params["C"] == 3.0


def test_importing_the_registry_imports_neither_torch_nor_sklearn():
    code = ("import sys, sera.models; "
            "assert not {'torch', 'sklearn'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_export_is_byte_for_byte_reproducible(tmp_path):
    from sera.models.classical import LogisticClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    y = np.arange(40) % 3
    paths = []
    for i in range(2):
        model = LogisticClassifier().fit(X, y)
        paths.append(tmp_path / f"m{i}.onnx")
        model.export_onnx(paths[-1])
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_logistic_regression_equals_scikit_learns_without_a_mask():
    """Same objective, same solver settings: scikit-learn's fit is the oracle."""
    from sklearn.linear_model import LogisticRegression

    X, y = blobs(300, PRESENT, seed=8)
    weight = np.random.default_rng(8).uniform(0.5, 2.0, len(y))
    ours = get_model_spec("logreg").build(C=0.3).fit(X, y, sample_weight=weight)
    oracle = LogisticRegression(C=0.3, max_iter=2000, class_weight="balanced").fit(
        X, y, sample_weight=weight)
    np.testing.assert_allclose(ours.predict_proba(X)[:, PRESENT], oracle.predict_proba(X),
                               atol=1e-5)


def test_a_label_a_corpus_lacks_is_not_evidence_against_it():
    """Corpus B (ten times larger) never uses label 2. With the mask, label 2 is learned
    against corpus A's rows only, as a model of A alone learns it; without it, B's rows push
    label 2 down wherever B's voices are."""
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])

    def corpus(n, labels, seed):
        rng = np.random.default_rng(seed)
        y = rng.choice(labels, n)
        return (centres[y] + 1.2 * rng.standard_normal((n, 2))).astype(np.float32), y

    X_a, y_a = corpus(300, [0, 1, 2], 1)
    X_b, y_b = corpus(3000, [0, 1], 2)
    X_test, y_test = corpus(3000, [0, 1, 2], 3)
    X, y = np.vstack([X_a, X_b]), np.concatenate([y_a, y_b])
    mask = np.ones((len(y), len(LABELS)), dtype=bool)
    mask[len(y_a):, 2] = False

    def recall_of_2(model):
        return np.mean(model.predict(X_test)[y_test == 2] == 2)

    alone = recall_of_2(get_model_spec("logreg").build().fit(X_a, y_a))
    masked = recall_of_2(get_model_spec("logreg").build().fit(X, y, label_mask=mask))
    plain = recall_of_2(get_model_spec("logreg").build().fit(X, y))
    assert abs(masked - alone) < 0.01
    assert plain < alone - 0.03
    with pytest.raises(ValueError, match="own label"):
        get_model_spec("logreg").build().fit(X, y, label_mask=~mask)
