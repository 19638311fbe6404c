"""sera: speech emotion recognition and analysis.

The public API::

    import sera
    model = sera.load()                 # the shipped default model
    model.predict("clip.wav")           # Prediction(label=..., scores={...})
    model.analyze("call.wav")           # Analysis(path, duration, segments=(Segment, ...))
"""

from __future__ import annotations

from sera.labels import LABELS

__version__ = "0.1.0"

__all__ = ["LABELS", "Model", "Prediction", "Segment", "__version__", "load"]

#: Names served by :mod:`sera.infer`, imported on first use so ``import sera`` stays light.
_INFER = frozenset({"load", "Model", "Prediction", "Segment"})


def __getattr__(name: str):
    if name in _INFER:
        from sera import infer

        return getattr(infer, name)
    raise AttributeError(f"module 'sera' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_INFER})
