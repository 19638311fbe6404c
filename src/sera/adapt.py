"""Adaptive feature normalisation: per speaker, per recording, per corpus, or none.

A model trained on one set of voices meets new voices and microphones at run time.
Functionals such as mean pitch or spectral tilt move with the speaker and the channel
as much as with the emotion, so sera normalises each group of utterances (one speaker,
one recording, one corpus) by that group's own statistics, which need no labels.

A group with few utterances gives unreliable statistics, so they are shrunk toward
the training statistics: with ``n`` utterances and prior weight ``k``::

    mean  = (n * group_mean + k * prior_mean) / (n + k)
    var   = (n * group_var  + k * prior_var)  / (n + k)

One clip alone (``n = 1``) is therefore normalised almost exactly by the training
statistics, and a speaker with sixty clips almost exactly by their own.

A group's own statistics also hold what the group has in common, and that may be its
emotion: a speaker who is angry throughout (a one-sided call) has an "angry" mean, and
subtracting it erases the anger. Two things make adaptation robust to such skew. The group
location and spread can be estimated robustly (``estimator="median"``: median and
inter-quartile range), and training rows can be normalised by statistics of *skewed* subsets
of their own speaker's clips (:func:`subsample_statistics_augment` with ``skew``), so that
the classifier learns to live with imperfect statistics.

A third way asks the group for its *neutral* voice only (``reference="neutral"``): each
clip counts toward its group's statistics with a weight, its probability of being neutral
(at run time, from a first pass normalised by the training statistics; in training, its true
label), and the shrinkage uses the summed weight as ``n``; a clip whose most probable label
is another one weighs nothing. A speaker heard neutral now and
then is normalised by that neutral baseline (the field's neutral-reference normalisation); a
speaker angry throughout has almost no neutral weight, so their clips fall back to the
training statistics, as single clips do, and the anger is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sera.errors import InputError

#: Grouping modes, from the least to the most adapted.
MODES = ("none", "recording", "speaker", "corpus")

#: Default prior weight ``k``, in utterances.
PRIOR_WEIGHT = 10.0

#: Location/spread estimators of a group: mean and standard deviation, or median and
#: inter-quartile range (scaled to a normal's standard deviation).
ESTIMATORS = ("mean", "median")

#: IQR of a standard normal: IQR / this estimates a standard deviation.
_IQR_NORMAL = 1.3489795

_EPS = 1e-6


@dataclass(frozen=True)
class Normalizer:
    """Training statistics and how to adapt them to a group of utterances.

    Parameters
    ----------
    mean : np.ndarray
        Mean of the training features, shape ``(D,)``.
    std : np.ndarray
        Spread the model was trained at: the pooled within-group standard deviation
        for a group-normalised model, the global one otherwise, shape ``(D,)``.
    mode : str
        The grouping the model was trained with (one of :data:`MODES`).
    prior_weight : float
        Shrinkage weight ``k`` in utterances.
    estimator : str
        How a group's location and spread are estimated (one of :data:`ESTIMATORS`).
    reference : str, optional
        A label (``"neutral"``) whose clips alone make a group's statistics, each clip
        weighted by its probability of carrying it where that is its most probable label
        (see the module notes); ``None``: every clip alike.
    """

    mean: np.ndarray
    std: np.ndarray
    mode: str = "none"
    prior_weight: float = PRIOR_WEIGHT
    estimator: str = "mean"
    reference: str | None = None

    @classmethod
    def fit(cls, X: np.ndarray, groups: Sequence | None = None, mode: str = "none",
            prior_weight: float = PRIOR_WEIGHT, estimator: str = "mean",
            reference: str | None = None, weights: np.ndarray | None = None) -> Normalizer:
        """Learn the training statistics.

        Parameters
        ----------
        X : np.ndarray
            Training features ``(n, *shape)``; statistics are kept per flattened value.
        groups : sequence, optional
            Group id per row (e.g. speaker), required unless ``mode == "none"``.
        mode : str
            Grouping mode the model is trained with.
        prior_weight : float
            Shrinkage weight ``k``.
        estimator : str
            Group location/spread estimator (:data:`ESTIMATORS`).
        reference : str, optional
            The reference label (see the class notes).
        weights : np.ndarray, optional
            With ``reference``: each row's weight (1 for the reference label's rows, 0 for
            the others); the training location is their weighted mean.
        """
        _check_mode(mode)
        _check_estimator(estimator)
        X = _rows(X)
        mean = X.mean(axis=0) if weights is None else np.average(X, axis=0, weights=weights)
        if mode == "none":
            std = X.std(axis=0)
        else:
            if groups is None:
                raise InputError(f"mode {mode!r} needs a group per row")
            groups = np.asarray(groups)
            within = [_location_spread(X[groups == g], estimator)[1] ** 2
                      for g in np.unique(groups)]
            std = np.sqrt(np.mean(within, axis=0))
        return cls(mean=mean.astype(np.float32), std=np.maximum(std, _EPS).astype(np.float32),
                   mode=mode, prior_weight=float(prior_weight), estimator=estimator,
                   reference=reference)

    def statistics(self, X: np.ndarray, weights: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Shrunk location and spread of one group of rows ``(n, *shape)``; with ``weights``
        (one per row), weighted, and ``n`` their sum."""
        X = _rows(X)
        n, k = X.shape[0], self.prior_weight
        prior_var = self.std.astype(np.float64) ** 2
        location, spread = _location_spread(X, self.estimator)
        var = (n * spread ** 2 + k * prior_var) / (n + k)
        if weights is not None:
            # The location from the reference clips only (their summed weight is its n);
            # the spread, which says little about the emotion, from every clip.
            weights = np.asarray(weights, dtype=np.float64)
            n = float(weights.sum())
            location = weights @ X / n if n > 0 else self.mean
        mean = (n * location + k * self.mean) / (n + k)
        return mean, np.sqrt(np.maximum(var, _EPS ** 2))

    def transform(self, X: np.ndarray, groups: Sequence | None = None,
                  adapt: str | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        """Normalise features, adapting to each group's own statistics.

        Parameters
        ----------
        X : np.ndarray
            Features ``(n, *shape)``.
        groups : sequence, optional
            Group id per row. Rows without groups, or ``adapt="none"``, are
            normalised by the training statistics alone.
        adapt : str, optional
            Grouping to apply (default: the mode the model was trained with).
            Any mode other than ``"none"`` uses ``groups``.
        weights : np.ndarray, optional
            Weight of each row in its group's statistics (a :attr:`reference` normaliser:
            each row's probability of the reference label).

        Returns
        -------
        np.ndarray
            float32, the shape of ``X``.
        """
        adapt = self.mode if adapt is None else adapt
        _check_mode(adapt)
        shape = np.shape(X)
        X = _rows(X)
        if adapt == "none" or groups is None:
            out = (X - self.mean) / self.std
            return out.astype(np.float32).reshape(shape)
        groups = np.asarray(groups)
        if groups.shape[0] != X.shape[0]:
            raise InputError(f"{groups.shape[0]} group ids for {X.shape[0]} rows")
        out = np.empty_like(X)
        for g in _unique_in_order(groups):
            rows = groups == g
            mean, std = self.statistics(X[rows], None if weights is None else weights[rows])
            out[rows] = (X[rows] - mean) / std
        return out.astype(np.float32).reshape(shape)

    def to_config(self) -> dict:
        """JSON-serialisable form for a bundle's ``config.json``."""
        return {"mode": self.mode, "prior_weight": self.prior_weight,
                "estimator": self.estimator, "reference": self.reference,
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_config(cls, config: dict) -> Normalizer:
        """Inverse of :meth:`to_config`."""
        _check_mode(config.get("mode", "none"))
        return cls(mean=np.asarray(config["mean"], dtype=np.float32),
                   std=np.asarray(config["std"], dtype=np.float32),
                   mode=config.get("mode", "none"),
                   prior_weight=float(config.get("prior_weight", PRIOR_WEIGHT)),
                   estimator=config.get("estimator", "mean"),
                   reference=config.get("reference"))


def subsample_statistics_augment(X: np.ndarray, y: np.ndarray, groups: Sequence,
                                 normalizer: Normalizer, sizes: Sequence[int] = (1, 2, 4, 8),
                                 seed: int = 0, skew: bool = False,
                                 weights: np.ndarray | None = None
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """Extra training rows normalised by statistics from a few of their group's utterances.

    At run time a group may hold one clip or a handful, so its statistics are noisy
    and shrunk toward the prior. Training on rows normalised that way (besides the
    rows normalised by the whole group) teaches the model the same conditions.

    Parameters
    ----------
    X, y : np.ndarray
        Raw training features ``(n, *shape)`` and labels ``(n,)``.
    groups : sequence
        Group id per row.
    normalizer : Normalizer
        Fitted on the same rows.
    sizes : sequence of int
        Subset sizes drawn uniformly, each subset including the row itself.
    seed : int
        Seed for the draws.
    skew : bool
        Also draw skewed subsets (a run-time group whose clips share one mood): half the rows
        are normalised by statistics of up to ``4 * max(sizes)`` clips of their group that
        carry the row's own label only, so that the model learns that a group's statistics
        may hold the emotion itself.
    weights : np.ndarray, optional
        Row weights of a :attr:`Normalizer.reference` normaliser.

    Returns
    -------
    X_aug, y_aug : np.ndarray
        One extra row per input row, in input order.
    """
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    shape = np.shape(X)
    X = _rows(X)
    out = np.empty_like(X)
    for g in _unique_in_order(groups):
        members = np.flatnonzero(groups == g)
        for i in members:
            pool = members[members != i]
            size = int(rng.choice(sizes))
            if skew and rng.random() < 0.5:
                pool = pool[np.asarray(y)[pool] == np.asarray(y)[i]]
                size = 4 * max(sizes)
            size = min(size, pool.size + 1)
            others = rng.choice(pool, size - 1, replace=False)
            subset = np.concatenate([[i], others]).astype(np.int64)
            mean, std = normalizer.statistics(X[subset],
                                              None if weights is None else weights[subset])
            out[i] = (X[i] - mean) / std
    return out.astype(np.float32).reshape(shape), np.asarray(y).copy()


def reference_weights(proba: np.ndarray, labels: Sequence[str], reference: str | None
                      ) -> np.ndarray | None:
    """Each row's weight in its group's statistics: its probability of ``reference`` where
    that is its most probable label, else 0 (a clip that does not sound neutral says nothing
    of its speaker's neutral voice; summed small probabilities of many angry clips would)."""
    if reference is None:
        return None
    proba = np.asarray(proba, dtype=np.float64)
    column = list(labels).index(reference)
    return np.where(proba.argmax(axis=1) == column, proba[:, column], 0.0)


def _rows(X) -> np.ndarray:
    """Features as float64 ``(n, D)``: one row per utterance, values flattened."""
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(X.shape[0], int(np.prod(X.shape[1:])))


def _unique_in_order(values: np.ndarray) -> list:
    _, first = np.unique(values, return_index=True)
    return [values[i] for i in sorted(first)]


def _location_spread(X: np.ndarray, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    """Location and spread of rows ``(n, D)`` by ``estimator``."""
    if estimator == "median" and X.shape[0] >= 4:
        low, median, high = np.percentile(X, [25, 50, 75], axis=0)
        return median, (high - low) / _IQR_NORMAL
    # Fewer than four rows have no meaningful quartiles: the mean and spread then.
    return X.mean(axis=0), X.std(axis=0)


def _check_estimator(estimator: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(f"unknown adaptation {mode!r}; choose one of {', '.join(MODES)}")
