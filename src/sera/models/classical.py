"""Classical models on functionals (eGeMAPS, descriptor statistics), with scikit-learn and scipy.

Each wraps one classifier in sera's estimator interface: ``X`` arrives normalised
by the caller (so there is no scaler here), ``y`` as indices into :data:`sera.labels.LABELS`,
and ``predict_proba`` always has one column per label, zeros for classes absent from training.
``export_onnx`` converts with skl2onnx (gradient boosting: from the fitted trees, see
:meth:`GradientBoostingClassifier._class_probability_graph`; logistic regression, which solves
scikit-learn's objective with per-row label masks, writes its softmax directly) and appends a
one-hot MatMul that scatters the trained classes' columns into the seven label columns, so the graph
is ``features (N, D) float32 -> probabilities (N, 7) float32`` like every sera model's.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.svm import SVC

from sera.errors import InputError
from sera.labels import LABELS

#: ONNX opsets of the exported graphs: old enough for any onnxruntime of the last years.
OPSET = {"": 17, "ai.onnx.ml": 3}


class _ClassicalClassifier:
    """The shared fit / predict / export logic; subclasses say which estimator to build."""

    def __init__(self, **params):
        self.params = params
        #: Per-epoch figures; classical models have no epochs, so it stays empty.
        self.history: list[dict] = []

    def _estimator(self):
        """A fresh scikit-learn classifier built from :attr:`params`."""
        raise NotImplementedError

    def _fit_arguments(self, X_val: np.ndarray | None, y_val: np.ndarray | None) -> dict:
        """Extra keyword arguments of the estimator's ``fit``; the validation set is unused."""
        return {}

    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None):
        """Fit on normalised features ``X`` ``(n, *shape)`` and label indices ``y``, each row
        weighted by ``sample_weight`` (on top of the balanced class weights) if given.

        Returns
        -------
        self
        """
        X, y = _flat(X), _label_indices(y)
        if len(np.unique(y)) < 2:
            raise InputError("training needs at least two classes")
        self.classes_ = np.unique(y)
        self.n_features_ = X.shape[1]
        self.estimator_ = self._estimator()
        val = {} if X_val is None else self._fit_arguments(_flat(X_val), _label_indices(y_val))
        if sample_weight is not None:
            val["sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
        self.estimator_.fit(X, y, **val)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, 7)`` float32, columns in :data:`LABELS` order."""
        proba = self.estimator_.predict_proba(_flat(X))
        out = np.zeros((proba.shape[0], len(LABELS)), dtype=np.float32)
        out[:, self.classes_] = proba
        return out

    def predict(self, X) -> np.ndarray:
        """The most probable label index per row."""
        return self.predict_proba(X).argmax(axis=1)

    def export_onnx(self, path: str | os.PathLike) -> None:
        """Write ``features (N, D) float32 -> probabilities (N, 7) float32`` to ``path``."""
        from onnx import TensorProto, compose, helper, numpy_helper

        trained = compose.add_prefix(self._class_probability_graph(), "trained_",
                                     rename_inputs=False)
        # Row j of the scatter matrix moves the j-th trained class to its column in LABELS.
        scatter = np.zeros((len(self.classes_), len(LABELS)), dtype=np.float32)
        scatter[np.arange(len(self.classes_)), self.classes_] = 1.0
        to_labels = helper.make_model(
            helper.make_graph(
                [helper.make_node("MatMul", ["class_probabilities", "scatter"], ["probabilities"])],
                "to_labels",
                [helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT,
                                               [None, len(self.classes_)])],
                [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                               [None, len(LABELS)])],
                initializer=[numpy_helper.from_array(scatter, "scatter")]),
            opset_imports=list(trained.opset_import), ir_version=trained.ir_version)
        io_map = [(trained.graph.output[-1].name, "class_probabilities")]
        graph = compose.merge_models(trained, to_labels, io_map=io_map, outputs=["probabilities"])
        graph.graph.name = f"sera-{type(self).__name__}"  # merge_models names it with a uuid
        graph.graph.doc_string = ""
        with open(path, "wb") as file:
            file.write(graph.SerializeToString())

    def _class_probability_graph(self):
        """ONNX model: input ``features``, last output the trained classes' probabilities."""
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        with warnings.catch_warnings():
            # skl2onnx reads SVC attributes that scikit-learn 1.9 deprecates; nothing to act on.
            warnings.simplefilter("ignore", FutureWarning)
            return convert_sklearn(
                self.estimator_,
                initial_types=[("features", FloatTensorType([None, self.n_features_]))],
                options={"zipmap": False}, target_opset=OPSET)


