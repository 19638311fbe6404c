"""Training and cross-validation: manifest → split → features → normalise → fit → evaluate.

One recipe (:class:`Recipe`) says what to train; :func:`train` fits it once on an honest
split (or on everything, for a shipped model) and writes a bundle, and
:func:`cross_validate` measures it over leave-one-speaker-out or leave-one-corpus-out folds.
Augmented copies are only ever made of the training rows of a split
(:func:`sera.splits.rows_to_augment` checks it); only the seed's ``random`` protocol mixes
them, and it warns that its figure is inflated by leakage.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sera.adapt import (
    Normalizer,
    subsample_statistics_augment,
)
from sera.calibration import (
    apply_temperature,
    calibration_config,
    expected_calibration_error,
    fit_temperature,
)
from sera.corpora import GROUP_COLUMNS, load_manifest
from sera.errors import SeraError, check_choice
from sera.features import FeatureTable
from sera.features.store import cached_features
from sera.labels import LABELS
from sera.metrics import heldout_figures
from sera.models import get_model_spec
from sera.options import BALANCES, SPLITS
from sera.progress import ProgressReport
from sera.recipes import DEFAULT_RECIPE, Recipe
from sera.scoring import Scorer
from sera.splits import Split, corpus_split, random_split, rows_to_augment, speaker_split

#: What the figures of the seed's ``random`` protocol carry (``metrics["warning"]``).
LEAKAGE_WARNING = "inflated by leakage (random split over augmented rows)"


@dataclass
class FittedModel:
    """A fitted estimator with the normaliser its inputs need."""

    estimator: object
    normalizer: Normalizer
    recipe: Recipe
    calibration: dict | None = None

    @property
    def scorer(self) -> Scorer:
        """Raw features → probabilities, as the bundle's inference runs them (calibrated once
        :attr:`calibration` is set)."""
        return Scorer(normalizer=self.normalizer, classify=self.estimator.predict_proba,
                      labels=LABELS, calibration=self.calibration)

    def predict_proba(self, X: np.ndarray, frame: pd.DataFrame, adapt: str | None = None
                      ) -> np.ndarray:
        """Probabilities for raw features ``X`` of the rows of ``frame``, each adapted to its
        group (``adapt``, default the recipe's) as :attr:`scorer` does at run time."""
        adapt = adapt or self.normalizer.mode
        return self.scorer.predict_proba(X, adapt=adapt, groups=_groups(frame, adapt))


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    fitted: FittedModel
    metrics: dict | None
    history: list[dict]
    training: dict
    failures: list[tuple[str, str]] = field(default_factory=list)
    bundle: object | None = None


def fit(train: FeatureTable | tuple[np.ndarray, pd.DataFrame], recipe: Recipe,
        val: FeatureTable | tuple[np.ndarray, pd.DataFrame] | None = None,
        progress: ProgressReport | None = None, **torch_options) -> FittedModel:
    """Fit a recipe on training rows (and monitor validation rows, for torch models).

    Parameters
    ----------
    train, val : FeatureTable or (X, frame)
        Raw features and their rows (with ``emotion``, ``speaker``, ``corpus``, ``path``).
    recipe : Recipe
        What to fit.
    progress : ProgressReport, optional
        Told of the epochs and batches of a torch model's training (:mod:`sera.progress`).
    **torch_options
        ``checkpoint_dir`` and ``resume`` for torch models.
    """
    X, frame = _unpack(train)
    y = _label_indices(frame)
    weight = sample_weights(frame, recipe.balance)
    mask = label_mask(frame)
    reference = None if recipe.reference is None else \
        (y == LABELS.index(recipe.reference)).astype(np.float64)
    normalizer = Normalizer.fit(X, _groups(frame, recipe.adapt), mode=recipe.adapt,
                                prior_weight=recipe.prior_weight, estimator=recipe.estimator,
                                reference=recipe.reference, weights=reference)
    Xn = normalizer.transform(X, _groups(frame, recipe.adapt), adapt=recipe.adapt,
                              weights=reference)
    if recipe.adapt != "none":
        extra, y_extra = subsample_statistics_augment(
            X, y, _groups(frame, recipe.adapt), normalizer, seed=recipe.seed, skew=recipe.skew,
            weights=reference)
        Xn = np.concatenate([Xn, extra])
        y = np.concatenate([y, y_extra])
        weight = None if weight is None else np.concatenate([weight, weight])
        mask = np.concatenate([mask, mask])
    Xv = yv = None
    if val is not None:
        Xv_raw, val_frame = _unpack(val)
        if len(val_frame):
            Xv = _normalize(normalizer, Xv_raw, val_frame, recipe.adapt)
            yv = _label_indices(val_frame)
    spec = get_model_spec(recipe.model)
    build = {"progress": progress, **torch_options} if spec.kind == "torch" else {}
    estimator = spec.build(**{"seed": recipe.seed, **recipe.params, **build})
    options = {}
    if weight is not None:
        if spec.kind == "torch":
            raise SeraError(f"balance={recipe.balance!r} needs a classical model, not {spec.name}")
        options["sample_weight"] = weight
    if not mask.all():
        if getattr(estimator, "supports_label_mask", False):
            options["label_mask"] = mask
        else:
            warnings.warn(f"{spec.name} cannot mask labels per corpus: the rows of a corpus "
                          f"without some label count as evidence against it (use logreg)",
                          stacklevel=2)
    estimator.fit(Xn, y, Xv, yv, **options)
    return FittedModel(estimator=estimator, normalizer=normalizer, recipe=recipe)


def label_mask(frame: pd.DataFrame) -> np.ndarray:
    """The labels each training row may carry: those its corpus uses.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows with ``corpus`` and ``emotion`` columns.

    Returns
    -------
    np.ndarray
        ``(n, 7)`` bool, columns in :data:`LABELS` order: false where the row's corpus never
        uses a label that another training corpus does; all true for a single corpus.
    """
    if "corpus" not in frame:
        return np.ones((len(frame), len(LABELS)), dtype=bool)
    corpus = frame["corpus"].to_numpy()
    emotion = frame["emotion"].to_numpy()
    names, index = np.unique(corpus, return_inverse=True)
    used = np.array([[label in set(emotion[corpus == name]) for label in LABELS]
                     for name in names], dtype=bool).reshape(len(names), len(LABELS))
    # A label no training row carries constrains nothing: leave it allowed everywhere.
    return (used | ~used.any(axis=0))[index]


def sample_weights(frame: pd.DataFrame, balance: str) -> np.ndarray | None:
    """Row weights that give every corpus the same total weight (mean weight 1).

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows with a ``corpus`` column.
    balance : str
        ``"corpus"``, or ``"none"`` (returns ``None``: every row alike).
    """
    if check_choice("balance", balance, BALANCES) == "none":
        return None
    corpus = frame["corpus"].to_numpy()
    names, index, counts = np.unique(corpus, return_inverse=True, return_counts=True)
    return (len(corpus) / (len(names) * counts[index])).astype(np.float64)


def make_split(manifest: pd.DataFrame, split: str, *, seed: int = 0,
               test_corpus: str | None = None, validation: bool = True) -> Split:
    """One train/validation/test split of a manifest.

    ``"none"`` trains on everything but the validation speakers, which only models that
    monitor a validation metric (``validation=True``) get; the others train on everyone.
    """
    check_choice("split", split, SPLITS)
    if split == "speaker":
        return speaker_split(manifest, seed=seed)
    if split == "corpus":
        if test_corpus is None:
            raise SeraError("--split corpus needs --test-corpus NAME")
        return corpus_split(manifest, test_corpus, seed=seed)
    if split == "none":
        speakers = manifest["speaker"].nunique()
        val = (speaker_split(manifest, test_size=0.0, val_size=0.1, seed=seed).val
               if validation and speakers >= 3 else np.array([], dtype=np.int64))
        train = np.setdiff1d(np.arange(len(manifest)), val)
        return Split(train=train, val=val, test=np.array([], dtype=np.int64))
    raise SeraError(f"a {split!r} split is not one train/test split; make one of speaker, "
                    f"corpus or none")


def train(source, recipe: Recipe = DEFAULT_RECIPE, *, split: str = "speaker",
          test_corpus: str | None = None, out: str | os.PathLike | None = None,
          cache_dir: str | os.PathLike | None = None, workers: int = 1,
          progress: ProgressReport | None = None,
          checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
          card_extra: str = "") -> TrainResult:
    """Train a recipe once and (optionally) write its bundle.

    Parameters
    ----------
    source : path or DataFrame
        Corpus folder, CSV manifest, or manifest frame.
    recipe : Recipe
        What to train.
    split : str
        ``"speaker"`` (default: speaker-disjoint train/validation/test), ``"corpus"`` (test on
        ``test_corpus``), ``"random"`` (the seed's leaky protocol over augmented rows: warns)
        or ``"none"`` (train on every speaker; no test figure, for shipped models).
    out : path, optional
        Bundle directory to write.
    cache_dir : path, optional
        Where feature stores are kept between runs.
    workers : int
        Feature-extraction processes.
    progress : ProgressReport, optional
        Told of the features computed and of a torch model's epochs and batches
        (:mod:`sera.progress`).
    checkpoint_dir, resume
        Checkpointing of torch models.
    card_extra : str
        Markdown appended to the model card (e.g. cross-validation figures).
    """
    manifest = load_manifest(source)
    fs = recipe.feature_set
    if split == "random":
        rows, test_rows, val_rows, failures = _random_rows(manifest, recipe, cache_dir, workers,
                                                           progress)
    else:
        parts = make_split(manifest, split, seed=recipe.seed, test_corpus=test_corpus,
                           validation=get_model_spec(recipe.model).kind == "torch")
        X, frame, failures = training_rows(manifest, parts, recipe, cache_dir, workers,
                                            progress)
        rows = (X, frame)
        held_out = cached_features(manifest.iloc[np.concatenate([parts.val, parts.test])], fs,
                                   cache_dir=cache_dir, workers=workers, progress=progress)
        failures = failures + held_out.failures
        if len(frame) == 0:
            raise SeraError("no training utterances left after the split")
        val_paths = set(manifest["path"].iloc[parts.val])
        in_val = held_out.frame["path"].isin(val_paths).to_numpy()
        val_rows = (held_out.X[in_val], held_out.frame[in_val])
        test_rows = (held_out.X[~in_val], held_out.frame[~in_val])
    fitted = fit(rows, recipe, val=val_rows, progress=progress, checkpoint_dir=checkpoint_dir,
                 resume=resume)
    if recipe.calibration in CALIBRATION_FOLDS_BY:
        fitted.calibration = out_of_fold_calibration(rows, recipe,
                                                     by=CALIBRATION_FOLDS_BY[recipe.calibration])

    metrics = None
    if len(test_rows[1]):
        proba = fitted.predict_proba(*test_rows)
        metrics = heldout_figures(test_rows[1], proba)
        metrics["ece"] = expected_calibration_error(proba, _label_indices(test_rows[1]))
        if split == "random":
            metrics["warning"] = LEAKAGE_WARNING
    history = list(getattr(fitted.estimator, "history", []) or [])
    training = {**_training_summary(manifest, rows[1], recipe, split, test_corpus),
                "history": history}
    result = TrainResult(fitted=fitted, metrics=metrics, history=history, training=training,
                         failures=failures)
    if out is not None:
        result.bundle = write_bundle(out, fitted, training=training, metrics=metrics or {},
                                     card_extra=card_extra)
    return result


#: Speaker folds of the out-of-fold predictions a temperature is fitted on.
CALIBRATION_FOLDS = 5

#: The recipe's ``calibration`` methods, and what their out-of-fold predictions hold out.
CALIBRATION_FOLDS_BY = {"temperature": "speaker", "temperature-corpus": "corpus"}


def out_of_fold_calibration(train, recipe: Recipe, n_folds: int = CALIBRATION_FOLDS,
                            by: str = "speaker") -> dict | None:
    """Temperatures fitted on out-of-fold predictions of the training speakers or corpora.

    With ``by="speaker"`` the training speakers are dealt into ``n_folds`` folds; with
    ``by="corpus"`` each training corpus is a fold of its own (leave one corpus out; with one
    corpus, speaker folds). Each fold's original clips are predicted by the recipe fitted on
    the other folds' rows (augmented copies included), one clip at a time (``adapt="none"``)
    and adapted to their speaker (the recipe's ``adapt``). One temperature per mode
    (:func:`sera.calibration.fit_temperature`).

    Returns
    -------
    dict or None
        :func:`sera.calibration.calibration_config`, with the ECE of the out-of-fold
        predictions before and after; ``None`` with fewer than two speakers.
    """
    from dataclasses import replace

    X, frame = _unpack(train)
    speakers = frame["speaker"].astype(str).to_numpy()
    unique = np.unique(speakers)
    if len(unique) < 2:
        return None
    corpora = frame["corpus"].astype(str).to_numpy() if "corpus" in frame else None
    if by == "corpus" and corpora is not None and len(np.unique(corpora)) > 1:
        names, fold = np.unique(corpora, return_inverse=True)
        k, held_out = len(names), f"{len(names)} corpora, each held out once"
    else:
        k = min(n_folds, len(unique))
        order = np.random.default_rng(recipe.seed).permutation(unique)
        fold_of = {speaker: i % k for i, speaker in enumerate(order)}
        fold = np.array([fold_of[s] for s in speakers])
        held_out = f"{len(unique)} training speakers ({k} folds by speaker)"
    original = (frame["augment"] == "none").to_numpy() if "augment" in frame else \
        np.ones(len(frame), dtype=bool)
    modes = ["none"] + ([recipe.adapt] if recipe.adapt != "none" else [])
    probas, truth = {mode: [] for mode in modes}, []
    plain = replace(recipe, calibration="none")
    for f in range(k):
        held = (fold == f) & original
        fitted = fit((X[fold != f], frame[fold != f]), plain)
        for mode in modes:
            probas[mode].append(fitted.predict_proba(X[held], frame[held], adapt=mode))
        truth.append(_label_indices(frame[held]))
    y = np.concatenate(truth)
    temperatures, before, after = {}, {}, {}
    for mode in modes:
        proba = np.concatenate(probas[mode])
        temperatures[mode] = fit_temperature(proba, y)
        before[mode] = round(expected_calibration_error(proba, y), 4)
        after[mode] = round(expected_calibration_error(
            apply_temperature(proba, temperatures[mode]), y), 4)
    return calibration_config(
        temperatures, ece_before=before, ece_after=after,
        fitted_on=f"out-of-fold predictions of the {held_out}")


def write_bundle(out: str | os.PathLike, fitted: FittedModel, *, training: dict, metrics: dict,
                 evaluation: str | None = None, card_extra: str = ""):
    """Write a fitted recipe as a bundle (``config.json`` + ``model.onnx`` + ``card.md``).

    Parameters
    ----------
    out : path
        The bundle directory.
    fitted : FittedModel
        What :func:`fit` returned.
    training : dict
        Summary of the training data and recipe (``TrainResult.training``).
    metrics : dict
        Held-out figures (the ``evaluate`` schema), or ``{}`` when not evaluated.
    evaluation : str, optional
        How ``metrics`` were obtained, for the model card.
    card_extra : str
        Markdown appended to the model card.
    """
    from sera.bundle import save_bundle
    from sera.cards import training_card

    recipe = fitted.recipe
    fs = recipe.feature_set
    card = training_card(model_name=recipe.model, features=fs.name, training=training,
                         metrics=metrics, evaluation=evaluation, extra=card_extra)
    return save_bundle(out, model=fitted.estimator, model_name=recipe.model,
                       feature_config=fs.to_config(), sample_rate=fs.sample_rate,
                       normalization=fitted.normalizer.to_config(), training=training,
                       metrics=metrics, card=card, calibration=fitted.calibration)


# -- internals ---------------------------------------------------------------------------


def training_rows(manifest, parts: Split, recipe: Recipe, cache_dir, workers, progress,
                  pool: FeatureTable | None = None):
    """Raw features, rows and failures of a split's training part, with augmented copies of
    those rows only.

    ``pool``, a table already holding (at least) these utterances and, for a recipe with
    augmentation, their augmented copies, is sliced instead of extracting again: every copy
    is a function of its own file (and, with ``babble = "others"``, of a few other speakers'
    voices as noise), so cross-validation computes them once and each fold takes the copies of
    its training speakers.
    """
    train_manifest = rows_to_augment(manifest, parts)
    if pool is not None:
        rows = pool.frame["path"].isin(set(train_manifest["path"])).to_numpy()
        return pool.X[rows], pool.frame[rows], []
    table = cached_features(train_manifest, recipe.feature_set, cache_dir=cache_dir,
                            workers=workers, progress=progress,
                            augment=recipe_augmenter(recipe, train_manifest))
    return table.X, table.frame, table.failures


def recipe_augmenter(recipe: Recipe, manifest):
    """The augmenter of a recipe's training utterances, or ``None`` for a recipe without.

    Parameters
    ----------
    recipe : Recipe
        Its augmentation kinds, seed and ``babble``.
    manifest : pandas.DataFrame
        The utterances to augment (``path``, ``speaker``, ``corpus``); with ``babble =
        "others"`` they are also the crowd whose voices the babble copies are made of.
    """
    from sera.augment import Augmenter

    if not recipe.augment:
        return None
    crowd = None
    if recipe.babble == "others":
        # A speaker is a corpus's speaker: two corpora may both have a speaker "01".
        crowd = dict(zip(manifest["path"].astype(str),
                         manifest["corpus"].astype(str) + "/" + manifest["speaker"].astype(str),
                         strict=True))
    return Augmenter(recipe.augment, seed=recipe.seed, crowd=crowd)


def _random_rows(manifest, recipe: Recipe, cache_dir, workers, progress):
    """The seed's protocol: augment every utterance, then split the rows at random."""
    from sera.augment import Augmenter

    kinds = recipe.augment or ("noise", "stretch", "shift", "pitch")
    table = cached_features(manifest, recipe.feature_set, cache_dir=cache_dir, workers=workers,
                            progress=progress, augment=Augmenter(kinds, seed=recipe.seed))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        parts = random_split(table.frame, test_size=0.2, val_size=0.1, seed=recipe.seed)
    X, frame = table.X, table.frame
    return ((X[parts.train], frame.iloc[parts.train]), (X[parts.test], frame.iloc[parts.test]),
            (X[parts.val], frame.iloc[parts.val]), table.failures)


def _training_summary(manifest, train_frame, recipe, split, test_corpus) -> dict:
    originals = train_frame[train_frame["augment"] == "none"] if "augment" in train_frame else \
        train_frame
    return {
        "recipe": recipe.to_config(),
        "split": split if split != "corpus" else f"corpus (test: {test_corpus})",
        "utterances": int(len(originals)),
        "rows_with_augmentation": int(len(train_frame)),
        "speakers": int(originals["speaker"].nunique()),
        "speaker_ids": sorted(map(str, originals["speaker"].unique())),
        "corpora": {str(k): int(v) for k, v in originals["corpus"].value_counts().items()},
        "emotions": {label: int((originals["emotion"] == label).sum()) for label in LABELS},
        "genders": {str(k): int(v) for k, v in originals["gender"].value_counts().items()},
    }


def _unpack(part):
    if isinstance(part, FeatureTable):
        return part.X, part.frame
    X, frame = part
    return X, frame


def _label_indices(frame: pd.DataFrame) -> np.ndarray:
    return np.array([LABELS.index(e) for e in frame["emotion"]], dtype=np.int64)


def _groups(frame: pd.DataFrame, adapt: str):
    if adapt == "none":
        return None
    groups = frame[GROUP_COLUMNS[adapt]].astype(str)
    if "augment" in frame and (frame["augment"] != "none").any():
        # A speaker's copies under one augmentation are that speaker over another channel: at
        # run time a group's clips share their channel, so each copy set is a group of its own.
        groups = groups.where(frame["augment"] == "none", groups + "\0" + frame["augment"])
    return groups.to_numpy()


def _normalize(normalizer: Normalizer, X: np.ndarray, frame: pd.DataFrame, adapt: str):
    return normalizer.transform(X, _groups(frame, adapt), adapt=adapt)
