"""Frame descriptors against librosa (the numeric oracle) and against their definitions."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from sera import audio
from sera.features import descriptors as fd

SR = 22050


def _speech(ravdess_dir, index: int = 0, sr: int = SR) -> np.ndarray:
    path = sorted(ravdess_dir.glob("Actor_*/*.flac"))[index]
    return audio.load(path, sr=sr, offset=0.6, duration=2.5, pad=True)


def _tone(freq: float = 220.0, seconds: float = 1.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture(params=["tone", "speech"])
def signal(request, ravdess_dir):
    return _tone() if request.param == "tone" else _speech(ravdess_dir, 7)


def _close(ours: np.ndarray, oracle: np.ndarray, rel: float) -> None:
    """Agreement to ``rel`` of the oracle's largest magnitude."""
    assert ours.shape == oracle.shape
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=rel * np.abs(oracle).max())


@pytest.mark.parametrize(("n_fft", "hop", "win_length", "center"),
                         [(2048, 512, None, True), (512, 160, 400, True), (1024, 256, None, False)])
def test_stft_power_matches_librosa(signal, n_fft, hop, win_length, center):
    oracle = np.abs(librosa.stft(signal, n_fft=n_fft, hop_length=hop, win_length=win_length,
                                 center=center)) ** 2
    ours = fd.stft_power(signal, n_fft, hop, center=center, win_length=win_length)
    assert ours.dtype == np.float32
    _close(ours, oracle, 1e-5)


@pytest.mark.parametrize(("frame_length", "hop"), [(2048, 512), (512, 160), (400, 100)])
def test_zero_crossing_rate_is_exactly_librosas(signal, frame_length, hop):
    oracle = librosa.feature.zero_crossing_rate(signal, frame_length=frame_length,
                                                hop_length=hop)[0]
    np.testing.assert_array_equal(fd.zero_crossing_rate(signal, frame_length, hop), oracle)


def test_zero_crossing_rate_treats_near_zero_as_positive_zero():
    # Exact zeros, values inside librosa's threshold, and sign flips at the edges.
    y = np.array([0.0, 1e-12, -1e-12, 0.5, -0.5, 0.0, -1e-11, 0.2, -0.3, -0.0] * 50,
                 dtype=np.float32)
    oracle = librosa.feature.zero_crossing_rate(y, frame_length=16, hop_length=4)[0]
    np.testing.assert_array_equal(fd.zero_crossing_rate(y, 16, 4), oracle)


def test_rms_matches_librosa_and_energy_is_its_square(signal):
    oracle = librosa.feature.rms(y=signal, frame_length=2048, hop_length=512)[0]
    ours = fd.rms(signal, 2048, 512)
    np.testing.assert_allclose(ours, oracle, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fd.energy(signal, 2048, 512), ours**2, rtol=1e-12)


def test_mfcc_from_mel_of_stft_matches_librosa_mfcc(signal):
    power = fd.stft_power(signal, 2048, 512)
    ours = fd.mfcc(fd.mel_spectrogram(power, SR), n_mfcc=20)
    _close(ours, librosa.feature.mfcc(y=signal, sr=SR), 1e-4)


@pytest.mark.parametrize(("n_mels", "fmin", "fmax"), [(128, 0.0, None), (40, 50.0, 8000.0)])
def test_mel_spectrogram_matches_librosa(signal, n_mels, fmin, fmax):
    power = np.abs(librosa.stft(signal, n_fft=2048, hop_length=512)) ** 2
    oracle = librosa.feature.melspectrogram(S=power, sr=SR, n_mels=n_mels, fmin=fmin, fmax=fmax)
    _close(fd.mel_spectrogram(power, SR, n_mels, fmin, fmax), oracle, 1e-6)


def test_spectral_shape_descriptors_match_librosa(signal):
    magnitude = np.abs(librosa.stft(signal, n_fft=2048, hop_length=512))
    magnitude[:, 3] = 0.0  # a silent frame: librosa leaves it unnormalised
    centroid = fd.spectral_centroid(magnitude, SR)
    _close(centroid, librosa.feature.spectral_centroid(S=magnitude, sr=SR)[0], 1e-6)
    _close(fd.spectral_spread(magnitude, SR),
           librosa.feature.spectral_bandwidth(S=magnitude, sr=SR)[0], 1e-6)
    np.testing.assert_array_equal(fd.spectral_rolloff(magnitude, SR),
                                  librosa.feature.spectral_rolloff(S=magnitude, sr=SR)[0])
    assert centroid[3] == 0.0


def test_chroma_matches_librosa_at_fixed_tuning(signal):
    power = np.abs(librosa.stft(signal, n_fft=2048, hop_length=512)) ** 2
    oracle = librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0)
    _close(fd.chroma(power, SR), oracle, 1e-5)


def test_chroma_of_a_tone_peaks_at_its_pitch_class():
    power = fd.stft_power(_tone(440.0), 2048, 512)  # A4
    assert set(np.argmax(fd.chroma(power, SR), axis=0)[2:-2]) == {9}


def test_energy_entropy_separates_steady_noise_from_a_click():
    noise = 0.1 * np.random.default_rng(1).standard_normal(8192)
    click = np.zeros(8192)
    click[4096] = 1.0
    steady = fd.energy_entropy(noise, 2048, 512, center=False)
    assert np.all(steady > 0.95 * np.log2(10))
    assert fd.energy_entropy(click, 2048, 512, center=False)[5] == pytest.approx(0.0, abs=1e-9)
    assert np.all(fd.energy_entropy(np.zeros(4096), 2048, 512) == 0.0)
    np.testing.assert_allclose(fd.energy_entropy(3 * noise, 2048, 512, center=False), steady)