class SVMClassifier(_ClassicalClassifier):
    """RBF support-vector machine, balanced class weights, sigmoid-calibrated probabilities.

    Parameters
    ----------
    C : float
        Inverse regularisation strength.
    gamma : float or {"scale", "auto"}
        RBF kernel width.
    seed : int
        Kept for the common interface (the fit and its 5-fold calibration are deterministic).
    """

    def __init__(self, C: float = 1.0, gamma: float | str = "scale", seed: int = 0):
        super().__init__(C=C, gamma=gamma, seed=seed)

    def _estimator(self):
        # Probabilities by sigmoid calibration on cross-validated decision values: scikit-learn's
        # replacement for the deprecated SVC(probability=True).
        svm = SVC(C=self.params["C"], gamma=self.params["gamma"], kernel="rbf",
                  class_weight="balanced")
        return CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False)


class LogisticClassifier(_ClassicalClassifier):
    """Multinomial logistic regression with balanced class weights and per-row label masks.

    The objective is scikit-learn's ``LogisticRegression(class_weight="balanced")`` (L2 on the
    weights, not the intercepts, scaled by the summed row weights), solved the same way
    (L-BFGS-B, the same tolerances): with no mask the fit equals scikit-learn's (1e-9 apart on a
    real training fold; tests/test_classical.py holds it to 1e-5 with scikit-learn as the oracle).
    What scikit-learn cannot say is that a row comes from a corpus that never uses some labels: nEMO
    has no disgust, and with a plain softmax each of its 3,403 clips would count as evidence against
    disgust. Given a ``label_mask``, each row's softmax runs over the labels its corpus has, so an
    absent label is neither pushed up nor down by that corpus's rows; at prediction time every
    trained label competes.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        Iterations of the L-BFGS solver.
    tol : float
        Stop when the largest projected gradient component falls below it.
    seed : int
        Kept for the common interface (L-BFGS from zeros is deterministic).
    """

    #: ``fit`` takes ``label_mask`` (:func:`sera.train.fit` passes one for several corpora).
    supports_label_mask = True

    def __init__(self, C: float = 1.0, max_iter: int = 2000, tol: float = 1e-4, seed: int = 0):
        super().__init__(C=C, max_iter=max_iter, tol=tol, seed=seed)

    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None, label_mask=None):
        """Fit on normalised features ``X`` and label indices ``y``.

        Parameters
        ----------
        X, y : np.ndarray
            Features ``(n, *shape)`` and label indices ``(n,)``.
        X_val, y_val : np.ndarray, optional
            Unused (no early stopping).
        sample_weight : np.ndarray, optional
            Row weights, on top of the balanced class weights.
        label_mask : np.ndarray, optional
            ``(n, 7)`` bool, columns in :data:`LABELS` order: the labels each row may carry
            (its corpus's labels). ``None``: every label, for every row.

        Returns
        -------
        self
        """
        from scipy.optimize import minimize

        X, y = _flat(X).astype(np.float64), _label_indices(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise InputError("training needs at least two classes")
        n, d = X.shape
        k = len(classes)
        target = np.searchsorted(classes, y)
        mask = np.ones((n, k), dtype=bool) if label_mask is None else \
            np.asarray(label_mask, dtype=bool)[:, classes]
        if mask.shape != (n, k) or not mask[np.arange(n), target].all():
            raise InputError("label_mask must be (n, 7) and allow each row's own label")
        # Balanced class weights (scikit-learn's, from the row-weighted counts), within each set
        # of rows that share a mask (a corpus): a label competes only where it is allowed, so
        # it is balanced against those rows alone; one mask for every row is scikit-learn's
        # "balanced". Then the normalisation scikit-learn applies.
        row_weight = np.ones(n) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64)
        weight = np.empty(n)
        _, group = np.unique(mask, axis=0, return_inverse=True)
        group = group.ravel()
        for g in np.unique(group):
            rows = group == g
            w = row_weight[rows]
            present, inverse = np.unique(target[rows], return_inverse=True)
            inverse = inverse.ravel()
            per_class = np.bincount(inverse, weights=w)
            weight[rows] = w * (w.sum() / (len(present) * per_class))[inverse]
        total = weight.sum()
        weight = weight / total
        l2 = 1.0 / (self.params["C"] * total)
        onehot = np.zeros((n, k))
        onehot[np.arange(n), target] = 1.0

        def loss_and_gradient(theta):
            W, b = theta[:d * k].reshape(d, k), theta[d * k:]
            logits = np.where(mask, X @ W + b, -np.inf)
            logits -= logits.max(axis=1, keepdims=True)
            P = np.exp(logits)
            norm = P.sum(axis=1)
            P /= norm[:, None]
            loss = weight @ (np.log(norm) - logits[np.arange(n), target]) \
                + 0.5 * l2 * np.sum(W * W)
            G = (P - onehot) * weight[:, None]
            return loss, np.concatenate([(X.T @ G + l2 * W).ravel(), G.sum(axis=0)])

        result = minimize(loss_and_gradient, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                          options={"maxiter": self.params["max_iter"], "maxls": 50,
                                   "gtol": self.params["tol"],
                                   "ftol": 64 * np.finfo(float).eps})
        if not result.success and result.nit >= self.params["max_iter"]:
            warnings.warn(f"logistic regression did not converge in {result.nit} iterations",
                          stacklevel=2)
        self.classes_ = classes
        self.n_features_ = d
        self.coef_ = result.x[:d * k].reshape(d, k)
        self.intercept_ = result.x[d * k:]
        self.n_iter_ = int(result.nit)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, 7)`` float32, columns in :data:`LABELS` order."""
        logits = _flat(X).astype(np.float64) @ self.coef_ + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        out = np.zeros((proba.shape[0], len(LABELS)), dtype=np.float32)
        out[:, self.classes_] = proba
        return out

    def _class_probability_graph(self):
        """``softmax(features @ W + b)`` over the trained classes, as an ONNX model."""
        from onnx import TensorProto, helper, numpy_helper

        nodes = [helper.make_node("MatMul", ["features", "weights"], ["scores"]),
                 helper.make_node("Add", ["scores", "intercepts"], ["logits"]),
                 helper.make_node("Softmax", ["logits"], ["class_probabilities"], axis=-1)]
        graph = helper.make_graph(
            nodes, "logistic_regression",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                           [None, self.n_features_])],
            [helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT,
                                           [None, len(self.classes_)])],
            initializer=[numpy_helper.from_array(self.coef_.astype(np.float32), "weights"),
                         numpy_helper.from_array(self.intercept_.astype(np.float32),
                                                 "intercepts")])
        return helper.make_model(graph, ir_version=8, opset_imports=[
            helper.make_opsetid(domain, version) for domain, version in OPSET.items()])


class GradientBoostingClassifier(_ClassicalClassifier):
    """Histogram gradient-boosted trees with balanced class weights.

    Given a validation set, ``fit`` stops early on its loss (rows of classes absent from
    training are left out of it); without one, scikit-learn's own rule applies.

    Parameters
    ----------
    learning_rate : float
        Shrinkage of each tree.
    max_iter : int
        Boosting rounds at most.
    max_leaf_nodes : int
        Leaves per tree.
    l2_regularization : float
        L2 penalty on leaf values.
    seed : int
        Seeds binning subsamples and the early-stopping split.
    """

    def __init__(self, learning_rate: float = 0.1, max_iter: int = 300, max_leaf_nodes: int = 31,
                 l2_regularization: float = 0.0, seed: int = 0):
        super().__init__(learning_rate=learning_rate, max_iter=max_iter,
                         max_leaf_nodes=max_leaf_nodes, l2_regularization=l2_regularization,
                         seed=seed)

    def _estimator(self):
        return HistGradientBoostingClassifier(
            learning_rate=self.params["learning_rate"], max_iter=self.params["max_iter"],
            max_leaf_nodes=self.params["max_leaf_nodes"],
            l2_regularization=self.params["l2_regularization"], class_weight="balanced",
            random_state=self.params["seed"])

    def _fit_arguments(self, X_val, y_val):
        known = np.isin(y_val, self.classes_)
        if not known.any():
            return {}
        self.estimator_.set_params(early_stopping=True)
        return {"X_val": X_val[known], "y_val": y_val[known]}

    def _class_probability_graph(self):
        """The fitted trees as an ONNX TreeEnsembleRegressor of raw scores, then a softmax.

        skl2onnx 1.20's converter for this estimator writes a Python bool into an integer
        attribute, which onnx 1.23 rejects, so the graph is built here from the fitted trees.
        Raw scores are the baseline plus the sum of one tree per class and iteration; a binary
        model has one score ``r`` per row, and ``softmax([-r/2, r/2])`` is its
        ``[1 - sigmoid(r), sigmoid(r)]``.
        """
        from onnx import TensorProto, helper, numpy_helper

        estimator = self.estimator_
        n_scores = len(estimator._baseline_prediction.ravel())
        attributes = {key: [] for key in (
            "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
            "target_treeids", "target_nodeids", "target_ids", "target_weights")}
        trees = [(score, tree) for iteration in estimator._predictors
                 for score, tree in enumerate(iteration)]
        for tree_id, (score, tree) in enumerate(trees):
            for node_id, node in enumerate(tree.nodes):
                leaf = bool(node["is_leaf"])
                attributes["nodes_treeids"].append(tree_id)
                attributes["nodes_nodeids"].append(node_id)
                attributes["nodes_featureids"].append(0 if leaf else int(node["feature_idx"]))
                attributes["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                attributes["nodes_values"].append(0.0 if leaf else _float32_at_most(
                    node["num_threshold"]))
                attributes["nodes_truenodeids"].append(0 if leaf else int(node["left"]))
                attributes["nodes_falsenodeids"].append(0 if leaf else int(node["right"]))
                attributes["nodes_missing_value_tracks_true"].append(
                    0 if leaf else int(node["missing_go_to_left"]))
                if leaf:
                    attributes["target_treeids"].append(tree_id)
                    attributes["target_nodeids"].append(node_id)
                    attributes["target_ids"].append(score)
                    attributes["target_weights"].append(float(node["value"]))
        to_logits = (np.eye(n_scores, dtype=np.float32) if n_scores > 1
                     else np.array([[-0.5, 0.5]], dtype=np.float32))
        nodes = [
            helper.make_node("TreeEnsembleRegressor", ["features"], ["raw_scores"],
                             domain="ai.onnx.ml", n_targets=n_scores, aggregate_function="SUM",
                             post_transform="NONE",
                             base_values=[float(v) for v in estimator._baseline_prediction.ravel()],
                             **attributes),
            helper.make_node("MatMul", ["raw_scores", "to_logits"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["class_probabilities"], axis=-1),
        ]
        graph = helper.make_graph(
            nodes, "gradient_boosting",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                           [None, self.n_features_])],
            [helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT,
                                           [None, len(self.classes_)])],
            initializer=[numpy_helper.from_array(to_logits, "to_logits")])
        opsets = [helper.make_opsetid(domain, version) for domain, version in OPSET.items()]
        return helper.make_model(graph, ir_version=8, opset_imports=opsets)


def _flat(X) -> np.ndarray:
    """``(n, *shape)`` features as an ``(n, D)`` float32 matrix."""
    X = np.asarray(X, dtype=np.float32)
    return X.reshape(X.shape[0], -1)


def _float32_at_most(threshold: float) -> float:
    """The largest float32 not above ``threshold``: for float32 ``x``, ``x <= threshold`` holds
    exactly when ``x <= _float32_at_most(threshold)``, so the float32 graph splits as sklearn
    does."""
    rounded = np.float32(threshold)
    if rounded > threshold:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return float(rounded)


def _label_indices(y) -> np.ndarray:
    """Label indices as int64, checked against :data:`LABELS`."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(LABELS))):
        raise InputError(f"y must hold label indices 0..{len(LABELS) - 1}")
    return y.astype(np.int64)
