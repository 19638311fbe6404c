"""Training and cross-validation: manifest → split → features → normalise → fit → evaluate.

One recipe (:class:`Recipe`) says what to train; :func:`train` fits it once on an honest
split (or on everything, for a shipped model) and writes a bundle, and
:func:`cross_validate` measures it over leave-one-speaker-out or leave-one-corpus-out folds.
Augmented copies are only ever made of the training rows of a split
(:func:`sera.splits.rows_to_augment` checks it); only the seed's ``random`` protocol mixes
them, and it warns that its figure is inflated by leakage.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    reliability,
)
from sera.corpora import scan
from sera.errors import SeraError
from sera.features import FeatureTable, extract_features, get_feature_set
from sera.labels import LABELS
from sera.metrics import breakdown, evaluate_predictions
from sera.models import get_model_spec
from sera.recipes import DEFAULT_RECIPE, Recipe
from sera.scoring import Scorer
from sera.splits import Split, corpus_split, loso, random_split, rows_to_augment, speaker_split

#: Which manifest column groups utterances for each adaptation mode.
GROUP_COLUMNS = {"speaker": "speaker", "corpus": "corpus", "recording": "path"}

SPLITS = ("speaker", "loso", "corpus", "random", "none")


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


@dataclass
class CVResult:
    """What :func:`cross_validate` returns: pooled metrics, per-fold figures and predictions."""

    metrics: dict
    folds: list[dict]
    predictions: pd.DataFrame
    histories: dict[str, list[dict]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def load_manifest(source) -> pd.DataFrame:
    """A manifest from a corpus folder, a CSV manifest, a manifest frame, or a list of them
    (several corpora in one run: their rows together, each file once)."""
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    if isinstance(source, (list, tuple)):
        if not source:
            raise SeraError("no corpus given")
        frames = [load_manifest(one) for one in source]
        merged = pd.concat(frames, ignore_index=True).drop_duplicates("path")
        return merged.sort_values("path", kind="stable").reset_index(drop=True)
    result = scan(source)
    if result.manifest.empty:
        raise SeraError(f"{source}: no labelled utterances found")
    return result.manifest


def features_for(manifest: pd.DataFrame, feature_set, *, cache_dir: str | os.PathLike | None,
                 workers: int = 1, augment=None, progress: bool = True) -> FeatureTable:
    """Features of a manifest through the Parquet store in ``cache_dir`` (one file per
    set of files, feature set and augmentation, so runs reuse each other's work)."""
    fs = get_feature_set(feature_set)
    if getattr(fs, "parts", None) and cache_dir is not None:
        # A combined set is its parts side by side: each part keeps a store of its own, so
        # `stats` rows computed once serve `stats`, `egemaps+stats` and `compare+stats`.
        tables = [features_for(manifest, part, cache_dir=cache_dir, workers=workers,
                               augment=augment, progress=progress) for part in fs.parts]
        return _side_by_side(tables, fs)
    out = None
    if cache_dir is not None:
        key = json.dumps([sorted(manifest["path"]), fs.to_config(),
                          augment.params if augment is not None else None], sort_keys=True)
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        out = Path(cache_dir) / f"{fs.name}-{digest}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
    table = extract_features(manifest, fs, out=out, workers=workers, augment=augment,
                             progress=progress)
    return table


def fit(train: FeatureTable | tuple[np.ndarray, pd.DataFrame], recipe: Recipe,
        val: FeatureTable | tuple[np.ndarray, pd.DataFrame] | None = None,
        progress: bool = False, **torch_options) -> FittedModel:
    """Fit a recipe on training rows (and monitor validation rows, for torch models).

    Parameters
    ----------
    train, val : FeatureTable or (X, frame)
        Raw features and their rows (with ``emotion``, ``speaker``, ``corpus``, ``path``).
    recipe : Recipe
        What to fit.
    progress : bool
        Show a progress bar (torch models).
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


#: How :func:`sample_weights` weighs rows.
BALANCES = ("none", "corpus")


def sample_weights(frame: pd.DataFrame, balance: str) -> np.ndarray | None:
    """Row weights that give every corpus the same total weight (mean weight 1).

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows with a ``corpus`` column.
    balance : str
        ``"corpus"``, or ``"none"`` (returns ``None``: every row alike).
    """
    if balance not in BALANCES:
        raise SeraError(f"unknown balance {balance!r}; choose one of {', '.join(BALANCES)}")
    if balance == "none":
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
    raise SeraError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def train(source, recipe: Recipe = DEFAULT_RECIPE, *, split: str = "speaker",
          test_corpus: str | None = None, out: str | os.PathLike | None = None,
          cache_dir: str | os.PathLike | None = None, workers: int = 1, progress: bool = True,
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
        X, frame, failures = _training_rows(manifest, parts, recipe, cache_dir, workers,
                                            progress)
        rows = (X, frame)
        held_out = features_for(manifest.iloc[np.concatenate([parts.val, parts.test])], fs,
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
    elif recipe.calibration != "none":
        raise SeraError(f"unknown calibration {recipe.calibration!r}; choose "
                        f"{', '.join(CALIBRATION_FOLDS_BY)} or none")

    metrics = None
    if len(test_rows[1]):
        proba = fitted.predict_proba(*test_rows)
        metrics = _metrics(test_rows[1], proba)
        metrics["ece"] = expected_calibration_error(proba, _label_indices(test_rows[1]))
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


def cross_validate(source, recipe: Recipe = DEFAULT_RECIPE, *, split: str = "loso",
                   cache_dir: str | os.PathLike | None = None, workers: int = 1,
                   progress: bool = True,
                   on_fold: Callable[[str, dict], None] | None = None) -> CVResult:
    """Leave-one-speaker-out (``"loso"``) or leave-one-corpus-out (``"corpus"``) evaluation.

    Features (and augmented copies) are extracted once; each fold fits the recipe on its
    training speakers' rows only and predicts its held-out group's original clips. The pooled predictions give
    the headline figures; ``folds`` gives each held-out group's own.
    """
    manifest = load_manifest(source)
    fs = recipe.feature_set
    base = features_for(manifest, fs, cache_dir=cache_dir, workers=workers, progress=progress)
    kept = manifest[manifest["path"].isin(set(base.frame["path"]))].reset_index(drop=True)
    if split == "loso":
        folds = list(loso(kept, seed=recipe.seed))
    elif split == "corpus":
        corpora = sorted(kept["corpus"].unique())
        if len(corpora) < 2:
            raise SeraError(f"leave-one-corpus-out needs two corpora or more; found "
                            f"{', '.join(corpora)}")
        folds = [(c, corpus_split(kept, c, seed=recipe.seed)) for c in corpora]
    else:
        raise SeraError(f"cross-validation splits are loso and corpus, not {split!r}")

    X, frame = base.X, base.frame
    index = {p: i for i, p in enumerate(frame["path"])}
    pool = base
    if recipe.augment:
        from sera.augment import Augmenter

        pool = features_for(kept, fs, cache_dir=cache_dir, workers=workers, progress=progress,
                            augment=Augmenter(recipe.augment, seed=recipe.seed))
    pooled, probas = [], {"adapted": [], "single_clip": []}
    fold_figures, histories = [], {}
    for name, parts in folds:
        *rows, _ = _training_rows(kept, parts, recipe, cache_dir, workers, progress=False,
                                  pool=pool)
        pick = lambda idx: np.array([index[p] for p in kept["path"].iloc[idx]], dtype=int)  # noqa: E731
        val_i, test_i = pick(parts.val), pick(parts.test)
        fitted = fit(rows, recipe, val=(X[val_i], frame.iloc[val_i]), progress=False)
        proba = fitted.predict_proba(X[test_i], frame.iloc[test_i])
        probas["adapted"].append(proba)
        probas["single_clip"].append(fitted.predict_proba(X[test_i], frame.iloc[test_i],
                                                          adapt="none"))
        fold_metrics = _metrics(frame.iloc[test_i], proba)
        fold_figures.append({"fold": name, **{k: fold_metrics[k] for k in
                                               ("n", "accuracy", "uar", "macro_f1")}})
        histories[name] = list(getattr(fitted.estimator, "history", []) or [])
        predicted = frame.iloc[test_i][["path", "corpus", "speaker", "gender", "emotion"]].copy()
        predicted["fold"] = name
        pooled.append(predicted)
        if on_fold is not None:
            on_fold(name, fold_metrics)
    predictions = pd.concat(pooled, ignore_index=True)
    y = _label_indices(predictions)
    raw = {kind: np.concatenate(parts) for kind, parts in probas.items()}
    calibrated = {}
    for kind, proba in raw.items():
        calibrated[kind] = cross_fitted_temperature(proba, y, predictions["fold"].to_numpy())[0] \
            if recipe.calibration in CALIBRATION_FOLDS_BY else proba
        predictions[f"predicted_{kind}" if kind != "adapted" else "predicted"] = [
            LABELS[i] for i in proba.argmax(axis=1)]
        predictions[f"confidence_{kind}"] = calibrated[kind].max(axis=1)
    metrics = evaluate_predictions(predictions["emotion"], predictions["predicted"])
    metrics["breakdown"] = {by: breakdown(predictions, predictions["emotion"],
                                          predictions["predicted"], by=by)
                            for by in ("corpus", "speaker", "gender")}
    metrics["ece"] = expected_calibration_error(calibrated["adapted"], y)
    metrics["ece_uncalibrated"] = expected_calibration_error(raw["adapted"], y)
    single = evaluate_predictions(predictions["emotion"], predictions["predicted_single_clip"])
    metrics["single_clip"] = {
        "uar": single["uar"], "accuracy": single["accuracy"], "macro_f1": single["macro_f1"],
        "ece": expected_calibration_error(calibrated["single_clip"], y),
        "ece_uncalibrated": expected_calibration_error(raw["single_clip"], y)}
    metrics["reliability"] = {
        "adapted, uncalibrated": {**reliability(raw["adapted"], y),
                                  "ece": metrics["ece_uncalibrated"]},
        "adapted, calibrated": {**reliability(calibrated["adapted"], y), "ece": metrics["ece"]},
        "single clip, calibrated": {**reliability(calibrated["single_clip"], y),
                                    "ece": metrics["single_clip"]["ece"]},
    }
    metrics["by_corpus"] = per_corpus_figures(predictions, calibrated, y,
                                              "held out" if split == "corpus" else "LOSO")
    metrics["protocol"] = {"split": split, "recipe": recipe.to_config(), "folds": len(folds),
                           "calibration": "temperature per fold, fitted on the out-of-fold "
                                          "predictions of the other folds' speakers"
                           if recipe.calibration in CALIBRATION_FOLDS_BY else "none"}
    return CVResult(metrics=metrics, folds=fold_figures, predictions=predictions,
                    histories=histories, failures=base.failures)


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


def per_corpus_figures(predictions: pd.DataFrame, calibrated: dict, y: np.ndarray,
                       protocol: str) -> dict:
    """Single-clip and adapted UAR and ECE of each corpus's held-out utterances."""
    out = {}
    for corpus in sorted(predictions["corpus"].unique()):
        rows = (predictions["corpus"] == corpus).to_numpy()
        part = predictions[rows]
        out[f"{corpus} ({protocol})"] = {
            "n": int(rows.sum()),
            "uar_single_clip": evaluate_predictions(part["emotion"],
                                                    part["predicted_single_clip"])["uar"],
            "uar_adapted": evaluate_predictions(part["emotion"], part["predicted"])["uar"],
            "ece_single_clip": expected_calibration_error(calibrated["single_clip"][rows],
                                                          y[rows]),
            "ece_adapted": expected_calibration_error(calibrated["adapted"][rows], y[rows]),
        }
    return out


#: What sera knows of each corpus's licence, which a model trained on it inherits.
DATA_LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (non-commercial, share-alike)",
    "nemo": "nEMO: CC BY-NC-SA 4.0 (non-commercial, share-alike)",
    "emovo": "EMOVO: released for research use only, no open licence",
    "ased": "ASED: no licence stated by its authors (research use with citation)",
    "cremad": "CREMA-D: Open Database License (ODbL)",
    "tess": "TESS: CC BY-NC-ND 4.0 (non-commercial)",
    "savee": "SAVEE: free for research use (see the corpus's terms)",
    "emodb": "EmoDB: see the corpus's terms (research use)",
    "synthetic": "sera's synthetic corpus: machine-made, no restrictions",
}

