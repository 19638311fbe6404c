"""Features: frame descriptors, named feature sets, and the on-disk feature store.

>>> from sera.features import get_feature_set, extract_features
>>> fs = get_feature_set("seed")
>>> fs.shape
(2376,)
>>> table = extract_features(manifest, "stats", out="features-stats.parquet")  # doctest: +SKIP
>>> table.X.shape                                                             # doctest: +SKIP
(1080, 497)
"""

from sera.features.sets import FEATURE_SETS, FeatureError, FeatureSet, get_feature_set
from sera.features.store import FeatureTable, extract_features, read_features

__all__ = ["FEATURE_SETS", "FeatureError", "FeatureSet", "FeatureTable", "extract_features",
           "get_feature_set", "read_features"]
