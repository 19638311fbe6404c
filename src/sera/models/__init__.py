"""The model registry: every model ``sera train --model NAME`` can build.

Each entry names its class by module path and class name and imports it only when a model is
built, so importing the registry (as ``sera predict`` and bundle loading do) never imports
torch or scikit-learn. Every model is an estimator with ``fit(X, y, X_val=None, y_val=None)``,
``predict_proba(X) -> (n, 7)``, ``predict(X)``, ``export_onnx(path)``, ``history`` and
``params``; ``X`` arrives normalised by the caller, ``y`` as indices into ``sera.labels.LABELS``.
Classical models also take ``sample_weight``; one whose ``supports_label_mask`` is true
(``logreg``) takes ``label_mask``, the labels each row's corpus uses.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from sera.errors import UnknownModelError, check_choice


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model.

    Attributes
    ----------
    name : str
        The registry name (``sera train --model NAME``).
    module, cls : str
        Where the estimator class lives; imported only by :meth:`build`.
    features : str
        The feature set the model is meant for (``sera train --features`` overrides it).
    kind : str
        ``"torch"`` or ``"sklearn"``: the framework it trains with.
    description : str
        One line for ``--help`` and model cards.
    params : dict
        Constructor parameters that make this entry differ from the class defaults.
    """

    name: str
    module: str
    cls: str
    features: str
    kind: str
    description: str
    params: dict = field(default_factory=dict)

    def build(self, **params):
        """A fresh, unfitted estimator; ``params`` override the entry's own."""
        estimator_class = getattr(importlib.import_module(self.module), self.cls)
        return estimator_class(**{**self.params, **params})


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("seed-cnn1d", "sera.models.seed_cnn1d", "SeedCNN1D", "seed", "torch",
              "the seed's 1-D CNN over its 2,376-dim ZCR+RMS+MFCC vector"),
    ModelSpec("compact-cnn", "sera.models.compact", "CompactCNN", "logmel", "torch",
              "a small CNN over log-mel patches, fast on a CPU"),
    ModelSpec("svm", "sera.models.classical", "SVMClassifier", "egemaps", "sklearn",
              "RBF support-vector machine over utterance functionals"),
    ModelSpec("logreg", "sera.models.classical", "LogisticClassifier", "egemaps", "sklearn",
              "multinomial logistic regression over utterance functionals"),
    ModelSpec("hgb", "sera.models.classical", "GradientBoostingClassifier", "egemaps", "sklearn",
              "histogram gradient-boosted trees over utterance functionals"),
)}


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry called ``name``.

    Raises
    ------
    UnknownModelError
        Naming the models there are.
    """
    return MODELS[check_choice("model", name, MODELS, error=UnknownModelError)]
