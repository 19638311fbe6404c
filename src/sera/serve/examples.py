"""The example clips the web page offers: SYNTHETIC audio made by :mod:`sera.corpora.voice`
when the server starts (no recorded speech ships with sera). They show what the page does with
one utterance and with a conversation; the emotions they were made with are not a test of the
model, which was trained on people."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

#: Silence between the turns of a conversation, seconds.
PAUSE_S = 0.8


@dataclass(frozen=True)
class Example:
    """An example clip: its file name, a title, and the ``(speaker, emotion, sentence)`` of
    each utterance, in order (speaker and sentence are indices of the synthetic corpus)."""

    name: str
    title: str
    turns: tuple[tuple[int, str, int], ...]


EXAMPLES = (
    Example("synthetic-one-utterance.wav", "One synthetic utterance (angry)",
            ((0, "angry", 0),)),
    Example("synthetic-dialogue.wav", "A synthetic dialogue: two machine voices, six turns",
            ((0, "neutral", 1), (1, "happy", 2), (0, "angry", 3), (1, "sad", 4),
             (0, "surprise", 5), (1, "neutral", 0))),
)


def render_example(example: Example, sample_rate: int = 16000, seed: int = 0) -> bytes:
    """The example as a 16-bit mono WAV file (the same bytes for the same arguments)."""
    from sera.corpora.voice import make_sentence, make_speaker, render

    pause = np.zeros(int(PAUSE_S * sample_rate), np.float32)
    pieces = []
    for number, (speaker, emotion, sentence) in enumerate(example.turns):
        rng = np.random.default_rng([seed, 7, number])
        pieces += [render(make_sentence(sentence, seed), make_speaker(speaker, seed), emotion,
                          rng, sample_rate), pause]
    out = io.BytesIO()
    sf.write(out, np.concatenate(pieces[:-1]), sample_rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
