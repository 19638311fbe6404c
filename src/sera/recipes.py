"""Recipes as files: ``recipes/*.toml`` → :class:`Recipe`.

A recipe file says everything a trained model depends on, one table per concern::

    [data]          corpora = ["../../shared/data/ravdess16k", ...]   # relative to this file
    [features]      set = "stats"  params = { frames = "speech" }
    [model]         name = "logreg"   params = { C = 0.1 }
    [adaptation]    mode = "speaker"  estimator = "mean"  prior_weight = 10.0
                    reference = "neutral"  skew = false
    [augmentation]  kinds = []
    [training]      balance = "corpus"  seed = 0
    [calibration]   method = "temperature"

Every key has the default of :class:`Recipe`; an unknown table or key, or a value of the wrong
type or out of range, is an error (a typo must not silently train something else). ``sera train
--recipe FILE`` runs one, and the bundle records it (``config.json`` → ``training.recipe``, with
``name`` the file's stem).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sera.adapt import PRIOR_WEIGHT
from sera.errors import (
    InputError,
    SeraError,
    UnknownModelError,
    check_choice,
    check_range,
    check_type,
)
from sera.options import (
    ADAPTS,
    AUGMENTS,
    BABBLES,
    BALANCES,
    CALIBRATIONS,
    ESTIMATORS,
    REFERENCES,
    Adapt,
    Augment,
    Babble,
    Balance,
    Calibration,
    Estimator,
    Reference,
)

if TYPE_CHECKING:
    from sera.features import FeatureSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Recipe:
    """What to train.

    Parameters
    ----------
    model : str
        A name in :data:`sera.models.MODELS`.
    features : str, optional
        Feature set; ``None`` means the model's own.
    feature_params : dict
        Parameters of the feature set that override its defaults (``{"frames": "speech"}``).
    adapt : str
        How training features are normalised: ``"speaker"`` (each speaker by their own
        statistics, plus rows normalised by a few utterances only, so that the model also
        works when a group at run time is small), ``"corpus"``, or ``"none"`` (global).
    augment : tuple of str
        Waveform augmentations of training utterances: the seed's ``noise``, ``stretch``,
        ``shift``, ``pitch`` and the channel kinds ``bandlimit``, ``codec``, ``gain``,
        ``snr``, ``room``, ``floor``, ``channel`` (:mod:`sera.augment`).
    babble : str
        Whose voices ``channel``'s babble copies are made of: ``"self"`` (the clip's own,
        reversed) or ``"others"`` (five utterances of other training speakers, as in a room
        of people; :class:`sera.augment.Augmenter`'s ``crowd``).
    params : dict
        Constructor parameters of the model that override its defaults.
    seed : int
        Seeds the split, the augmentation and the model.
    estimator : str
        How a group's statistics are estimated: ``"mean"`` (mean, standard deviation) or
        ``"median"`` (median, inter-quartile range) (:class:`sera.adapt.Normalizer`).
    prior_weight : float
        Shrinkage of a group's statistics toward the training ones, in utterances.
    reference : str, optional
        ``"neutral"``: a group's statistics from its neutral clips only (true labels in
        training, each clip's probability of neutral at run time; :mod:`sera.adapt`).
    skew : bool
        Also train on rows normalised by statistics of skewed subsets of their speaker's
        clips (one emotion only), so a one-sided group at run time does not erase its mood.
    balance : str
        ``"corpus"``: every corpus weighs the same in the loss, whatever its size (and each
        class within it, by the model's balanced class weights); ``"none"``: every row alike.
    calibration : str
        ``"temperature"``: fit a temperature on out-of-fold predictions of the training
        speakers (:mod:`sera.calibration`) and store it in the bundle; ``"temperature-corpus"``:
        on leave-one-corpus-out predictions of the training corpora, so that a corpus (a
        language, a microphone) the model never heard gets honest probabilities, at the price
        of modest ones on new speakers of the training corpora (one corpus: as
        ``"temperature"``); ``"none"``.
    data : tuple of str
        Corpora (folders or CSV manifests) the recipe trains on; used by ``--recipe`` runs
        that name no corpus.
    name : str, optional
        The recipe's name (its file's stem), recorded in bundles and reports.

    Raises
    ------
    InputError
        At construction, for a field of the wrong type or out of range: an unknown model,
        feature set, adaptation, augmentation, estimator, reference, balance or calibration,
        a negative prior weight or seed (:class:`~sera.errors.UnknownModelError` and
        :class:`~sera.errors.FeatureError` for the names of a model and a feature set).
    """

    model: str = "logreg"
    features: str | None = None
    feature_params: dict[str, Any] = field(default_factory=dict)
    adapt: Adapt = "speaker"
    augment: tuple[Augment, ...] = ()
    babble: Babble = "self"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    estimator: Estimator = "mean"
    prior_weight: float = PRIOR_WEIGHT
    reference: Reference | None = None
    skew: bool = False
    balance: Balance = "none"
    calibration: Calibration = "temperature"
    data: tuple[str, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        # Every check before any work: a typo fails here, not after an hour of fitting.
        from sera.features.registry import check_name
        from sera.models import MODELS

        check_choice("model", self.model, MODELS, error=UnknownModelError)
        if self.features is not None:
            check_name(self.features)
        check_type("feature_params", self.feature_params, dict)
        check_choice("adaptation", self.adapt, ADAPTS)
        if isinstance(self.augment, str):
            raise InputError(f"augment must be a list of augmentations, not {self.augment!r}")
        augment = tuple(check_choice("augmentation", kind, AUGMENTS)
                        for kind in check_type("augment", self.augment, tuple, list))
        check_choice("babble", self.babble, BABBLES)
        check_type("params", self.params, dict)
        check_range("seed", check_type("seed", self.seed, int), 0, 2**32 - 1)
        check_choice("estimator", self.estimator, ESTIMATORS)
        prior_weight = float(check_range("prior_weight", self.prior_weight, 0))
        if self.reference is not None:
            check_choice("reference", self.reference, REFERENCES)
        check_type("skew", self.skew, bool)
        check_choice("balance", self.balance, BALANCES)
        check_choice("calibration", self.calibration, CALIBRATIONS)
        data = tuple(check_type("corpus", corpus, str)
                     for corpus in check_type("data", self.data, tuple, list))
        if self.name is not None:
            check_type("name", self.name, str)
        # The normal forms, so that equal recipes compare and serialise alike (a TOML list is a
        # tuple here, an integer prior weight a float).
        object.__setattr__(self, "augment", augment)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "prior_weight", prior_weight)
        if self.feature_params:
            self.feature_set  # noqa: B018  (building the set checks its parameters, no work)

    @property
    def feature_set(self) -> FeatureSet:
        """The feature set this recipe trains on."""
        from sera.features import get_feature_set
        from sera.models import get_model_spec

        return get_feature_set(self.features or get_model_spec(self.model).features,
                               **self.feature_params)

    def to_config(self) -> dict[str, Any]:
        """JSON-ready description for bundles and reports."""
        from sera.models import get_model_spec

        return {**asdict(self), "augment": list(self.augment), "data": list(self.data),
                "features": self.features or get_model_spec(self.model).features}


#: The recipe of the shipped model and of ``sera train`` with no ``--model``; the file
#: ``recipes/default.toml`` says the same and names its data (tests/test_recipes.py).
DEFAULT_RECIPE = Recipe(model="logreg", features="compare+stats", params={"C": 0.03},
                        augment=("floor", "channel"), balance="corpus",
                        calibration="temperature-corpus", name="default")


#: Recipe-file keys per table → :class:`Recipe` field.
KEYS = {
    "data": {"corpora": "data"},
    "features": {"set": "features", "params": "feature_params"},
    "model": {"name": "model", "params": "params"},
    "adaptation": {"mode": "adapt", "estimator": "estimator", "prior_weight": "prior_weight",
                   "reference": "reference", "skew": "skew"},
    "augmentation": {"kinds": "augment", "babble": "babble"},
    "training": {"balance": "balance", "seed": "seed"},
    "calibration": {"method": "calibration"},
}

#: Top-level keys besides the tables.
TOP_KEYS = ("name", "description")


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a recipe file.

    ``[data]`` corpora are kept as written (so a bundle records the same recipe on every
    machine); :func:`recipe_sources` resolves them.

    Returns
    -------
    Recipe

    Raises
    ------
    SeraError
        The file is missing, is not TOML, has an unknown table or key, or a value that
        :class:`Recipe` refuses: one line, ``<file>: <problem>``.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeraError(f"{path}: no such recipe file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SeraError(f"{path}: not a valid TOML recipe ({err})") from None
    fields: dict[str, Any] = {"name": document.get("name", path.stem)}
    for table, values in document.items():
        if table in TOP_KEYS:
            continue
        if table not in KEYS or not isinstance(values, dict):
            raise SeraError(f"{path}: unknown recipe table [{table}]; the tables are "
                            f"{', '.join(KEYS)}")
        for key, value in values.items():
            if key not in KEYS[table]:
                raise SeraError(f"{path}: unknown key {key!r} in [{table}]; known: "
                                f"{', '.join(KEYS[table])}")
            fields[KEYS[table][key]] = value
    try:
        return Recipe(**fields)
    except InputError as err:
        raise SeraError(f"{path}: {err}") from None


def recipe_sources(recipe: Recipe, path: str | os.PathLike[str]) -> list[str]:
    """The ``[data]`` corpora of a recipe read from ``path``, relative ones resolved against
    the recipe file's folder."""
    folder = Path(path).resolve().parent
    return [corpus if os.path.isabs(corpus) else str((folder / corpus).resolve())
            for corpus in recipe.data]


def recipe_from_options(model: str | None = None, features: str | None = None,
                        adapt: Adapt = "speaker", seed: int = 0,
                        augment: tuple[Augment, ...] | None = None,
                        epochs: int | None = None) -> Recipe:
    """The recipe of ``sera train`` options that name no recipe file.

    Parameters
    ----------
    model : str, optional
        A name in :data:`sera.models.MODELS` (its own features and default parameters);
        ``None``: :data:`DEFAULT_RECIPE`.
    features : str, optional
        The feature set, instead of the model's or the default recipe's.
    adapt : str
        The adaptation.
    seed : int
        The seed.
    augment : tuple of str, optional
        The augmentations; ``None``: the recipe's own (none for a named model).
    epochs : int, optional
        ``max_epochs`` of a torch model.

    Raises
    ------
    InputError
        As :class:`Recipe` does for a bad value.
    """
    from dataclasses import replace

    if model is None:
        recipe = replace(DEFAULT_RECIPE, adapt=adapt, seed=seed)
        if augment is not None:
            recipe = replace(recipe, augment=augment)
        return recipe if features is None else replace(recipe, features=features)
    params = {"max_epochs": epochs} if epochs else {}
    return Recipe(model=model, features=features, adapt=adapt, augment=augment or (),
                  params=params, seed=seed)
