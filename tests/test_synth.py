"""The built-in synthetic corpus: layout, determinism, the signal model, and that emotion in
it is learnable across speakers but not trivially so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy import signal
from typer.testing import CliRunner

from sera.corpora import synth
from sera.corpora.source_filter import formant_response, frame_count, frame_filter
from sera.corpora.synth import MANIFEST_COLUMNS, synthesize
from sera.corpora.voice import PEAK_LIMIT, PROSODY
from sera.errors import CorpusError
from sera.labels import LABELS


def _files(root):
    """Every file under ``root`` as ``{relative path: bytes}``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_layout_manifest_and_wav_format(tmp_path):
    manifest = synthesize(tmp_path, num_speakers=3, per_emotion=2, seed=0)

    assert list(manifest.columns) == list(MANIFEST_COLUMNS)
    assert len(manifest) == 3 * len(LABELS) * 2
    assert set(manifest["corpus"]) == {"synthetic"}
    assert list(manifest["speaker"].unique()) == ["synthetic-f1", "synthetic-m1", "synthetic-f2"]
    assert manifest.groupby("speaker")["gender"].first().to_dict() == {
        "synthetic-f1": "female", "synthetic-m1": "male", "synthetic-f2": "female"}
    assert manifest["emotion"].value_counts().to_dict() == {label: 6 for label in LABELS}
    assert set(manifest["text"]) == {"s00", "s01"}

    on_disk = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    assert list(on_disk.columns) == list(MANIFEST_COLUMNS)
    assert (on_disk.drop(columns="path") == manifest.drop(columns="path")).all().all()
    for relative, absolute, row in zip(on_disk["path"], manifest["path"],
                                       manifest.itertuples(), strict=True):
        assert not relative.startswith("/")
        assert absolute == str((tmp_path / relative).resolve())
        # Clip nn of every speaker and emotion says sentence nn.
        assert relative == f"{row.speaker}/{row.speaker}_{row.emotion}_{row.text[1:]}.wav"
        info = sf.info(absolute)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (
            16000, 1, "PCM_16", "WAV")
        assert 1.5 <= info.duration <= 3.5

    readme = (tmp_path / "README.txt").read_text()
    assert "SYNTHETIC" in readme and "not recordings of people" in readme
    assert not list(tmp_path.glob("*.partial"))


def test_same_seed_gives_identical_bytes_and_a_bigger_corpus_contains_a_smaller(tmp_path):
    synthesize(tmp_path / "a", num_speakers=2, per_emotion=1, seed=3)
    synthesize(tmp_path / "b", num_speakers=2, per_emotion=1, seed=3)
    synthesize(tmp_path / "big", num_speakers=3, per_emotion=2, seed=3)
    synthesize(tmp_path / "other", num_speakers=2, per_emotion=1, seed=4)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    big, other = _files(tmp_path / "big"), _files(tmp_path / "other")

    assert len(a) == 2 * len(LABELS) + 2  # the clips, manifest.csv, README.txt
    assert a == b
    clips = [name for name in a if name.endswith(".wav")]
    assert all(big[name] == a[name] for name in clips)
    assert all(other[name] != a[name] for name in clips)


def test_clips_sound_like_a_recording_not_digital_silence(tmp_path):
    manifest = synthesize(tmp_path, num_speakers=2, per_emotion=1, seed=0)
    for path in manifest["path"]:
        y, sr = sf.read(path, dtype="float32")
        lead = y[: int(0.1 * sr)]
        assert np.all(np.abs(y) <= 1.0)
        assert np.max(np.abs(y)) <= PEAK_LIMIT + 0.01
        # A faint noise floor before the speech: present, yet far below the speech itself.
        assert np.count_nonzero(lead) > 0.5 * lead.size
        assert 20 * np.log10(np.sqrt(np.mean(lead**2)) / np.sqrt(np.mean(y**2))) < -15


def test_scan_reads_the_corpus_back_unchanged(tmp_path):
    from sera.corpora import scan

    written = synthesize(tmp_path, num_speakers=2, per_emotion=1, seed=0)
    result = scan(tmp_path)

    assert result.skipped == []
    columns = list(MANIFEST_COLUMNS)
    read = result.manifest[columns].sort_values("path").reset_index(drop=True)
    expected = written[columns].sort_values("path").reset_index(drop=True)
    assert read.to_dict("records") == expected.to_dict("records")


def test_bad_arguments(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    with pytest.raises(CorpusError, match="file.txt: exists and is not a folder"):
        synthesize(a_file)
    with pytest.raises(ValueError, match="speakers=0"):
        synthesize(tmp_path / "x", num_speakers=0)
    with pytest.raises(ValueError, match="seed"):
        synthesize(tmp_path / "x", seed=-1)


def test_formant_cascade_matches_scipy_sosfreqz():
    rng = np.random.default_rng(0)
    formants = rng.uniform(250, 4500, (6, 5))
    bandwidths = rng.uniform(50, 300, (6, 5))
    n_fft = 1024
    response = formant_response(formants, bandwidths, 16000, n_fft)
    omega = 2 * np.pi * np.fft.rfftfreq(n_fft)
    for frame in range(6):
        r = np.exp(-np.pi * bandwidths[frame] / 16000)
        b, c = 2 * r * np.cos(2 * np.pi * formants[frame] / 16000), -(r**2)
        sos = np.stack([1 - b - c, 0 * b, 0 * b, np.ones_like(b), -b, -c], axis=1)
        _, expected = signal.sosfreqz(sos, worN=omega)
        np.testing.assert_allclose(response[frame], expected, rtol=1e-9)


def test_frame_filter_with_a_constant_response_is_plain_filtering():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000)
    hop = 128
    n_frames = frame_count(len(x), 4 * hop, hop)
    response = formant_response(np.full((n_frames, 2), [700.0, 1800.0]),
                                np.full((n_frames, 2), [80.0, 120.0]), 16000, 8 * hop)
    r = np.exp(-np.pi * np.array([80.0, 120.0]) / 16000)
    b, c = 2 * r * np.cos(2 * np.pi * np.array([700.0, 1800.0]) / 16000), -(r**2)
    sos = np.stack([1 - b - c, 0 * b, 0 * b, np.ones(2), -b, -c], axis=1)

    filtered = frame_filter(x, response, hop)
    expected = signal.sosfilt(sos, x)
    assert filtered.shape == x.shape
    # The resonators' tails beyond the FFT padding are the only difference (about e^-8).
    assert np.max(np.abs(filtered - expected)) < 1e-3 * np.max(np.abs(expected))


