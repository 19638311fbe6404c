"""Augmentation is seeded per utterance and kind, and only training utterances are augmented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sera.augment import Augmenter
from sera.errors import LeakageError
from sera.labels import LABELS
from sera.options import SEED_AUGMENTS
from sera.splits import (
    check_disjoint,
    loso,
    random_split,
    rows_to_augment,
    speaker_split,
)

SR = 16000


def tone(seconds: float = 0.5, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def speechlike(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """A decaying noise burst: no two samples equal, so any shift shows."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    return (rng.standard_normal(n) * np.linspace(1, 0.1, n) * 0.3).astype(np.float32)


@pytest.mark.parametrize("kind", SEED_AUGMENTS)
def test_each_kind_is_deterministic_and_changes_the_signal(kind):
    y = speechlike()
    augmenter = Augmenter(seed=0)
    out = augmenter.augment(y, SR, kind, "/data/a.wav")
    assert out.dtype == np.float32
    assert np.array_equal(out, Augmenter(seed=0).augment(y, SR, kind, "/data/a.wav"))
    if out.shape == y.shape:
        assert not np.allclose(out, y, atol=1e-4)
    assert np.array_equal(y, speechlike()), "the input must not be modified"


@pytest.mark.parametrize("kind", ["noise", "shift"])
def test_random_kinds_depend_on_key_and_seed(kind):
    y = speechlike()
    base = Augmenter(seed=0).augment(y, SR, kind, "/data/a.wav")
    assert not np.array_equal(base, Augmenter(seed=0).augment(y, SR, kind, "/data/b.wav"))
    assert not np.array_equal(base, Augmenter(seed=1).augment(y, SR, kind, "/data/a.wav"))


def test_lengths_are_kept_except_by_stretch():
    y = speechlike()
    augmenter = Augmenter(stretch_rate=0.8)
    for kind in ("noise", "shift", "pitch"):
        assert augmenter.augment(y, SR, kind, 0).shape == y.shape
    stretched = augmenter.augment(y, SR, "stretch", 0)
    assert abs(stretched.size - y.size / 0.8) <= 1


def test_noise_is_scaled_to_the_signal_peak():
    y = speechlike()
    augmenter = Augmenter(noise_amplitude=0.035)
    added = augmenter.augment(y, SR, "noise", "k") - y
    # Gaussian noise of std at most 0.035 * peak: its sample std cannot exceed that bound much.
    assert 0 < added.std() <= 0.035 * np.abs(y).max() * 1.1


def test_shift_is_a_circular_shift_within_the_bound():
    y = speechlike()
    augmenter = Augmenter(shift_seconds=0.05)
    out = augmenter.augment(y, SR, "shift", "k")
    bound = int(0.05 * SR)
    matches = [k for k in range(-bound, bound + 1) if np.array_equal(np.roll(y, k), out)]
    assert len(matches) == 1 and matches[0] != 0


def test_pitch_shift_raises_a_tone_by_the_given_semitones():
    y = tone(1.0, 440.0)
    out = Augmenter(pitch_semitones=0.7).augment(y, SR, "pitch", "k")
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak = np.fft.rfftfreq(out.size, 1 / SR)[spectrum.argmax()]
    assert peak == pytest.approx(440.0 * 2 ** (0.7 / 12), abs=2.0)


def test_unknown_or_unselected_kinds_are_refused():
    with pytest.raises(ValueError, match="reverb"):
        Augmenter(kinds=("noise", "reverb"))
    with pytest.raises(ValueError, match="pitch"):
        Augmenter(kinds=("noise",)).augment(speechlike(), SR, "pitch", "k")


def make_manifest(n_speakers: int = 8) -> pd.DataFrame:
    rows = [{"path": f"/data/s{s}/{emotion}.wav", "corpus": "toy", "speaker": f"s{s}",
             "gender": ("female", "male")[s % 2], "emotion": emotion}
            for s in range(n_speakers) for emotion in LABELS]
    return pd.DataFrame(rows)


def augmented_training_frame(manifest: pd.DataFrame, split, augmenter: Augmenter) -> pd.DataFrame:
    """What the feature store builds for training: the training rows plus one augmented copy
    per row and kind, made from the rows sera.splits hands out for augmentation."""
    rows = rows_to_augment(manifest, split)
    copies = []
    for index, row in rows.iterrows():
        y = speechlike(0.3, seed=int(index))
        for kind in augmenter.kinds:
            copy = augmenter.augment(y, SR, kind, row["path"])
            copies.append({**row.to_dict(), "augment": kind, "samples": copy.size})
    train = manifest.iloc[split.train].assign(augment=None)
    return pd.concat([train, pd.DataFrame(copies)], ignore_index=True)


def test_no_augmented_copy_of_a_held_out_utterance_reaches_training():
    manifest = make_manifest()
    augmenter = Augmenter(seed=0)
    split = speaker_split(manifest, test_size=0.25, val_size=0.125, seed=0)
    train = augmented_training_frame(manifest, split, augmenter)
    _, val, test = split.frames(manifest)
    assert set(train["augment"].dropna()) == set(SEED_AUGMENTS)
    assert len(train) == len(split.train) * (1 + len(SEED_AUGMENTS))
    for held_out in (val, test):
        assert not set(train["path"]) & set(held_out["path"])
        check_disjoint(train, held_out)
    for _, fold in loso(manifest, seed=0):
        fold_train = augmented_training_frame(manifest, fold, Augmenter(kinds=("noise",)))
        check_disjoint(fold_train, manifest.iloc[fold.test])
        check_disjoint(fold_train, manifest.iloc[fold.val])


def test_the_seed_protocol_is_caught_leaking():
    """Augmenting every row and then splitting rows at random puts copies on both sides."""
    manifest = make_manifest()
    augmented = pd.concat([manifest.assign(augment=None)]
                          + [manifest.assign(augment=kind) for kind in SEED_AUGMENTS],
                          ignore_index=True)
    with pytest.warns(Warning, match="leakage"):
        split = random_split(augmented, test_size=0.2, seed=0)
    train, _, test = split.frames(augmented)
    with pytest.raises(LeakageError, match="path"):
        check_disjoint(train, test)
