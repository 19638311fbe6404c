"""Bad input: one clear line per bad file, the batch goes on, odd-but-valid formats load."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sera import audio
from sera.errors import AudioError
from sera.features import extract_features

SR = 16000


def _voice(seconds=1.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.2 * np.sin(2 * np.pi * 3 * t)))


def make_bad_files(folder):
    """Each bad file, keyed by the phrase its one-line error must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = {}
    good = folder / "good.wav"
    sf.write(good, _voice(), SR, subtype="PCM_16")
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    bad[corrupt] = "not a readable audio file"
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    bad[empty] = "empty file"
    short = folder / "short.wav"
    sf.write(short, _voice(0.1), SR)
    bad[short] = "too short"
    silent = folder / "silent.wav"
    sf.write(silent, np.zeros(SR), SR)
    bad[silent] = "silent"
    nan = folder / "nan.wav"
    y = _voice().astype(np.float32)
    y[100:110] = np.nan
    y[200] = np.inf
    sf.write(nan, y, SR, subtype="FLOAT")
    bad[nan] = "NaN or infinite"
    text = folder / "notes.wav"
    text.write_text("this is not audio, just text renamed to .wav\n" * 20)
    bad[text] = "not a readable audio file"
    if os.geteuid() != 0:  # root reads everything, so unreadable files only exist for others
        locked = folder / "locked.wav"
        sf.write(locked, _voice(), SR)
        locked.chmod(0)
        bad[locked] = "permission denied"
    return good, bad


@pytest.fixture
def bad_files(tmp_path):
    return make_bad_files(tmp_path / "batch")


def test_each_bad_file_raises_one_line_naming_it(bad_files):
    _, bad = bad_files
    for path, phrase in bad.items():
        with pytest.raises(AudioError) as caught:
            audio.load(path)
        message = str(caught.value)
        assert message.startswith(str(path)) and phrase in message, message
        assert "\n" not in message


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.load(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a directory"):
        audio.load(tmp_path)


def test_too_long_is_refused_before_decoding(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _voice(5.0), SR)
    with pytest.raises(AudioError, match="too long"):
        audio.load(path, max_duration=2.0)


@pytest.mark.parametrize("subtype,atol", [("PCM_U8", 1 / 64), ("PCM_16", 1e-4),
                                          ("PCM_24", 1e-6), ("PCM_32", 1e-7), ("FLOAT", 1e-7)])
def test_bit_depths_load_to_the_same_signal(tmp_path, subtype, atol):
    y = _voice(0.5)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, y, SR, subtype=subtype)
    loaded = audio.load(path, sr=None)
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, y, atol=atol)


@pytest.mark.parametrize("rate", [8000, 22050, 24414, 44100, 48000, 96000])
def test_odd_rates_are_resampled_to_the_target(tmp_path, rate):
    path = tmp_path / f"{rate}.wav"
    sf.write(path, _voice(1.0, rate), rate, subtype="PCM_16")
    y = audio.load(path, sr=SR)
    assert abs(y.size - SR) <= 1
    # the 220 Hz tone survives resampling at its frequency
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SR / y.size - 220) < 3


def test_stereo_is_downmixed(tmp_path):
    left = _voice()
    path = tmp_path / "stereo.wav"
    sf.write(path, np.column_stack([left, np.zeros_like(left)]), SR, subtype="FLOAT")
    np.testing.assert_allclose(audio.load(path, sr=None), left / 2, atol=1e-6)


def test_real_48k_stereo_release_files_load(ravdess_original_dir):
    for path in sorted(ravdess_original_dir.glob("*/*.wav")):
        channels = sf.info(path).channels
        y = audio.load(path)
        assert y.ndim == 1 and y.dtype == np.float32
        assert abs(y.size / SR - sf.info(path).duration) < 0.01, (path, channels)


def test_a_batch_goes_on_past_bad_files_and_lists_them(bad_files):
    good, bad = bad_files
    manifest = pd.DataFrame({"path": [str(good), *map(str, bad)]})
    table = extract_features(manifest, "stats")
    assert list(table.frame["path"]) == [str(good)]
    failed = dict(table.failures)
    assert set(failed) == set(map(str, bad))
    for path, phrase in bad.items():
        assert phrase in failed[str(path)]


def test_cli_reports_each_bad_file_once_and_exits_non_zero(bad_files, tmp_path):
    good, bad = bad_files
    manifest = tmp_path / "batch.csv"
    pd.DataFrame({"path": [str(good), *map(str, bad)],
                  "emotion": ["happy"] * (1 + len(bad))}).to_csv(manifest, index=False)
    done = subprocess.run([sys.executable, "-m", "sera", "features", str(manifest), "--set",
                           "stats", "--out", str(tmp_path / "f.parquet")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    for path, phrase in bad.items():
        lines = [line for line in done.stderr.splitlines() if str(path.name) in line]
        assert lines and any(phrase in line for line in lines), (path, done.stderr)
    assert (tmp_path / "f.parquet").exists()  # the good file's features are kept
