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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sera.errors import InputError, check_choice
from sera.options import ADAPTS, ESTIMATORS, REFERENCES, Adapt, Estimator, Reference

#: Default prior weight ``k``, in utterances.
PRIOR_WEIGHT = 10.0

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
        The grouping the model was trained with (one of :data:`sera.options.ADAPTS`).
    prior_weight : float
        Shrinkage weight ``k`` in utterances.
    estimator : str
        How a group's location and spread are estimated (one of :data:`sera.options.ESTIMATORS`).
    reference : str, optional
        A label (``"neutral"``) whose clips alone make a group's statistics, each clip
        weighted by its probability of carrying it where that is its most probable label
        (see the module notes); ``None``: every clip alike.
    """

    mean: np.ndarray
    std: np.ndarray
    mode: Adapt = "none"
    prior_weight: float = PRIOR_WEIGHT
    estimator: Estimator = "mean"
    reference: Reference | None = None

    @classmethod
    def fit(cls, X: np.ndarray, groups: Sequence | None = None, mode: Adapt = "none",
            prior_weight: float = PRIOR_WEIGHT, estimator: Estimator = "mean",
            reference: Reference | None = None, weights: np.ndarray | None = None
            ) -> Normalizer:
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
            Group location/spread estimator (:data:`sera.options.ESTIMATORS`).
        reference : str, optional
            The reference label (see the class notes).
        weights : np.ndarray, optional
            With ``reference``: each row's weight (1 for the reference label's rows, 0 for
            the others); the training location is their weighted mean.
        """
        check_choice("adaptation", mode, ADAPTS)
        check_choice("estimator", estimator, ESTIMATORS)
        if reference is not None:
            check_choice("reference", reference, REFERENCES)
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
                  adapt: Adapt | None = None, weights: np.ndarray | None = None) -> np.ndarray:
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
        check_choice("adaptation", adapt, ADAPTS)
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
        check_choice("adaptation", config.get("mode", "none"), ADAPTS)
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


# --- Adaptation that never hurts: candidates scored by bench/dialogue.py ----------------------
#
# Each works on one recording's utterances and their group (a diarized speaker), from what the
# model gives anyway: the unadapted calibrated posteriors, the group-adapted ones, the raw
# features. They are pure functions; which one a recording gets is chosen on the dialogue bench.


def label_entropy(proba: np.ndarray) -> float:
    """How evenly a group's most probable labels spread over the classes, in [0, 1].

    Parameters
    ----------
    proba : np.ndarray
        Posteriors ``(n, C)`` of one group.

    Returns
    -------
    float
        Entropy of the predicted-label distribution over ``log(C)``: 1 when every class is
        predicted equally often, 0 when one class is predicted for every row.
    """
    proba = np.asarray(proba)
    if proba.shape[0] == 0 or proba.shape[1] < 2:
        return 1.0
    counts = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
    share = counts[counts > 0] / counts.sum()
    return float(-(share * np.log(share)).sum() / np.log(proba.shape[1]))


def entropy_prior_weight(proba: np.ndarray, base: float = PRIOR_WEIGHT) -> float:
    """A group's shrinkage weight ``k`` that grows as the group looks one-sided.

    ``k = base + n * (1 - h) / h`` with ``h`` the :func:`label_entropy` of the group's
    unadapted posteriors: a group whose predictions cover every class evenly (``h = 1``) gets
    ``base``; a group predicted half as evenly gets ``base + n`` (its own statistics count at
    most half); one predicted as a single class gets the training statistics alone.

    Parameters
    ----------
    proba : np.ndarray
        Unadapted posteriors ``(n, C)`` of the group.
    base : float
        The weight of an even group.
    """
    h = label_entropy(proba)
    n = np.asarray(proba).shape[0]
    return float("inf") if h <= _EPS else float(base + n * (1.0 - h) / h)


