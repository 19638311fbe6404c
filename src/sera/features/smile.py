"""openSMILE's feature sets, run by its bundled native library, configured once per thread.

The ``opensmile`` package's ``Smile`` builds a new openSMILE instance for every signal (it parses
the configuration again: about 15 ms an utterance) and imports pandas and pyarrow through
audinterface. sera needs neither: this module loads only ``opensmile/core/lib.py``, the ctypes
binding of ``libSMILEapi`` (found with :func:`importlib.util.find_spec`, which locates the
package without running its ``__init__``), and runs the ``ComParE_2016`` and ``eGeMAPSv02``
configuration files that ship in the opensmile wheel. One instance per configuration and thread
is initialised once and ``reset`` between utterances; ``tests/test_feature_sets.py`` checks
that the values equal ``opensmile.Smile``'s.

A signal is converted to 16-bit PCM as openSMILE's own wrapper does (``x * 32768``), except that
it is clipped first: ``opensmile.Smile`` wraps a sample at exactly +1.0 round to -32768, a click
that changes hundreds of ComParE features.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np

from sera.errors import OpenSmileError

#: Configuration file of each supported set, under opensmile's ``core/config``.
CONFIGS = {"ComParE_2016": "compare/ComParE_2016.conf", "eGeMAPSv02": "egemaps/v02/eGeMAPSv02.conf"}

#: Names of openSMILE's external source and sink components in its shared configs.
SOURCE, SINK = "extsource", "extsink"

_LOCAL = threading.local()
_LOCK = threading.Lock()


def _core() -> Path:
    """opensmile's ``core`` folder (its library, its bindings and its configuration files)."""
    spec = importlib.util.find_spec("opensmile")
    if spec is None or not spec.submodule_search_locations:
        raise OpenSmileError("opensmile is not installed (pip install opensmile)")
    return Path(spec.submodule_search_locations[0]) / "core"


def _library():
    """``opensmile/core/lib.py`` loaded by file location, once per process."""
    with _LOCK:
        name = "sera._opensmile_lib"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, _core() / "lib.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[name] = module
        return sys.modules[name]


def to_pcm16(y: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit PCM bytes: ``x * 32768`` truncated toward zero, as
    openSMILE's wrapper converts, but clipped to [-32768, 32767] so +1.0 cannot wrap."""
    scaled = np.asarray(y, dtype=np.float32) * np.float32(32768)
    return np.clip(scaled, -32768, 32767).astype(np.int16).tobytes()


class Extractor:
    """One initialised openSMILE instance that computes one functionals vector per signal.

    Not thread-safe: use :func:`extractor`, which keeps one per thread.

    Parameters
    ----------
    feature_set : str
        A key of :data:`CONFIGS`.
    sample_rate : int
        The rate of every signal given.
    """

    def __init__(self, feature_set: str, sample_rate: int):
        if feature_set not in CONFIGS:
            raise OpenSmileError(f"unknown openSMILE feature set {feature_set!r}; sera runs "
                                 f"{', '.join(CONFIGS)}")
        lib = _library()
        config = _core() / "config"
        shared = config / "shared"
        options = {
            "sink": str(shared / "standard_external_data_output_single.conf.inc"),
            "sinkLevel": "func",
            "bufferModeRbConf": str(shared / "BufferModeRb.conf.inc"),
            "frameModeFunctionalsConf": str(shared / "FrameModeFunctionals.conf.inc"),
            "source": str(shared / "standard_external_wave_input.conf.inc"),
            "sampleRate": int(sample_rate),
            "nBits": 16,
        }
        self._smile = lib.OpenSMILE()
        self._smile.initialize(config_file=str(config / CONFIGS[feature_set]), options=options,
                               loglevel=0)
        count = self._smile.external_sink_get_num_elements(SINK)
        self.names = [self._smile.external_sink_get_element_name(SINK, i) for i in range(count)]
        self._rows: list[np.ndarray] = []
        self._listen()

    def _listen(self) -> None:
        rows = self._rows
        self._smile.external_sink_set_callback_ex(SINK, lambda data, meta: rows.append(
            np.array(data, dtype=np.float32).reshape(-1)))

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """The functionals of one mono float signal: float32 ``(len(names),)``."""
        self._rows.clear()
        try:
            self._smile.external_audio_source_write_data(SOURCE, to_pcm16(y))
            self._smile.external_audio_source_set_eoi(SOURCE)
            self._smile.run()
        finally:
            # Ready for the next signal without parsing the configuration again; the sink's
            # callback must be registered again after a reset.
            self._smile.reset()
            self._listen()
        if not self._rows:
            return np.full(len(self.names), np.nan, dtype=np.float32)
        return self._rows[-1]

    def __del__(self):
        smile = getattr(self, "_smile", None)
        if smile is not None:
            smile.free()


def extractor(feature_set: str, sample_rate: int) -> Extractor:
    """This thread's :class:`Extractor` for a set and rate, initialised on first use."""
    cache = getattr(_LOCAL, "extractors", None)
    if cache is None:
        cache = _LOCAL.extractors = {}
    key = (feature_set, int(sample_rate))
    if key not in cache:
        cache[key] = Extractor(feature_set, sample_rate)
    return cache[key]


def functionals(y: np.ndarray, feature_set: str, sample_rate: int) -> np.ndarray:
    """openSMILE functionals of a mono float signal (``opensmile.Smile(feature_set,
    Functionals).process_signal(y, sample_rate)``, without its pandas frame)."""
    return extractor(feature_set, sample_rate)(y)


def feature_names(feature_set: str, sample_rate: int = 16000) -> list[str]:
    """The column names of a set, in order."""
    return list(extractor(feature_set, sample_rate).names)
