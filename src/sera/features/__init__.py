"""Features: frame descriptors, named feature sets, and the on-disk feature store.

>>> from sera.features import get_feature_set, extract_features
>>> fs = get_feature_set("seed")
>>> fs.shape
(2376,)
>>> table = extract_features(manifest, "stats", out="features-stats.parquet")  # doctest: +SKIP
>>> table.X.shape                                                             # doctest: +SKIP
(1080, 497)

The store (:mod:`sera.features.store`: pandas and pyarrow) is imported on first use of its
names, so computing features for inference never imports either.
"""

from sera.features.registry import FEATURE_SETS, get_feature_set
from sera.features.sets import FeatureSet

__all__ = ["FEATURE_SETS", "FeatureSet", "FeatureTable", "cached_features", "extract_features",
           "get_feature_set", "read_features"]

#: Names served by :mod:`sera.features.store`, imported on first use.
_STORE = frozenset({"FeatureTable", "cached_features", "extract_features", "read_features"})


def __getattr__(name: str):
    if name in _STORE:
        from sera.features import store

        return getattr(store, name)
    raise AttributeError(f"module 'sera.features' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_STORE})