def transform_with_prior_weights(normalizer: Normalizer, X: np.ndarray, groups: Sequence,
                                 prior_weights: dict) -> np.ndarray:
    """Normalise each group by its own statistics shrunk with its own weight ``k``.

    Parameters
    ----------
    normalizer : Normalizer
        The training statistics.
    X : np.ndarray
        Raw features ``(n, *shape)``.
    groups : sequence
        Group id per row.
    prior_weights : dict
        ``k`` per group id; ``inf`` normalises by the training statistics alone.

    Returns
    -------
    np.ndarray
        float32, the shape of ``X``.
    """
    from dataclasses import replace

    shape = np.shape(X)
    rows_of = _rows(X)
    groups = np.asarray(groups)
    out = np.empty_like(rows_of)
    for g in _unique_in_order(groups):
        rows = groups == g
        k = prior_weights[g]
        if np.isinf(k):
            mean, std = normalizer.mean.astype(np.float64), normalizer.std.astype(np.float64)
        else:
            mean, std = replace(normalizer, prior_weight=float(k)).statistics(rows_of[rows])
        out[rows] = (rows_of[rows] - mean) / std
    return out.astype(np.float32).reshape(shape)


def em_priors(proba: np.ndarray, train_priors: np.ndarray | None = None,
              pseudo_count: float = 0.0, iterations: int = 200, tol: float = 1e-8
              ) -> np.ndarray:
    """A group's class priors estimated from its posteriors by EM (Saerens et al. 2002).

    Saerens, Latinne & Decaestecker (2002), "Adjusting the outputs of a classifier to new a
    priori probabilities: a simple procedure": alternately reweight each posterior by the
    ratio of the current priors to the training ones, and take the new priors as the mean
    reweighted posterior. The posteriors must be calibrated for the estimate to be right.

    Parameters
    ----------
    proba : np.ndarray
        Calibrated posteriors ``(n, C)`` under the training priors.
    train_priors : np.ndarray, optional
        The class priors the classifier was trained under (default: uniform).
    pseudo_count : float
        Dirichlet smoothing in rows per class (a MAP estimate), which keeps a class
        from a small group's priors from being driven to zero.
    iterations, tol : int, float
        Most EM steps, and the change in priors that stops it.

    Returns
    -------
    np.ndarray
        The estimated priors ``(C,)``, summing to 1.
    """
    proba = np.asarray(proba, dtype=np.float64)
    n, c = proba.shape
    train = _priors(train_priors, c)
    priors = train.copy()
    for _ in range(iterations):
        adjusted = prior_adjust(proba, priors, train)
        new = (adjusted.sum(axis=0) + pseudo_count) / (n + c * pseudo_count)
        done = np.abs(new - priors).max() < tol
        priors = new
        if done:
            break
    return priors


def prior_adjust(proba: np.ndarray, priors: np.ndarray, train_priors: np.ndarray | None = None
                 ) -> np.ndarray:
    """Posteriors under new class priors: ``p(c|x) * priors[c] / train_priors[c]``, renormalised.

    Parameters
    ----------
    proba : np.ndarray
        Posteriors ``(n, C)`` under ``train_priors``.
    priors : np.ndarray
        The new priors ``(C,)``.
    train_priors : np.ndarray, optional
        Default uniform.
    """
    proba = np.asarray(proba, dtype=np.float64)
    ratio = np.asarray(priors, dtype=np.float64) / _priors(train_priors, proba.shape[1])
    out = proba * ratio
    return out / np.maximum(out.sum(axis=1, keepdims=True), _EPS)


