"""Raw features → calibrated probabilities: the one inference pipeline.

Every answer sera gives goes through :class:`Scorer`, whether the classifier is a freshly
fitted estimator (training, cross-validation, the channel study) or a bundle's ONNX graph
(predict, analyze, stream, the server)::

    raw features ─ normaliser ─ classifier ─ temperature ─ allowed labels ─ probabilities

1. The normaliser (:class:`sera.adapt.Normalizer`) standardises each row by the training
   statistics, or by its group's own (``adapt``). A normaliser with a reference label first
   scores the rows unadapted and weighs each group's statistics by those scores.
2. The classifier maps normalised rows to probabilities, in batches when it is a graph.
3. The calibration temperature of that ``adapt`` (:func:`sera.calibration.temperature_for`).
4. A deployment's own classes (:meth:`Scorer.with_labels`): the other columns dropped and the
   rest renormalised, which keeps scores that were calibrated over every class calibrated
   given that the truth is among the kept ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sera.adapt import Normalizer, reference_weights
from sera.calibration import apply_temperature, temperature_for
from sera.errors import InputError
from sera.options import Adapt

#: Rows per classifier call of a graph (and utterances per feature-and-classify step of a
#: recording, :mod:`sera.conversation`).
BATCH_SIZE = 64


@dataclass(frozen=True)
class Scorer:
    """Calibrated class probabilities of raw features.

    Parameters
    ----------
    normalizer : sera.adapt.Normalizer
        The training statistics and how to adapt them.
    classify : callable
        Normalised rows ``(n, *shape)`` float32 → probabilities ``(n, len(labels))``.
    labels : tuple of str
        The label of each of ``classify``'s columns.
    calibration : dict, optional
        Temperatures as :func:`sera.calibration.calibration_config` writes them; ``None``:
        the classifier's probabilities as they are.
    batch_size : int, optional
        Rows per ``classify`` call (``None``: all at once).
    allowed : np.ndarray, optional
        Boolean mask over ``labels`` of the classes answered with (``None``: all).
    """

    normalizer: Normalizer
    classify: Callable[[np.ndarray], np.ndarray]
    labels: tuple[str, ...]
    calibration: dict[str, Any] | None = None
    batch_size: int | None = None
    allowed: np.ndarray | None = None

    @property
    def output_labels(self) -> tuple[str, ...]:
        """The labels of :meth:`predict_proba`'s columns (those of :meth:`with_labels`)."""
        if self.allowed is None:
            return self.labels
        return tuple(label for label, kept in zip(self.labels, self.allowed, strict=True)
                     if kept)

    def predict_proba(self, X: np.ndarray, adapt: Adapt = "none",
                      groups: Sequence[object] | None = None) -> np.ndarray:
        """Calibrated probabilities ``(n, len(output_labels))`` of raw features ``(n, *shape)``.

        Parameters
        ----------
        X : np.ndarray
            Raw (unnormalised) features, stacked.
        adapt : str
            ``"none"`` (the training statistics) or the grouping of ``groups``
            (``"recording"``, ``"speaker"``, ``"corpus"``).
        groups : sequence, optional
            Group id per row; required by any ``adapt`` but ``"none"``.

        Raises
        ------
        InputError
            ``adapt`` needs groups and none are given, or their number is not the rows'.
        """
        if adapt != "none" and groups is None:
            raise InputError(f"adapt={adapt!r} needs a group id per clip (groups=...)")
        X = np.asarray(X, dtype=np.float32)
        if X.shape[0] == 0:
            return np.zeros((0, len(self.output_labels)), dtype=np.float32)
        weights = None
        if adapt != "none" and self.normalizer.reference:
            # A group's statistics from its clips that sound like the reference label.
            first = self._classify(self.normalizer.transform(X, adapt="none"))
            weights = reference_weights(first, self.labels, self.normalizer.reference)
        proba = self._classify(self.normalizer.transform(X, groups=groups, adapt=adapt,
                                                         weights=weights))
        proba = apply_temperature(proba, temperature_for(self.calibration, adapt))
        if self.allowed is None:
            return proba
        kept: np.ndarray = proba[:, self.allowed]
        restricted: np.ndarray = (kept / kept.sum(axis=1, keepdims=True)).astype(np.float32)
        return restricted

    def with_labels(self, labels: Sequence[str] | None) -> Scorer:
        """This scorer answering among ``labels`` only.

        Parameters
        ----------
        labels : sequence of str or None
            Two or more of :attr:`labels`, any order (the answer keeps :attr:`labels`'
            order); ``None`` or every label: all of them.

        Raises
        ------
        InputError
            A label it does not know, fewer than two labels, or one given twice.
        """
        if labels is None:
            return dataclasses.replace(self, allowed=None)
        labels = [str(label).strip() for label in labels]
        unknown = [label for label in labels if label not in self.labels]
        if unknown:
            raise InputError(f"unknown label(s) {', '.join(unknown)}; the model's labels "
                             f"are {', '.join(self.labels)}")
        if len(set(labels)) != len(labels):
            raise InputError(f"a label is given twice in {', '.join(labels)}")
        if len(labels) < 2:
            raise InputError("--labels needs two labels or more (one label is no choice)")
        allowed = None if set(labels) == set(self.labels) else \
            np.array([label in labels for label in self.labels])
        return dataclasses.replace(self, allowed=allowed)

    def _classify(self, X: np.ndarray) -> np.ndarray:
        size = self.batch_size or max(X.shape[0], 1)
        return np.concatenate([np.asarray(self.classify(X[i:i + size]), dtype=np.float32)
                               for i in range(0, X.shape[0], size)])
