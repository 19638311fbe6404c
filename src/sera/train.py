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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sera.adapt import Normalizer, subsample_statistics_augment
from sera.corpora import scan
from sera.errors import SeraError
from sera.features import FeatureTable, extract_features, get_feature_set
from sera.labels import LABELS
from sera.metrics import breakdown, evaluate_predictions
from sera.models import get_model_spec
from sera.splits import Split, corpus_split, loso, random_split, rows_to_augment, speaker_split

#: Which manifest column groups utterances for each adaptation mode.
GROUP_COLUMNS = {"speaker": "speaker", "corpus": "corpus", "recording": "path"}

SPLITS = ("speaker", "loso", "corpus", "random", "none")


@dataclass(frozen=True)
class Recipe:
    """What to train.

    Parameters
    ----------
    model : str
        A name in :data:`sera.models.MODELS`.
    features : str, optional
        Feature set; ``None`` means the model's own.
    adapt : str
        How training features are normalised: ``"speaker"`` (each speaker by their own
        statistics, plus rows normalised by a few utterances only, so that the model also
        works when a group at run time is small), ``"corpus"``, or ``"none"`` (global).
    augment : tuple of str
        Waveform augmentations of training utterances: the seed's ``noise``, ``stretch``,
        ``shift``, ``pitch`` and the channel kinds ``bandlimit``, ``codec``, ``gain``,
        ``snr``, ``room`` (:mod:`sera.augment`).
    params : dict
        Constructor parameters of the model that override its defaults.
    seed : int
        Seeds the split, the augmentation and the model.
    """

    model: str = "logreg"
    features: str | None = None
    adapt: str = "speaker"
    augment: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def feature_set(self):
        """The feature set this recipe trains on."""
        return get_feature_set(self.features or get_model_spec(self.model).features)

    def to_config(self) -> dict:
        """JSON-ready description for bundles and reports."""
        return {**asdict(self), "augment": list(self.augment),
                "features": self.features or get_model_spec(self.model).features}


#: The recipe of the shipped model and of ``sera train`` with no ``--model``: the one with the
#: best measured leave-one-speaker-out UAR on the shared RAVDESS (README, "Measured results").
DEFAULT_RECIPE = Recipe(model="logreg", features="compare+stats", params={"C": 0.1})


@dataclass
class FittedModel:
    """A fitted estimator with the normaliser its inputs need."""

    estimator: object
    normalizer: Normalizer
    recipe: Recipe

    def predict_proba(self, X: np.ndarray, frame: pd.DataFrame, adapt: str | None = None
                      ) -> np.ndarray:
        """Probabilities for raw features ``X`` of the rows of ``frame``."""
        Xn = _normalize(self.normalizer, X, frame, adapt or self.normalizer.mode)
        return self.estimator.predict_proba(Xn)


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


def load_manifest(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A manifest from a corpus folder, a CSV manifest, or a manifest frame."""
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    result = scan(source)
    if result.manifest.empty:
        raise SeraError(f"{source}: no labelled utterances found")
    return result.manifest


def features_for(manifest: pd.DataFrame, feature_set, *, cache_dir: str | os.PathLike | None,
                 workers: int = 1, augment=None, progress: bool = True) -> FeatureTable:
    """Features of a manifest through the Parquet store in ``cache_dir`` (one file per
    set of files, feature set and augmentation, so runs reuse each other's work)."""
    fs = get_feature_set(feature_set)
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
    normalizer = Normalizer.fit(X, _groups(frame, recipe.adapt), mode=recipe.adapt)
    Xn = _normalize(normalizer, X, frame, recipe.adapt)
    if recipe.adapt != "none":
        extra, y_extra = subsample_statistics_augment(
            X, y, _groups(frame, recipe.adapt), normalizer, seed=recipe.seed)
        Xn = np.concatenate([Xn, extra])
        y = np.concatenate([y, y_extra])
    Xv = yv = None
    if val is not None:
        Xv_raw, val_frame = _unpack(val)
        if len(val_frame):
            Xv = _normalize(normalizer, Xv_raw, val_frame, recipe.adapt)
            yv = _label_indices(val_frame)
    spec = get_model_spec(recipe.model)
    options = {"progress": progress, **torch_options} if spec.kind == "torch" else {}
    estimator = spec.build(**{"seed": recipe.seed, **recipe.params, **options})
    estimator.fit(Xn, y, Xv, yv)
    return FittedModel(estimator=estimator, normalizer=normalizer, recipe=recipe)


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

    metrics = None
    if len(test_rows[1]):
        proba = fitted.predict_proba(*test_rows)
        metrics = _metrics(test_rows[1], proba)
    history = list(getattr(fitted.estimator, "history", []) or [])
    training = {**_training_summary(manifest, rows[1], recipe, split, test_corpus),
                "history": history}
    result = TrainResult(fitted=fitted, metrics=metrics, history=history, training=training,
                         failures=failures)
    if out is not None:
        result.bundle = write_bundle(out, fitted, training=training, metrics=metrics or {},
                                     card_extra=card_extra)
    return result


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
    pooled = []
    fold_figures, histories = [], {}
    for name, parts in folds:
        *rows, _ = _training_rows(kept, parts, recipe, cache_dir, workers, progress=False,
                                  pool=pool)
        pick = lambda idx: np.array([index[p] for p in kept["path"].iloc[idx]], dtype=int)  # noqa: E731
        val_i, test_i = pick(parts.val), pick(parts.test)
        fitted = fit(rows, recipe, val=(X[val_i], frame.iloc[val_i]), progress=False)
        proba = fitted.predict_proba(X[test_i], frame.iloc[test_i])
        fold_metrics = _metrics(frame.iloc[test_i], proba)
        fold_figures.append({"fold": name, **{k: fold_metrics[k] for k in
                                               ("n", "accuracy", "uar", "macro_f1")}})
        histories[name] = list(getattr(fitted.estimator, "history", []) or [])
        predicted = frame.iloc[test_i][["path", "corpus", "speaker", "gender", "emotion"]].copy()
        predicted["predicted"] = [LABELS[i] for i in proba.argmax(axis=1)]
        predicted["fold"] = name
        pooled.append(predicted)
        if on_fold is not None:
            on_fold(name, fold_metrics)
    predictions = pd.concat(pooled, ignore_index=True)
    metrics = evaluate_predictions(predictions["emotion"], predictions["predicted"])
    metrics["breakdown"] = {by: breakdown(predictions, predictions["emotion"],
                                          predictions["predicted"], by=by)
                            for by in ("corpus", "speaker", "gender")}
    metrics["protocol"] = {"split": split, "recipe": recipe.to_config(), "folds": len(folds)}
    return CVResult(metrics=metrics, folds=fold_figures, predictions=predictions,
                    histories=histories, failures=base.failures)


#: What sera knows of each corpus's licence, which a model trained on it inherits.
DATA_LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (non-commercial, share-alike)",
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
                       metrics=metrics, card=card)


# -- internals ---------------------------------------------------------------------------


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
    return None if adapt == "none" else frame[GROUP_COLUMNS[adapt]].to_numpy()


def _normalize(normalizer: Normalizer, X: np.ndarray, frame: pd.DataFrame, adapt: str):
    return normalizer.transform(X, _groups(frame, adapt), adapt=adapt)
