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


def test_noise_subtraction_removes_a_stationary_floor_and_keeps_what_stands_above_it():
    """A bin of noise alone falls to the spectral floor in most frames and keeps a small part
    of its power; a tone well above the noise keeps its power less the subtracted noise; an
    utterance over digital silence is left as it is; and padding frames past the utterance do
    not count toward the estimate."""
    rng = np.random.default_rng(0)
    noise = rng.exponential(1e-4, size=(200, 201)).astype(np.float32)   # a white floor's bins
    power = noise.copy()
    power[50:150, 40] += 1.0                                            # a tone in half the frames
    out = encoder.subtract_noise(power)
    mean = noise.mean(axis=0)
    # An exponential bin exceeds twice its mean in e**-2 of the frames: those keep the excess.
    assert np.median(out[:, 100]) <= 1.5 * encoder.NOISE_FLOOR * mean[100]
    assert out[:, 100].mean() < 0.25 * mean[100] and np.all(out >= 0)
    np.testing.assert_allclose(out[50:150, 40], power[50:150, 40], rtol=0.01)
    # Over digital silence (10 % of frames or more silent), nothing changes.
    silent = power.copy() - noise
    assert np.array_equal(encoder.subtract_noise(silent), silent)
    # Padding of zeros past the utterance's frames is not taken for its pauses.
    padded = np.concatenate([power, np.zeros((100, 201), np.float32)])
    assert np.array_equal(encoder.subtract_noise(padded, frames=200)[:200], out)
    assert not np.array_equal(encoder.subtract_noise(padded)[:200], out)


def test_noise_subtraction_keeps_voices_apart_under_a_floor_and_clean_speech_as_it_was(
        ravdess_dir):
    """Two same-gender actors' embeddings (RAVDESS 13 and 15, 14 and 16, 17 and 13) under a
    pink floor at -50 dBFS: their same-speaker similarity minus their cross-speaker similarity
    is larger with the subtraction than without; on the clean clips the embeddings barely
    move."""
    from sera.audio import load
    from sera.robustness import corrupt

    def embedding(y, denoise):
        y = encoder.normalize_volume(y)
        windows = encoder.power_windows(y, encoder.window_starts(y.shape[0]), denoise)
        return encoder.l2_normalize(encoder.embed_power(windows).mean(axis=0))

    def separation(a, b):
        same = [np.mean((e @ e.T)[np.triu_indices(len(e), 1)]) for e in (a, b)]
        return float(np.mean(same) - np.mean(a @ b.T))

    clips = {actor: [load(p, 16000) for p in sorted((ravdess_dir / f"Actor_{actor:02d}")
                                                    .glob("*.flac"))[:40:5]]
             for actor in (13, 14, 15, 16, 17)}
    gained = []
    for a, b in ((13, 15), (14, 16), (17, 13)):
        noisy = {s: [corrupt(y, 16000, "floor-pink-50dbfs", seed=i + s)
                     for i, y in enumerate(clips[s])] for s in (a, b)}
        plain, denoised = ({s: np.array([embedding(y, d) for y in noisy[s]]) for s in (a, b)}
                           for d in (False, True))
        gained.append(separation(denoised[a], denoised[b]) - separation(plain[a], plain[b]))
        moved = [float(embedding(y, False) @ embedding(y, True)) for y in clips[a]]
        assert min(moved) > 0.99
    assert np.mean(gained) > 0.01, gained


def test_diarization_embeds_utterances_after_noise_subtraction(monkeypatch):
    """The utterances a recording is diarized by go through subtract_noise, once each, over
    their own frames (not the windows' zero padding)."""
    from sera.speaker import diarize

    seen = []
    real = encoder.subtract_noise

    def spy(power, frames=None, **kwargs):
        seen.append((power.shape[0], frames))
        return real(power, frames, **kwargs)

    monkeypatch.setattr(encoder, "subtract_noise", spy)
    rng = np.random.default_rng(0)
    short, long = (0.1 * rng.standard_normal(int(s * 16000)).astype(np.float32)
                   for s in (1.0, 5.0))
    diarize.embed_utterances([(short, 0.0), (long, 2.0)])
    assert [frames for _, frames in seen] == [100, 500]
    assert seen[0][0] >= encoder.WINDOW_FRAMES  # the short one is padded to a window
