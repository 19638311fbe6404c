"""sera: speech emotion recognition and analysis.

The public API::

    import sera
    model = sera.load()                 # the shipped default model
    model.predict("clip.wav")           # Prediction(label=..., scores={...})
    model.analyze("call.wav")           # [Segment(start, end, label, scores), ...]
"""

from __future__ import annotations

from sera.labels import LABELS

__version__ = "0.1.0"

__all__ = ["LABELS", "__version__"]
