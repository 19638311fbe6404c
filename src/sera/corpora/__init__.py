"""Corpora: turn a folder (or a CSV manifest) into a manifest, one row per utterance.

>>> from sera.corpora import scan
>>> result = scan("data/ravdess16k")          # doctest: +SKIP
>>> result.manifest.columns.tolist()          # doctest: +SKIP
['path', 'corpus', 'speaker', 'gender', 'emotion', 'intensity', 'text']
"""

from sera.audio import AUDIO_EXTENSIONS
from sera.corpora.base import COLUMNS, GROUP_COLUMNS, ScanResult, write_manifest
from sera.corpora.scan import load_manifest, scan

__all__ = ["AUDIO_EXTENSIONS", "COLUMNS", "GROUP_COLUMNS", "ScanResult", "load_manifest", "scan",
           "write_manifest"]