def prior_shift(proba: np.ndarray, groups: Sequence, train_priors: np.ndarray | None = None,
                pseudo_count: float = 1.0) -> np.ndarray:
    """Each group's posteriors reweighted by that group's own EM-estimated priors.

    Label shift treated as label shift: a speaker angry throughout keeps (and strengthens)
    their anger instead of having it normalised away.

    Parameters
    ----------
    proba : np.ndarray
        Calibrated unadapted posteriors ``(n, C)``.
    groups : sequence
        Group id per row.
    train_priors : np.ndarray, optional
        Default uniform.
    pseudo_count : float
        See :func:`em_priors`.

    Returns
    -------
    np.ndarray
        float32 ``(n, C)``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    groups = np.asarray(groups)
    out = np.empty_like(proba)
    for g in _unique_in_order(groups):
        rows = groups == g
        priors = em_priors(proba[rows], train_priors, pseudo_count)
        out[rows] = prior_adjust(proba[rows], priors, train_priors)
    return out.astype(np.float32)


def posterior_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean total-variation distance between two sets of posteriors ``(n, C)``, in [0, 1]."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(0.5 * np.abs(a - b).sum(axis=1).mean()) if a.shape[0] else 0.0


def collapsed(proba: np.ndarray, share: float = 0.9, least: int = 3) -> bool:
    """Whether a group's answers (``least`` rows or more) fall on one class ``share`` of the
    time or more."""
    proba = np.asarray(proba)
    if proba.shape[0] < least:
        return False
    counts = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
    return bool(counts.max() / proba.shape[0] >= share)


def guarded(adapted: np.ndarray, unadapted: np.ndarray, groups: Sequence, threshold: float,
            share: float = 0.9) -> tuple[np.ndarray, list]:
    """The adapted posteriors, except for a group whose adapted answers collapse onto one
    class or move far from the unadapted ones: that group gets the unadapted posteriors.

    Parameters
    ----------
    adapted, unadapted : np.ndarray
        Posteriors ``(n, C)`` of the same rows.
    groups : sequence
        Group id per row.
    threshold : float
        The :func:`posterior_distance` beyond which a group's adaptation counts as far (chosen
        on training speakers, e.g. the largest distance any of them shows).
    share : float
        See :func:`collapsed` (a group whose unadapted answers collapse as well keeps the
        adapted ones: the collapse is not the adaptation's doing).

    Returns
    -------
    proba : np.ndarray
        float32 ``(n, C)``.
    fallen_back : list
        The groups that got the unadapted posteriors.
    """
    adapted = np.asarray(adapted, dtype=np.float32)
    unadapted = np.asarray(unadapted, dtype=np.float32)

    def falls_back(rows: np.ndarray) -> bool:
        collapse = collapsed(adapted[rows], share) and not collapsed(unadapted[rows], share)
        return collapse or posterior_distance(adapted[rows], unadapted[rows]) > threshold

    return _unadapted_where(adapted, unadapted, groups, falls_back)


def unless_one_sided(adapted: np.ndarray, unadapted: np.ndarray, groups: Sequence,
                     threshold: float | Sequence[float]) -> tuple[np.ndarray, list]:
    """The adapted posteriors, except for a group that looks one-sided before adaptation: a
    group whose unadapted answers spread over the classes less evenly than its threshold
    (:func:`label_entropy`) gets the unadapted posteriors.

    A speaker's own statistics stand for their neutral voice only when they voice many
    emotions; a speaker who holds one mood (or whose every clip a noise floor pushes toward one
    class) would be normalised back to the middle, so such a group is left as it is.

    Parameters
    ----------
    adapted, unadapted : np.ndarray
        Posteriors ``(n, C)`` of the same rows.
    groups : sequence
        Group id per row.
    threshold : float or sequence of float
        The label entropy below which a group counts as one-sided, in [0, 1]; or one per group
        size (``threshold[n]`` for a group of ``n`` rows, the last for larger groups), since a
        small group spreads less evenly by chance. Chosen on training speakers: a low
        percentile of it over balanced groups of unheard voices, of each size.

    Returns
    -------
    proba : np.ndarray
        float32 ``(n, C)``.
    left_unadapted : list
        The groups that got the unadapted posteriors.
    """
    unadapted = np.asarray(unadapted, dtype=np.float32)
    by_size = np.atleast_1d(np.asarray(threshold, dtype=np.float64))

    def one_sided(rows: np.ndarray) -> bool:
        return label_entropy(unadapted[rows]) < by_size[min(int(rows.sum()), by_size.size - 1)]

    return _unadapted_where(adapted, unadapted, groups, one_sided)


def _unadapted_where(adapted: np.ndarray, unadapted: np.ndarray, groups: Sequence,
                     falls_back: Callable[[np.ndarray], bool]) -> tuple[np.ndarray, list]:
    """The adapted posteriors (float32), with the unadapted ones for each group whose row mask
    ``falls_back`` accepts; and those groups, in order of first appearance."""
    out = np.asarray(adapted, dtype=np.float32).copy()
    unadapted = np.asarray(unadapted, dtype=np.float32)
    groups = np.asarray(groups)
    left = []
    for g in _unique_in_order(groups):
        rows = groups == g
        if falls_back(rows):
            out[rows] = unadapted[rows]
            left.append(g)
    return out, left


def _priors(priors: np.ndarray | None, c: int) -> np.ndarray:
    if priors is None:
        return np.full(c, 1.0 / c)
    priors = np.asarray(priors, dtype=np.float64)
    return priors / priors.sum()
