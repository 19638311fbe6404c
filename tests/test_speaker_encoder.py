"""The ONNX speaker encoder and its numpy front end against Resemblyzer's own PyTorch encoder."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile as sf

from sera.speaker import encoder

NEMO = "nemo16k/samples"


def _clips(shared, names):
    return [sf.read(shared / name, dtype="float32")[0] for name in names]


@pytest.fixture(scope="module")
def resemblyzer():
    if importlib.util.find_spec("resemblyzer") is None:
        pytest.skip("resemblyzer is not installed (pip install --no-deps resemblyzer "
                    "webrtcvad-wheels): it is the oracle for the ONNX encoder")
    import resemblyzer

    return resemblyzer


def test_power_frames_match_librosa_stft():
    import librosa

    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    ours = encoder.power_frames(y)
    theirs = np.abs(librosa.stft(y, n_fft=400, hop_length=160)) ** 2
    assert ours.shape == theirs.T.shape
    np.testing.assert_allclose(ours, theirs.T, rtol=1e-4, atol=1e-6)


def test_window_starts_follow_resemblyzer():
    from_resemblyzer = {  # compute_partial_slices(n, 1.3, 0.75) mel slice starts
        16000: [0], 24000: [0], 40000: [0, 77], 64000: [0, 77, 154, 231]}
    for n, starts in from_resemblyzer.items():
        assert encoder.window_starts(n).tolist() == starts


def test_window_starts_agree_with_resemblyzer_code(resemblyzer):
    for n in (8000, 16000, 25600, 26000, 40000, 51234, 160000):
        _, slices = resemblyzer.VoiceEncoder.compute_partial_slices(n, 1.3, 0.75)
        assert encoder.window_starts(n).tolist() == [s.start for s in slices]


def test_volume_normalisation_matches_resemblyzer(resemblyzer):
    from resemblyzer.audio import normalize_volume

    y = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    for gain in (0.001, 0.01, 0.5):
        np.testing.assert_allclose(encoder.normalize_volume(gain * y),
                                   normalize_volume(gain * y, -30, increase_only=True),
                                   rtol=1e-5)


def test_onnx_embeddings_match_resemblyzer_on_real_speech(resemblyzer, ravdess_dir):
    shared = ravdess_dir.parent
    names = [f"ravdess16k/Actor_0{a}/03-01-0{e}-01-01-01-0{a}.flac" for a, e in
             ((1, 1), (2, 5), (3, 4), (4, 3))]
    names += [f"{NEMO}/{n}" for n in ("KS0_anger_1.flac", "EB0_sadness_1.flac")]
    reference = resemblyzer.VoiceEncoder("cpu", verbose=False)
    long = np.concatenate(_clips(shared, names[:3]))  # several windows, three voices
    for y in [*_clips(shared, names), long]:
        wav = resemblyzer.preprocess_wav(y)
        theirs = reference.embed_utterance(wav)
        ours = encoder.embed_utterance(wav)
        assert ours.shape == (256,)
        assert float(ours @ theirs) > 0.999


def test_build_is_reproducible(tmp_path):
    """Rebuilding the ONNX file from Resemblyzer's weights gives the shipped bytes."""
    if importlib.util.find_spec("resemblyzer") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("rebuilding needs resemblyzer and torch (the [train] extra)")
    import runpy

    build = runpy.run_path(str(encoder.MODEL_FILE.parents[3] / "scripts"
                               / "build_speaker_encoder.py"))["build"]
    build(tmp_path / "ge2e.onnx")
    assert (tmp_path / "ge2e.onnx").read_bytes() == encoder.MODEL_FILE.read_bytes()
