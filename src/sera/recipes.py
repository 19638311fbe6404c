"""Recipes as files: ``recipes/*.toml`` → :class:`Recipe`.

A recipe file says everything a trained model depends on, one table per concern::

    [data]          corpora = ["../../shared/data/ravdess16k", ...]   # relative to this file
    [features]      set = "stats"
    [model]         name = "logreg"   params = { C = 0.1 }
    [adaptation]    mode = "speaker"  estimator = "mean"  prior_weight = 10.0
                    reference = "neutral"  skew = false
    [augmentation]  kinds = []
    [training]      balance = "corpus"  seed = 0
    [calibration]   method = "temperature"

Every key has the default of :class:`Recipe`; an unknown table or key is an error
(a typo must not silently train something else). ``sera train --recipe FILE`` runs one, and the
bundle records it (``config.json`` → ``training.recipe``, with ``name`` the file's stem).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sera.adapt import PRIOR_WEIGHT
from sera.errors import SeraError

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
    """

    model: str = "logreg"
    features: str | None = None
    adapt: str = "speaker"
    augment: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    seed: int = 0
    estimator: str = "mean"
    prior_weight: float = PRIOR_WEIGHT
    reference: str | None = None
    skew: bool = False
    balance: str = "none"
    calibration: str = "temperature"
    data: tuple[str, ...] = ()
    name: str | None = None

    @property
    def feature_set(self):
        """The feature set this recipe trains on."""
        from sera.features import get_feature_set
        from sera.models import get_model_spec

        return get_feature_set(self.features or get_model_spec(self.model).features)

    def to_config(self) -> dict:
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
    "features": {"set": "features"},
    "model": {"name": "model", "params": "params"},
    "adaptation": {"mode": "adapt", "estimator": "estimator", "prior_weight": "prior_weight",
                   "reference": "reference", "skew": "skew"},
    "augmentation": {"kinds": "augment"},
    "training": {"balance": "balance", "seed": "seed"},
    "calibration": {"method": "calibration"},
}

#: Top-level keys besides the tables.
TOP_KEYS = ("name", "description")


def load_recipe(path: str | os.PathLike):
    """Read a recipe file.

    ``[data]`` corpora are kept as written (so a bundle records the same recipe on every
    machine); :func:`recipe_sources` resolves them.

    Returns
    -------
    Recipe

    Raises
    ------
    SeraError
        The file is missing, is not TOML, or has an unknown table or key.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeraError(f"{path}: no such recipe file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SeraError(f"{path}: not a valid TOML recipe ({err})") from None
    fields = {"name": document.get("name", path.stem)}
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
    if "data" in fields:
        fields["data"] = tuple(fields["data"])
    if "augment" in fields:
        fields["augment"] = tuple(fields["augment"])
    if "prior_weight" in fields:
        fields["prior_weight"] = float(fields["prior_weight"])
    try:
        return Recipe(**fields)
    except TypeError as err:
        raise SeraError(f"{path}: {err}") from None


def recipe_sources(recipe, path: str | os.PathLike) -> list[str]:
    """The ``[data]`` corpora of a recipe read from ``path``, relative ones resolved against
    the recipe file's folder."""
    folder = Path(path).resolve().parent
    return [corpus if os.path.isabs(corpus) else str((folder / corpus).resolve())
            for corpus in recipe.data]
