"""Shared fixtures. Tests that need the real RAVDESS data skip cleanly where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SERA_SHARED_DATA", ROOT.parent / "shared" / "data"))
RAVDESS16K = SHARED_DATA / "ravdess16k"
RAVDESS_ORIGINAL = SHARED_DATA / "ravdess-original-samples"
NEMO16K = SHARED_DATA / "nemo16k"
EMOVO16K = SHARED_DATA / "emovo16k"
ASED16K = SHARED_DATA / "ased16k"


@pytest.fixture(scope="session")
def ravdess_dir() -> Path:
    """The shared RAVDESS speech (actors 01-18, 16 kHz FLAC)."""
    if not RAVDESS16K.is_dir():
        pytest.skip(f"real RAVDESS data not found at {RAVDESS16K} (set SERA_SHARED_DATA)")
    return RAVDESS16K


@pytest.fixture(scope="session")
def nemo_dir() -> Path:
    """The shared nEMO speech (7 of its 9 actors, 16 kHz FLAC, ``samples/`` + ``data.tsv``)."""
    if not (NEMO16K / "data.tsv").is_file():
        pytest.skip(f"real nEMO data not found at {NEMO16K} (set SERA_SHARED_DATA)")
    return NEMO16K


@pytest.fixture(scope="session")
def emovo_dir() -> Path:
    """The shared EMOVO speech (all 6 actors, 16 kHz Ogg Opus)."""
    if not EMOVO16K.is_dir():
        pytest.skip(f"real EMOVO data not found at {EMOVO16K} (set SERA_SHARED_DATA)")
    return EMOVO16K


@pytest.fixture(scope="session")
def ased_dir() -> Path:
    """The shared ASED speech (speakers 01-50, 16 kHz Ogg Opus)."""
    if not ASED16K.is_dir():
        pytest.skip(f"real ASED data not found at {ASED16K} (set SERA_SHARED_DATA)")
    return ASED16K


@pytest.fixture(scope="session")
def ravdess_original_dir() -> Path:
    """Six RAVDESS files exactly as released (48 kHz, two of them stereo)."""
    if not RAVDESS_ORIGINAL.is_dir():
        pytest.skip(f"original RAVDESS samples not found at {RAVDESS_ORIGINAL}")
    return RAVDESS_ORIGINAL


@pytest.fixture
def tone_wav(tmp_path) -> Path:
    """A 1.5 s, 16 kHz, 16-bit mono WAV of a 220 Hz tone with a little noise."""
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    rng = np.random.default_rng(0)
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
    path = tmp_path / "tone.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.fixture
def unreadable_folders(monkeypatch):
    """Make folders whose path ends with a given name unlistable (``PermissionError`` from
    ``os.scandir``), as an unreadable folder is for any user but root, who runs the tests."""
    real = os.scandir

    def refuse(name: str) -> None:
        def scandir(path="."):
            if isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith(name):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)

    return refuse