#: Training-summary entries too long for the model card (they stay in config.json).
_NOT_ON_CARD = ("history", "speaker_ids")


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
    from sera.bundle import make_card, save_bundle

    recipe = fitted.recipe
    fs = recipe.feature_set
    licences = [DATA_LICENCES.get(c, f"{c}: the licence of that corpus (unknown to sera)")
                for c in sorted(training.get("corpora", {}))]
    card = make_card(model_name=recipe.model, features=fs.name,
                     training={k: v for k, v in training.items() if k not in _NOT_ON_CARD},
                     metrics=metrics,
                     evaluation=evaluation or ("held-out speakers never heard in training "
                                               f"({training.get('split')} split)"
                                               if metrics else "trained on every speaker"),
                     data_licence="; ".join(licences) or "unknown")
    if card_extra:
        card = card.rstrip() + "\n\n" + card_extra.strip() + "\n"
    return save_bundle(out, model=fitted.estimator, model_name=recipe.model,
                       feature_config=fs.to_config(), sample_rate=fs.sample_rate,
                       normalization=fitted.normalizer.to_config(), training=training,
                       metrics=metrics, card=card, calibration=fitted.calibration)


# -- internals ---------------------------------------------------------------------------


def _side_by_side(tables: list[FeatureTable], fs) -> FeatureTable:
    """One table of a combined feature set from the tables of its parts (rows every part has,
    in the first part's order)."""
    from sera.features.store import ROW_COLUMNS

    keys = [list(zip(t.frame["path"], t.frame["augment"], strict=True)) for t in tables]
    common = set(keys[0]).intersection(*map(set, keys[1:]))
    first = tables[0].frame
    keep = np.array([k in common for k in keys[0]])
    blocks = [first.loc[keep, list(ROW_COLUMNS)].reset_index(drop=True)]
    for table, key in zip(tables, keys, strict=True):
        position = {k: i for i, k in enumerate(key)}
        rows = [position[k] for k, kept in zip(keys[0], keep, strict=True) if kept]
        values = table.X.reshape(len(table.frame), int(np.prod(table.shape)))[rows]
        blocks.append(pd.DataFrame(values, columns=[f"{table.feature_set.name}:{n}" for n in
                                                    table.feature_names]))
    failures = sorted({f for t in tables for f in t.failures})
    meta = {**tables[0].meta, "feature_set": fs.to_config(), "shape": list(fs.shape)}
    return FeatureTable(frame=pd.concat(blocks, axis=1), failures=failures, meta=meta)