def _voiced_f0_and_level(y, sr):
    """Median F0 (semitones re 1 Hz) and mean level (dB) over a clip's loud frames.

    F0 is the autocorrelation peak between 60 and 700 Hz. (``librosa.yin`` would do, but
    its cached numba kernel crashes in this environment's virtualenv.)
    """
    import librosa

    frames = librosa.util.frame(y, frame_length=1024, hop_length=256).T * np.hanning(1024)
    energy = np.mean(frames**2, axis=1)
    loud = frames[energy > 0.1 * energy.max()]
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(loud, n=2048)) ** 2)
    low, high = sr // 700, sr // 60
    lag = low + np.argmax(autocorrelation[:, low:high], axis=1)
    return 12 * np.log2(np.median(sr / lag)), 10 * np.log10(np.mean(loud**2))


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    """8 speakers x 7 emotions x 4 clips, with MFCC/RMS statistics and prosodic summaries."""
    import librosa

    manifest = synthesize(tmp_path_factory.mktemp("synth"), num_speakers=8, per_emotion=4, seed=0)
    stats, prosody = [], []
    for path in manifest["path"]:
        y, sr = sf.read(path, dtype="float32")
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
        rms = librosa.feature.rms(y=y)[0]
        stats.append(np.concatenate([mfcc.mean(1), mfcc.std(1), [rms.mean(), rms.std()]]))
        f0_st, level_db = _voiced_f0_and_level(y, sr)
        prosody.append({"f0_st": f0_st, "level_db": level_db, "duration": len(y) / sr})
    return manifest, np.stack(stats), pd.DataFrame(prosody)


def test_emotion_is_learnable_across_speakers_but_not_trivially(described):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    manifest, X, _ = described
    y = manifest["emotion"].to_numpy()
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    # Four folds of 8 speakers: train on 6, test on the 2 unseen ones.
    predicted = cross_val_predict(classifier, X, y, groups=manifest["speaker"],
                                  cv=GroupKFold(n_splits=4))
    uar = balanced_accuracy_score(y, predicted)
    print(f"speaker-independent UAR on the synthetic corpus: {uar:.3f} (chance {1 / 7:.3f})")
    assert 0.35 < uar < 0.98


def test_emotions_move_prosody_the_way_the_table_says(described):
    manifest, _, prosody = described
    # Each clip relative to its speaker's neutral mean, averaged per emotion.
    table = prosody.assign(speaker=manifest["speaker"], emotion=manifest["emotion"])
    neutral = table[table["emotion"] == "neutral"].groupby("speaker").mean(numeric_only=True)
    columns = ["f0_st", "level_db", "duration"]
    relative = table[columns] - neutral.loc[table["speaker"], columns].to_numpy()
    effect = relative.assign(emotion=table["emotion"]).groupby("emotion").mean()

    table_effect = pd.DataFrame({
        "f0_st": {e: 12 * np.log2(p.f0_level) for e, p in PROSODY.items()},
        "level_db": {e: p.loudness_db for e, p in PROSODY.items()},
        "duration": {e: -np.log(p.rate) for e, p in PROSODY.items()},  # slower -> longer
    })
    # Only effects at least a third the size of the largest one are checked for direction.
    for column in columns:
        strong = table_effect[column].abs() >= table_effect[column].abs().max() / 3
        measured = np.sign(effect.loc[strong[strong].index, column])
        assert (measured == np.sign(table_effect.loc[strong, column])).all(), column


def test_cli_writes_the_corpus_and_reports_it(tmp_path):
    import sera.cli.synth  # noqa: F401  registers the command
    from sera.cli._app import app

    out = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["corpus", "synth", str(out), "--speakers", "2",
                                      "--per-emotion", "1", "--seed", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n"] == 2 * len(LABELS)
    assert summary["corpus"] == "synthetic"
    assert summary["speakers"] == ["synthetic-f1", "synthetic-m1"]
    assert summary["by_emotion"] == {label: 2 for label in LABELS}
    synthesize(tmp_path / "library", num_speakers=2, per_emotion=1, seed=5)
    assert _files(out) == _files(tmp_path / "library")


def test_an_interrupted_run_leaves_no_manifest(tmp_path, monkeypatch):
    synthesize(tmp_path, num_speakers=1, per_emotion=1, seed=0)
    assert (tmp_path / "manifest.csv").is_file()
    render, calls = synth.render, []

    def render_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return render(*args, **kwargs)

    monkeypatch.setattr(synth, "render", render_then_fail)
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path, num_speakers=2, per_emotion=1, seed=0)
    assert len(calls) == 3
    assert not (tmp_path / "manifest.csv").exists()
