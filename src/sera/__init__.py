"""sera: speech emotion recognition and analysis.

The public API::

    import sera
    model = sera.load()                 # the shipped default model
    model.predict("clip.wav")           # Prediction(label=..., scores={...})
    model.predict_many(["a.wav", ...])  # ([Prediction, ...], [(path, problem), ...])
    model.analyze("call.wav")           # Analysis(path, duration, segments=(Segment, ...))

Every problem with the user's input raises a :class:`SeraError` (bad arguments an
:class:`InputError`, unusable audio an :class:`AudioError`) whose message is one line.
"""

from __future__ import annotations

from sera.errors import AudioError, InputError, SeraError
from sera.labels import LABELS
from sera.results import Analysis, Prediction, Segment

__version__ = "0.1.0"

__all__ = ["LABELS", "Analysis", "AudioError", "InputError", "Model", "Prediction", "Segment",
           "SeraError", "__version__", "load"]

#: Names served by :mod:`sera.infer`, imported on first use so ``import sera`` stays light.
_INFER = frozenset({"load", "Model"})


def __getattr__(name: str):
    if name in _INFER:
        from sera import infer

        return getattr(infer, name)
    raise AttributeError(f"module 'sera' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_INFER})