def _training_rows(manifest, parts: Split, recipe: Recipe, cache_dir, workers, progress,
                   pool: FeatureTable | None = None):
    """Raw features, rows and failures of a split's training part, with augmented copies of
    those rows only.

    ``pool``, a table already holding (at least) these utterances and, for a recipe with
    augmentation, their augmented copies, is sliced instead of extracting again: every copy
    is a function of its own file only, so cross-validation computes them once and each fold
    takes the copies of its training speakers.
    """
    from sera.augment import Augmenter

    train_manifest = rows_to_augment(manifest, parts)
    if pool is not None:
        rows = pool.frame["path"].isin(set(train_manifest["path"])).to_numpy()
        return pool.X[rows], pool.frame[rows], []
    augment = Augmenter(recipe.augment, seed=recipe.seed) if recipe.augment else None
    table = features_for(train_manifest, recipe.feature_set, cache_dir=cache_dir,
                         workers=workers, progress=progress, augment=augment)
    return table.X, table.frame, table.failures


def _random_rows(manifest, recipe: Recipe, cache_dir, workers, progress):
    """The seed's protocol: augment every utterance, then split the rows at random."""
    from sera.augment import Augmenter

    kinds = recipe.augment or ("noise", "stretch", "shift", "pitch")
    table = features_for(manifest, recipe.feature_set, cache_dir=cache_dir, workers=workers,
                         progress=progress, augment=Augmenter(kinds, seed=recipe.seed))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        parts = random_split(table.frame, test_size=0.2, val_size=0.1, seed=recipe.seed)
    X, frame = table.X, table.frame
    return ((X[parts.train], frame.iloc[parts.train]), (X[parts.test], frame.iloc[parts.test]),
            (X[parts.val], frame.iloc[parts.val]), table.failures)


def _metrics(frame: pd.DataFrame, proba: np.ndarray) -> dict:
    predicted = [LABELS[i] for i in proba.argmax(axis=1)]
    metrics = evaluate_predictions(frame["emotion"], predicted)
    metrics["breakdown"] = {by: breakdown(frame, frame["emotion"], predicted, by=by)
                            for by in ("corpus", "speaker", "gender")}
    return metrics


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