def test_spectral_entropy_is_high_for_noise_and_low_for_a_tone():
    noise = np.random.default_rng(2).standard_normal(SR).astype(np.float32)
    noisy = fd.spectral_entropy(fd.stft_power(noise, 2048, 512))
    tonal = fd.spectral_entropy(fd.stft_power(_tone(), 2048, 512))
    assert np.median(noisy) > 0.95 * np.log2(10)
    assert np.median(tonal) < 0.5
    assert fd.spectral_entropy(np.zeros((1025, 4)))[0] == 0.0


def test_spectral_flux_marks_a_change_of_spectrum_not_of_level():
    y = np.concatenate([_tone(300.0, 1.0), _tone(2000.0, 1.0)])
    magnitude = np.sqrt(fd.stft_power(y, 2048, 512))
    flux = fd.spectral_flux(magnitude)
    change = int(round(SR / 512))  # the frame centred at 1 s
    assert flux[0] == 0.0
    assert np.argmax(flux) in range(change - 2, change + 3)
    assert np.median(flux) < 0.01 * flux.max()
    np.testing.assert_allclose(fd.spectral_flux(5 * magnitude), flux, rtol=0,
                               atol=1e-6 * flux.max())


def test_periodicity_is_one_at_the_period_and_small_for_noise():
    sr = 16000
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 200 * t).astype(np.float32)  # period 80 samples
    lags = np.full(1 + sr // 160, 80.0)
    assert np.all(fd.periodicity(tone, lags)[4:-4] > 0.99)
    assert np.all(fd.periodicity(tone, lags / 2)[4:-4] < -0.99)  # half a period: anti-phase
    noise = np.random.default_rng(3).standard_normal(sr).astype(np.float32)
    values = fd.periodicity(noise, lags)
    assert np.abs(values[4:-4]).max() < 0.2
    # Frame 5 by the definition.
    x = fd.frame(noise, 1024, 160)[5].astype(np.float64)
    expected = x[:-80] @ x[80:] / np.sqrt((x[:-80] @ x[:-80]) * (x[80:] @ x[80:]))
    assert values[5] == pytest.approx(expected, rel=1e-5)


def test_frame_counts_follow_librosa():
    y = np.arange(55125, dtype=np.float32)
    assert fd.frame(y, 2048, 512).shape == (108, 2048)
    assert fd.frame(y, 2048, 512, center=False).shape == (1 + (55125 - 2048) // 512, 2048)
    with pytest.raises(ValueError, match="shorter than one frame"):
        fd.frame(y[:100], 2048, 512, center=False)


# --- numpy versions of the librosa functions on the inference path -------------------------------

@pytest.fixture(scope="module")
def voiced():
    """2 s of a gliding harmonic voice with noise and silent edges, peak 1."""
    rng = np.random.default_rng(5)
    t = np.arange(32000) / 16000
    f0 = 120 + 60 * t
    y = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) / k for k in (1, 2, 3))
    y = y * (np.abs(t - 1) < 0.7) + 0.01 * rng.standard_normal(t.size)
    return (y / np.abs(y).max()).astype(np.float32)


def test_yin_matches_librosa(voiced):
    expected = librosa.yin(voiced, fmin=60.0, fmax=600.0, sr=16000, frame_length=1024,
                           hop_length=160)
    np.testing.assert_allclose(fd.yin(voiced, 60.0, 600.0, 16000, 1024, 160), expected,
                               rtol=1e-5)


def test_delta_matches_librosa():
    X = np.random.default_rng(0).standard_normal((20, 57)).astype(np.float32)
    np.testing.assert_allclose(fd.delta(X, 9), librosa.feature.delta(X, width=9, mode="nearest"),
                               atol=1e-6)


@pytest.mark.parametrize("top_db, frame_length, hop", [(40.0, 512, 160), (40.0, 400, 160),
                                                       (20.0, 2048, 512)])
def test_trim_matches_librosa(voiced, top_db, frame_length, hop):
    expected = librosa.effects.trim(voiced, top_db=top_db, frame_length=frame_length,
                                    hop_length=hop)[0]
    np.testing.assert_array_equal(fd.trim(voiced, top_db, frame_length, hop), expected)
    silence = np.zeros(4000, np.float32)     # kept whole, as librosa keeps it
    np.testing.assert_array_equal(fd.trim(silence, top_db, frame_length, hop), librosa.effects.trim(
        silence, top_db=top_db, frame_length=frame_length, hop_length=hop)[0])
    assert fd.trim(silence, top_db, frame_length, hop).size == silence.size


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [(16000, 512, 40, 0.0, None),
                                                           (16000, 512, 64, 0.0, 8000.0),
                                                           (22050, 2048, 128, 30.0, None)])
def test_filter_banks_match_librosa(sr, n_fft, n_mels, fmin, fmax):
    np.testing.assert_allclose(fd._mel_filters(sr, n_fft, n_mels, fmin, fmax),
                               librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels,
                                                   fmin=fmin, fmax=fmax), atol=1e-8)
    np.testing.assert_allclose(fd._chroma_filters(sr, n_fft, 12, 0.0),
                               librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0),
                               atol=1e-7)


def test_dct_and_fast_lengths_match_scipy():
    import scipy.fft

    X = np.random.default_rng(1).standard_normal((40, 30))
    np.testing.assert_allclose(fd._dct_matrix(40, 20) @ X,
                               scipy.fft.dct(X, type=2, norm="ortho", axis=0)[:20], atol=1e-12)
    for n in (1, 2, 7, 100, 257, 1023, 2047, 4097, 12345):
        assert fd._next_fast_len(n) == scipy.fft.next_fast_len(n, real=True)
