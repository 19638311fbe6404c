"""Recipes as files: ``recipes/*.toml`` → :class:`sera.train.Recipe`.

A recipe file says everything a trained model depends on, one table per concern::

    [data]          corpora = ["../../shared/data/ravdess16k", ...]   # relative to this file
    [features]      set = "stats"
    [model]         name = "logreg"   params = { C = 0.1 }
    [adaptation]    mode = "speaker"  estimator = "mean"  prior_weight = 10.0
                    reference = "neutral"  skew = false
    [augmentation]  kinds = []
    [training]      balance = "corpus"  seed = 0
    [calibration]   method = "temperature"

Every key has the default of :class:`sera.train.Recipe`; an unknown table or key is an error
(a typo must not silently train something else). ``sera train --recipe FILE`` runs one, and the
bundle records it (``config.json`` → ``training.recipe``, with ``name`` the file's stem).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sera.errors import SeraError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Recipe-file keys per table → :class:`sera.train.Recipe` field.
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
    sera.train.Recipe

    Raises
    ------
    SeraError
        The file is missing, is not TOML, or has an unknown table or key.
    """
    from sera.train import Recipe

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
