"""The built-in SYNTHETIC corpus: speech-like audio whose prosody follows acted emotion.

Nothing here is real speech. :func:`synthesize` writes a small, deterministic corpus of
machine-made "utterances" so that the whole pipeline (scan, features, train, evaluate,
predict) can run and be tested without downloading a real corpus. Every clip is labelled
``corpus = "synthetic"`` in the manifest, the folder carries a ``README.txt`` saying so, and
speaker ids start with ``synthetic-``. Numbers measured on it say that the code works, not how
well sera recognises emotion in people.

The voices themselves (the source-filter signal model, speakers, sentences and how each
emotion shapes them) are :mod:`sera.corpora.voice`; this module writes them out as a corpus or
a dialogue.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from sera.corpora.voice import CORPUS, SAMPLE_RATE, make_sentence, make_speaker, render
from sera.errors import CorpusError, InputError
from sera.labels import LABELS
from sera.progress import ProgressReport, track

if TYPE_CHECKING:
    import pandas

#: Manifest columns, in order, as written to ``manifest.csv``.
MANIFEST_COLUMNS = ("path", "corpus", "speaker", "gender", "emotion", "text")


def synthesize(out_dir: str | os.PathLike, num_speakers: int = 8, per_emotion: int = 6,
               seed: int = 0, sample_rate: int = SAMPLE_RATE, *,
               progress: ProgressReport | None = None) -> pandas.DataFrame:
    """Write the synthetic corpus and return its manifest.

    Writes ``out_dir/<speaker>/<speaker>_<emotion>_<nn>.wav`` (16-bit mono WAV),
    ``out_dir/manifest.csv`` (paths relative to ``out_dir``) and ``out_dir/README.txt``.
    The same arguments always give byte-identical files, and each clip depends only on
    ``seed``, its speaker, emotion and number, so a corpus with more speakers or clips
    contains the smaller one.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder to write into; created if missing.
    num_speakers : int
        Number of synthetic speakers, alternately female and male.
    per_emotion : int
        Clips per speaker and emotion; clip ``nn`` says sentence ``nn``.
    seed : int
        Non-negative seed of every random choice.
    sample_rate : int
        Rate of the WAV files, Hz (at least 11025, so that F5 and frication fit).
    progress : ProgressReport, optional
        Told of each clip written (:mod:`sera.progress`).

    Returns
    -------
    pandas.DataFrame
        One row per clip: ``path`` (absolute), ``corpus`` ("synthetic"), ``speaker``,
        ``gender``, ``emotion``, ``text`` (the sentence id).

    Raises
    ------
    CorpusError
        If ``out_dir`` exists and is not a folder.
    InputError
        If a count is below 1, the seed negative or the rate too low.
    """
    if num_speakers < 1 or per_emotion < 1:
        raise InputError(f"need at least one speaker and one clip per emotion, "
                         f"got num_speakers={num_speakers}, per_emotion={per_emotion}")
    if seed < 0:
        raise InputError(f"seed must be non-negative, got {seed}")
    if sample_rate < 11025:
        raise InputError(f"sample_rate must be at least 11025 Hz, got {sample_rate}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    # A manifest only ever describes a complete corpus: an old one goes first, the new one
    # is written last and atomically.
    (out_dir / "manifest.csv").unlink(missing_ok=True)

    voices = [make_speaker(index, seed) for index in range(num_speakers)]
    sentences = [make_sentence(index, seed) for index in range(per_emotion)]
    for speaker in voices:
        (out_dir / speaker.id).mkdir(exist_ok=True)
    clips = itertools.product(enumerate(voices), enumerate(LABELS), enumerate(sentences))
    rows = []
    for (speaker_index, speaker), (emotion_index, emotion), (number, sentence) in track(
            clips, progress, "synthetic corpus", total=num_speakers * len(LABELS) * per_emotion):
        rng = np.random.default_rng([seed, 2, speaker_index, emotion_index, number])
        y = render(sentence, speaker, emotion, rng, sample_rate)
        relative = f"{speaker.id}/{speaker.id}_{emotion}_{number:02d}.wav"
        sf.write(out_dir / relative, y, sample_rate, subtype="PCM_16", format="WAV")
        rows.append((relative, CORPUS, speaker.id, speaker.gender, emotion, sentence.id))

    import pandas as pd  # the manifest only: the voices themselves need none

    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    (out_dir / "README.txt").write_text(_readme(num_speakers, per_emotion, seed, sample_rate,
                                                len(manifest)))
    partial = out_dir / "manifest.csv.partial"
    manifest.to_csv(partial, index=False, lineterminator="\n")
    os.replace(partial, out_dir / "manifest.csv")

    root = out_dir.resolve()
    return manifest.assign(path=[str(root / p) for p in manifest["path"]])


#: Pauses between the turns of a synthetic dialogue, seconds.
DIALOGUE_PAUSE_S = (0.3, 1.0)


def dialogue(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE,
             ) -> tuple[np.ndarray, list[dict]]:
    """A synthetic two-speaker call: turns of one woman and one man, alternating, each an
    utterance in a random emotion, with pauses of 0.3-1 s of faint noise between them.

    Parameters
    ----------
    seconds : float
        At least this long (the last turn is whole).
    seed : int
        Non-negative; call ``seed`` has the voices of speakers ``2 * seed`` and
        ``2 * seed + 1`` (:func:`make_speaker`), so different seeds are different people.
    sample_rate : int
        Hz.

    Returns
    -------
    audio : np.ndarray
        float32 mono.
    turns : list of dict
        ``{"start", "end", "speaker", "emotion"}`` per turn (seconds; the utterance's own
        leading and trailing pauses included).
    """
    if seed < 0:
        raise InputError(f"seed must be non-negative, got {seed}")
    rng = np.random.default_rng([seed, 3])
    voices = (make_speaker(2 * seed), make_speaker(2 * seed + 1))
    pieces, turns, t = [], [], 0.0
    while t < seconds:
        pause = rng.standard_normal(int(rng.uniform(*DIALOGUE_PAUSE_S) * sample_rate))
        pieces.append((10 ** (-66 / 20) * pause).astype(np.float32))
        t += pieces[-1].size / sample_rate
        speaker, emotion = voices[len(turns) % 2], LABELS[int(rng.integers(len(LABELS)))]
        pieces.append(render(make_sentence(int(rng.integers(10))), speaker, emotion, rng,
                             sample_rate))
        turns.append({"start": t, "end": t + pieces[-1].size / sample_rate,
                      "speaker": speaker.id, "emotion": emotion})
        t = turns[-1]["end"]
    return np.concatenate(pieces), turns


def _readme(speakers: int, per_emotion: int, seed: int, sample_rate: int, n: int) -> str:
    """Text of the corpus's README.txt."""
    return (
        "SYNTHETIC CORPUS - not recordings of people.\n\n"
        "Written by sera (sera.corpora.synth.synthesize; `sera corpus synth`).\n"
        "Every clip is machine-made speech-like audio (a source-filter model: glottal pulses\n"
        "with an F0 contour through moving formant resonators, noise for consonants). Each\n"
        "emotion changes the prosody the way acted emotion does in the literature (F0 level\n"
        "and range, tempo, loudness, spectral tilt, jitter/shimmer, breathiness, creak).\n"
        "Results measured on it show that the software runs; they say nothing about how well\n"
        "emotion is recognised in real voices.\n\n"
        f"clips: {n} ({speakers} speakers x {len(LABELS)} emotions x {per_emotion})\n"
        f"seed: {seed}\n"
        f"format: 16-bit mono WAV, {sample_rate} Hz\n"
        "layout: <speaker>/<speaker>_<emotion>_<nn>.wav; manifest.csv lists path (relative to\n"
        "this folder), corpus (synthetic), speaker, gender, emotion, text (sentence id).\n"
    )
