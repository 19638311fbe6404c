"""The registry of feature sets: a name (or a configuration) → a :class:`FeatureSet`.

One name space for every command: ``seed``, ``stats``, ``egemaps``, ``compare``, ``logmel``,
``hf:<model>`` (imported only when asked for), and parts joined by ``+``.
"""

from __future__ import annotations

from typing import Any

from sera.errors import FeatureError, check_choice, check_type
from sera.features.sets import (
    CombinedFeatures,
    CompareFeatures,
    EgemapsFeatures,
    FeatureSet,
    LogmelFeatures,
    SeedFeatures,
    StatsFeatures,
)

#: Every named feature set, by name.
FEATURE_SETS: dict[str, type[FeatureSet]] = {
    cls.name: cls for cls in (SeedFeatures, StatsFeatures, EgemapsFeatures, CompareFeatures,
                              LogmelFeatures)
}


def get_feature_set(name_or_config: str | dict[str, Any] | FeatureSet,
                    **params: Any) -> FeatureSet:
    """The feature set named, or described by a :meth:`FeatureSet.to_config` dict.

    Parameters
    ----------
    name_or_config : str, dict or FeatureSet
        ``"seed"``, ``"stats"``, ``"egemaps"``, ``"compare"``, ``"logmel"``,
        ``"hf:<model id or path>"`` (:mod:`sera.features.hf`), several vector sets joined by
        ``+`` (``"compare+stats"``); a configuration; or a set.
    **params
        Parameter overrides.

    Raises
    ------
    FeatureError
        Unknown name or parameter.
    """
    if isinstance(name_or_config, FeatureSet):
        name_or_config = name_or_config.to_config()
    if isinstance(name_or_config, dict):
        config = dict(name_or_config)
        config["params"] = {**config.get("params", {}), **params}
        return FeatureSet.from_config(config)
    if isinstance(name_or_config, str) and "+" in name_or_config:
        return _combined(name_or_config, params)
    if isinstance(name_or_config, str) and name_or_config.startswith("hf:"):
        return set_class("hf")(model=name_or_config[len("hf:"):], **params)
    return set_class(name_or_config)(**params)


def _combined(name: str, params: dict[str, Any]) -> FeatureSet:
    """``"a+b"`` with each parameter given to the parts that take it (``trim_db`` to both of
    ``compare+stats``, ``frames`` to ``stats`` alone); one that no part takes is an error."""
    names = [part.strip() for part in name.split("+")]
    takes = [set(getattr(set_class(part), "defaults", {})) if not part.startswith("hf:")
             else set(params) for part in names]
    unknown = sorted(set(params) - set().union(*takes))
    if unknown:
        raise FeatureError(f"feature set '{name}' has no parameter "
                           f"{', '.join(map(repr, unknown))} (its parts take "
                           f"{', '.join(sorted(set().union(*takes)))})")
    return CombinedFeatures(sets=[
        get_feature_set(part, **{k: v for k, v in params.items() if k in keys})
        for part, keys in zip(names, takes, strict=True)])


#: Sets registered by module and class name, imported only when asked for: pretrained encoders
#: (``hf:<model>``) need torch and transformers, and :mod:`sera.features.hf` builds on this
#: module, which therefore never imports it at load time.
LAZY_FEATURE_SETS: dict[str, tuple[str, str]] = {"hf": ("sera.features.hf", "HFFeatures")}


def set_class(name: object) -> type[FeatureSet]:
    """The class of a set's registry name (``CombinedFeatures`` for ``"combined"``)."""
    if name == CombinedFeatures.name:
        return CombinedFeatures
    if name in LAZY_FEATURE_SETS:
        import importlib

        module, cls = LAZY_FEATURE_SETS[name]
        return getattr(importlib.import_module(module), cls)
    return FEATURE_SETS[check_choice("feature set", name, FEATURE_SET_NAMES, error=FeatureError)]


#: What a feature set's name may be, as error messages list it.
FEATURE_SET_NAMES: tuple[str, ...] = (*FEATURE_SETS, "hf:<model id or path>")


def check_name(name: object) -> str:
    """``name`` if it names a feature set (``"stats"``, ``"compare+stats"``, ``"hf:<model>"``),
    else a :class:`~sera.errors.FeatureError` listing the sets; builds nothing.

    >>> check_name("compare+stast")
    Traceback (most recent call last):
    ...
    sera.errors.FeatureError: unknown feature set 'stast'; choose one of seed, stats, egemaps, \
compare, logmel, hf:<model id or path>
    """
    for part in check_type("feature set", name, str).split("+"):
        if not part.strip().startswith("hf:"):
            check_choice("feature set", part.strip(), FEATURE_SET_NAMES, error=FeatureError)
    return name
