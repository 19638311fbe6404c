"""Corpus plots: PNGs of the asked size, in the shared emotion colours, deterministic picks."""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

import sera.cli.plot  # noqa: F401  registers `sera plot ...`
from sera.cli._app import app
from sera.corpora import scan
from sera.errors import CorpusError
from sera.labels import LABELS
from sera.plots import (
    EMOTION_COLORS,
    load_examples,
    plot_distribution,
    plot_spectrograms,
    plot_waveforms,
)

SR = 16000
PRESENT = ("angry", "happy", "sad")
ABSENT = [label for label in LABELS if label not in PRESENT]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Folder per label: three emotions, three speakers, one 0.6 s harmonic tone each."""
    root = tmp_path_factory.mktemp("corpus")
    t = np.arange(int(0.6 * SR)) / SR
    for e, emotion in enumerate(PRESENT):
        for s in range(3):
            f0 = 120.0 + 40 * e + 15 * s
            y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
            y = 0.2 * (1 + e) / 3 * y * np.hanning(t.size)
            path = root / f"spk{s}" / emotion / f"clip{s}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def manifest(corpus):
    return scan(corpus).manifest


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=int)


def has_colour(image: np.ndarray, colour: str, tolerance: int = 6) -> bool:
    rgb = np.array(mcolors.to_rgb(colour)) * 255
    return bool((np.abs(image - rgb).max(axis=-1) <= tolerance).sum() >= 20)


def test_emotion_colours_cover_the_labels_and_differ():
    assert set(EMOTION_COLORS) == set(LABELS)
    assert len(set(EMOTION_COLORS.values())) == len(LABELS)


def test_distribution(manifest, tmp_path):
    out = plot_distribution(manifest, tmp_path / "sub" / "dist.png", size=(901, 433))
    image = pixels(out)
    assert image.shape[:2] == (433, 901)
    for label in PRESENT:
        assert has_colour(image, EMOTION_COLORS[label]), label


def test_waveforms_one_panel_per_present_emotion(manifest, tmp_path):
    out = plot_waveforms(manifest, tmp_path / "wave.png", size=(800, 600))
    image = pixels(out)
    assert image.shape[:2] == (600, 800)
    for label in PRESENT:
        assert has_colour(image, EMOTION_COLORS[label]), label
    for label in ABSENT:
        if label != "neutral":   # its grey also shades anti-aliased black text
            assert not has_colour(image, EMOTION_COLORS[label]), label


def test_spectrograms(manifest, tmp_path):
    out = plot_spectrograms(manifest, tmp_path / "spec.png", size=(1000, 700))
    image = pixels(out)
    assert image.shape[:2] == (700, 1000)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500   # a picture, not a blank page
    for label in PRESENT:   # titles in the emotion's colour
        assert has_colour(image, EMOTION_COLORS[label], tolerance=10), label


def test_same_seed_same_png(manifest, tmp_path):
    first = plot_waveforms(manifest, tmp_path / "a.png", seed=3)
    second = plot_waveforms(manifest.sample(frac=1.0, random_state=1), tmp_path / "b.png", seed=3)
    assert first.read_bytes() == second.read_bytes()


def test_examples_one_per_emotion_in_label_order_and_seeded(manifest):
    picks = {seed: [ex.path for ex in load_examples(manifest, seed=seed)] for seed in range(6)}
    examples = load_examples(manifest, seed=0)
    assert [ex.emotion for ex in examples] == list(PRESENT)
    assert all(ex.y.dtype == np.float32 and ex.sr == SR for ex in examples)
    assert picks[0] == [ex.path for ex in load_examples(manifest, seed=0)]
    assert len({tuple(paths) for paths in picks.values()}) > 1   # the seed matters


def test_unreadable_clip_gives_way(manifest, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"this is not audio" * 100)
    angry = manifest["emotion"] == "angry"
    only_broken_first = manifest.copy()
    only_broken_first.loc[angry, "path"] = [str(broken)] + manifest.loc[angry, "path"].tolist()[1:]
    for seed in range(4):
        examples = load_examples(only_broken_first, seed=seed)
        assert examples[0].emotion == "angry" and examples[0].path != str(broken)
    all_broken = manifest.copy()
    all_broken.loc[angry, "path"] = str(broken)
    with pytest.raises(CorpusError, match="no readable clip of 'angry'"):
        load_examples(all_broken)


def test_empty_manifest_refused(manifest, tmp_path):
    with pytest.raises(CorpusError, match="no utterances"):
        plot_distribution(manifest.iloc[:0], tmp_path / "x.png")


@pytest.mark.parametrize("kind", ["distribution", "waveforms", "spectrograms"])
def test_cli(corpus, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = CliRunner().invoke(app, ["plot", kind, str(corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    assert str(out) in result.stderr
