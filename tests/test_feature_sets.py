"""Named feature sets: the seed vector against librosa, the others by their contracts."""

from __future__ import annotations

import json
import re

import librosa
import numpy as np
import pytest
import soundfile as sf

from sera.errors import FeatureError, SeraError
from sera.features import descriptors as fd
from sera.features.frames import fit_frames, speech_frames
from sera.features.registry import FEATURE_SETS, get_feature_set
from sera.features.sets import FeatureSet

SR16 = 16000


def _harmonic(freq: float, seconds: float, sr: int = SR16) -> np.ndarray:
    """A voiced-like tone: fundamental plus decaying harmonics."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, 6))
    return (0.2 * y).astype(np.float32)


def _write(path, y: np.ndarray, sr: int = SR16):
    sf.write(path, y, sr, subtype="FLOAT")
    return path


@pytest.fixture
def silence_edged(tmp_path):
    """0.5 s of digital silence, 1 s of a 220 Hz harmonic tone, 0.5 s of silence."""
    silence = np.zeros(SR16 // 2, dtype=np.float32)
    return _write(tmp_path / "edged.wav", np.concatenate([silence, _harmonic(220, 1.0), silence]))


def _seed_oracle(y: np.ndarray) -> np.ndarray:
    """The seed's vector computed by librosa, as the seed computed it."""
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=512)
    mfcc = librosa.feature.mfcc(y=y, sr=22050)
    return np.concatenate([zcr[0], rms[0], np.ravel(mfcc.T)])


def _assert_seed_matches(ours: np.ndarray, oracle: np.ndarray) -> None:
    assert ours.shape == oracle.shape == (2376,)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours[:108], oracle[:108].astype(np.float32))  # ZCR exact
    np.testing.assert_allclose(ours[108:216], oracle[108:216], rtol=1e-5, atol=1e-8)
    mfcc = oracle[216:]
    np.testing.assert_allclose(ours[216:], mfcc, rtol=0, atol=1e-4 * np.abs(mfcc).max())


def test_seed_vector_matches_librosa_on_real_speech(ravdess_dir):
    seed = get_feature_set("seed")
    paths = sorted(ravdess_dir.glob("Actor_*/*.flac"))
    for path in (paths[0], paths[500], paths[-1]):
        y = seed.load(path)
        seed_loader, sr = librosa.load(path, offset=0.6, duration=2.5)  # what the seed ran
        assert sr == seed.sample_rate
        np.testing.assert_allclose(y, seed_loader, rtol=0, atol=1e-6)
        _assert_seed_matches(seed.transform(y), _seed_oracle(y))


def test_seed_vector_of_a_short_tone_is_zero_padded(tone_wav):
    seed = get_feature_set("seed")
    y = seed.load(tone_wav)  # 1.5 s file: 0.9 s after the 0.6 s offset, padded to 2.5 s
    assert y.shape == (55125,)
    assert not y[int(0.95 * 22050):].any()
    x = seed.extract(tone_wav)
    _assert_seed_matches(x, _seed_oracle(y))
    rms = x[108:216]
    assert rms[-5:].max() == 0.0 and rms[:30].min() > 0.1


def test_seed_layout_is_frame_major():
    seed = get_feature_set("seed")
    names = seed.names
    assert len(names) == len(set(names)) == 2376
    assert names[216:219] == ["mfcc_t000_c00", "mfcc_t000_c01", "mfcc_t000_c02"]
    assert names[236] == "mfcc_t001_c00"
    y = _harmonic(300, 2.5, 22050)
    mfcc = fd.mfcc(fd.mel_spectrogram(fd.stft_power(y, 2048, 512), 22050))
    np.testing.assert_allclose(seed.transform(y)[236:256], mfcc[:, 1], rtol=1e-6)


def test_stats_names_and_shape():
    stats = get_feature_set("stats")
    assert len(stats.names) == len(set(stats.names)) == stats.shape[0] == 62 * 8 + 1
    assert {"zcr_mean", "rms_db_p90", "chroma_Cs_std", "mfcc19_slope", "dmfcc00_delta",
            "f0_p50", "f0_iqr", "voiced_fraction"} <= set(stats.names)


def test_stats_trims_silence_and_tracks_pitch(silence_edged):
    stats = get_feature_set("stats")
    y = stats.load(silence_edged)
    assert abs(len(y) / SR16 - 1.0) < 0.05
    values = dict(zip(stats.names, stats.transform(y), strict=True))
    assert values["f0_p50"] == pytest.approx(12 * np.log2(220 / 27.5), abs=0.3)
    assert values["f0_std"] < 0.5
    assert values["voiced_fraction"] > 0.9


def test_stats_of_noise_is_unvoiced_and_finite():
    stats = get_feature_set("stats")
    noise = 0.1 * np.random.default_rng(0).standard_normal(SR16).astype(np.float32)
    x = stats.transform(noise)
    values = dict(zip(stats.names, x, strict=True))
    assert values["voiced_fraction"] < 0.2
    assert np.isfinite(x).all() and x.dtype == np.float32


def test_stats_are_invariant_to_gain(silence_edged):
    stats = get_feature_set("stats")
    y = stats.load(silence_edged)
    y = y + 0.01 * np.random.default_rng(1).standard_normal(y.size).astype(np.float32)
    np.testing.assert_allclose(stats.transform(0.3 * y), stats.transform(y), rtol=1e-3,
                               atol=1e-4)


@pytest.mark.parametrize("seconds", [0.02, 0.3])
def test_stats_of_very_short_clips_are_finite(seconds):
    x = get_feature_set("stats").transform(_harmonic(200, seconds))
    assert x.shape == (497,) and np.isfinite(x).all()


def _bursts(floor_dbfs: float | None) -> np.ndarray:
    """Three voiced bursts with pauses between them, over digital silence or a white floor."""
    pause = np.zeros(SR16 // 2, np.float32)
    y = np.concatenate([0.25 * _harmonic(f, 0.5) * np.hanning(SR16 // 2).astype(np.float32)
                        for f in (140, 180)] + [pause])
    y = np.concatenate([y[:SR16 // 2], pause, y[SR16 // 2:SR16], pause[:SR16 // 3]])
    if floor_dbfs is None:
        return y
    noise = np.random.default_rng(0).standard_normal(y.size).astype(np.float32)
    return y + 10 ** (floor_dbfs / 20) * noise


def test_speech_frames_are_those_above_the_clips_own_floor():
    level = np.array([-80.0, -79, -3, 0, -9, -78, -80, -1])
    np.testing.assert_array_equal(speech_frames(level, 40.0), level > -40)
    # The same speech over a floor 50 dB up: the floor is estimated, not assumed.
    noisy = np.array([-30.0, -29, -3, 0, -9, -29.5, -30, -1])
    np.testing.assert_array_equal(speech_frames(noisy, 40.0), noisy > -20)
    # Fewer than two frames above the floor: every frame, rather than a functional of one.
    assert speech_frames(np.array([-40.0, -40, 0, -40]), 40.0).all()


def test_stats_over_speech_frames_move_less_under_a_noise_floor():
    changes = {}
    for frames in ("all", "speech"):
        fs = get_feature_set("stats", frames=frames)
        clean, noisy = (fs.transform(fs.prepare(_bursts(floor))) for floor in (None, -50))
        changes[frames] = np.median(np.abs(clean - noisy) / (np.abs(clean) + np.abs(noisy)
                                                             + 1e-6))
    # The pauses weigh nothing with speech frames: in the studio they are digital silence,
    # over the floor they are noise, and every all-frame functional sees the difference.
    assert changes["speech"] < 0.8 * changes["all"], changes
    assert get_feature_set("stats").params["frames"] == "all"  # the shipped model's


def test_logmel_pads_short_clips_with_the_floor(silence_edged):
    logmel = get_feature_set("logmel")
    x = logmel.extract(silence_edged)  # about 1 s after trimming: centred in 3 s
    assert x.shape == logmel.shape == (64, 300) and x.dtype == np.float32
    assert np.isfinite(x).all()
    assert x.max() == pytest.approx(0.0, abs=1e-4)
    floor = x.min()
    assert floor >= -80.0
    assert np.all(x[:, :90] == floor) and np.all(x[:, -90:] == floor)
    assert np.any(x[:, 140:160] > floor + 20)


def test_logmel_centre_crops_long_clips():
    logmel = get_feature_set("logmel", duration=1.0)
    y = np.concatenate([_harmonic(150, 1.0), _harmonic(300, 1.0), _harmonic(600, 1.0)])
    x = logmel.transform(y)
    assert x.shape == (64, 100)
    power = fd.stft_power(y, 512, 160, win_length=400)
    mel = fd.mel_spectrogram(power, SR16, 64, 0.0, 8000.0)
    full = fd.power_to_db(mel, ref=mel.max(), top_db=80.0)
    start = (full.shape[1] - 100) // 2
    np.testing.assert_allclose(x, full[:, start:start + 100], rtol=1e-6)


def test_logmel_is_invariant_to_gain():
    logmel = get_feature_set("logmel")
    y = _harmonic(180, 2.0) + 0.01 * np.random.default_rng(2).standard_normal(32000).astype(
        np.float32)
    np.testing.assert_allclose(logmel.transform(0.05 * y), logmel.transform(y), atol=1e-3)


def test_fit_frames_centres_both_ways():
    x = np.arange(10.0)[None, :]
    np.testing.assert_array_equal(fit_frames(x, 4, fill=-1), [[3, 4, 5, 6]])
    np.testing.assert_array_equal(fit_frames(x[:, :3], 6, fill=-1), [[-1, 0, 1, 2, -1, -1]])


def test_egemaps_gives_88_finite_functionals(silence_edged):
    egemaps = get_feature_set("egemaps")
    x = egemaps.extract(silence_edged)
    assert x.shape == egemaps.shape == (88,) and x.dtype == np.float32
    assert np.isfinite(x).all()
    assert "F0semitoneFrom27.5Hz_sma3nz_amean" in egemaps.names
    f0 = x[egemaps.names.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
    assert f0 == pytest.approx(12 * np.log2(220 / 27.5), abs=1.0)


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_transform_is_pure_and_float32(name):
    if name == "egemaps":
        pytest.importorskip("opensmile")
    fs = get_feature_set(name)
    y = _harmonic(200, 1.2, fs.sample_rate)
    copy = y.copy()
    first, second = fs.transform(y), fs.transform(y)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(y, copy)
    assert first.shape == fs.shape and first.dtype == np.float32 and np.isfinite(first).all()


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_config_round_trips_through_json(name):
    fs = get_feature_set(name)
    config = json.loads(json.dumps(fs.to_config()))
    assert FeatureSet.from_config(config) == fs
    assert get_feature_set(config) == fs
    assert get_feature_set(fs) == fs


def test_params_are_typed_so_equal_settings_are_equal_configs():
    assert get_feature_set("logmel", duration=3) == get_feature_set("logmel")
    changed = get_feature_set({"name": "seed", "params": {}}, duration=3)
    assert changed.params["duration"] == 3.0 and changed.shape == ((2 + 20) * 130,)


def test_bad_names_params_and_versions_are_one_line_errors():
    with pytest.raises(FeatureError, match="unknown feature set 'mfcc'; choose one of seed, stats"):
        get_feature_set("mfcc")
    with pytest.raises(SeraError, match="no parameter 'n_fft2'"):
        get_feature_set("seed", n_fft2=1)
    config = get_feature_set("stats").to_config()
    config["version"] = 99
    with pytest.raises(FeatureError, match="version 99") as info:
        FeatureSet.from_config(config)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "params", "problem"), [
    ("stats", {"n_fft": 0}, "stats n_fft must be a positive number, not 0"),
    ("stats", {"hop": -160}, "stats hop must be a positive number, not -160"),
    ("stats", {"n_mels": 0}, "stats n_mels must be a positive number"),
    ("stats", {"f0_min": 600.0, "f0_max": 60.0}, "stats f0_min (600.0) must be below f0_max"),
    ("stats", {"f0_max": 9000.0}, "stats f0_max must be a number from 0 to 8000"),
    ("stats", {"voicing_threshold": 1.5}, "voicing_threshold must be a number from 0 to 1"),
    ("stats", {"sample_rate": 0}, "stats sample_rate must be a number from 1 to 192000"),
    ("stats", {"n_fft": "big"}, "stats n_fft must be int, not 'big'"),
    ("stats", {"n_fft": 512.5}, "stats n_fft must be int, not 512.5"),
    ("stats", {"hop": True}, "stats hop must be int, not True"),
    ("logmel", {"win_length": 1024}, "logmel win_length (1024) must not exceed n_fft (512)"),
    ("logmel", {"fmin": 8000.0}, "logmel fmin (8000.0) must be below fmax"),
    ("logmel", {"duration": 0.0}, "logmel duration must be a positive number"),
    ("seed", {"offset": -0.1}, "seed offset must be a number of at least 0"),
    ("seed", {"n_mfcc": 0}, "seed n_mfcc must be a positive number"),
    ("compare", {"trim_db": float("nan")}, "compare trim_db must be a positive number"),
])
def test_parameters_out_of_range_are_refused_before_any_work(name, params, problem):
    with pytest.raises(FeatureError, match=re.escape(problem)):
        get_feature_set(name, **params)


def test_parameters_in_range_are_kept_and_whole_floats_become_ints():
    fs = get_feature_set("stats", n_fft=1024.0, hop=80, f0_min=50.0, f0_max=8000.0)
    assert fs.params["n_fft"] == 1024 and isinstance(fs.params["n_fft"], int)
    assert get_feature_set("logmel", win_length=512, fmin=20.0).shape == (64, 300)


def test_check_name_refuses_a_misspelt_part_without_building_sets():
    from sera.features.registry import check_name

    assert check_name("compare+stats") == "compare+stats"
    assert check_name("hf:facebook/wav2vec2-base") == "hf:facebook/wav2vec2-base"
    with pytest.raises(FeatureError, match="unknown feature set 'stast'; choose one of seed"):
        check_name("compare+stast")


@pytest.mark.parametrize("name", ["stats", "logmel", "seed"])
def test_prepare_treats_an_array_like_the_file_it_came_from(tmp_path, name):
    from sera import audio

    fs = get_feature_set(name)
    sr = fs.sample_rate
    t = np.arange(int(3.5 * sr)) / sr
    y = np.zeros_like(t)
    speech = (t > 0.8) & (t < 2.9)  # silence around a voiced stretch, like a real clip
    y[speech] = 0.4 * np.sin(2 * np.pi * 180 * t[speech] * (1 + 0.1 * t[speech]))
    y += 1e-4 * np.random.default_rng(0).standard_normal(t.size)
    path = tmp_path / "clip.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="FLOAT")
    from_file = fs.extract(path)
    from_array = fs.transform(fs.prepare(audio.load(path, sr=sr)))
    assert np.allclose(from_file, from_array, atol=1e-5)
    if name != "seed":  # trimming removed the silence, so the untrimmed array differs
        assert not np.allclose(fs.transform(audio.load(path, sr=sr)), from_file, atol=1e-3)


def test_combined_sets_concatenate_their_parts_and_round_trip(tone_wav):
    combined = get_feature_set("stats+egemaps")
    stats, egemaps = get_feature_set("stats"), get_feature_set("egemaps")
    assert combined.name == "stats+egemaps"
    assert combined.shape == (stats.shape[0] + egemaps.shape[0],)
    assert combined.names[0] == f"stats:{stats.names[0]}"
    assert len(combined.names) == combined.shape[0]
    x = combined.extract(tone_wav)
    np.testing.assert_allclose(x, np.concatenate([stats.extract(tone_wav),
                                                  egemaps.extract(tone_wav)]), rtol=1e-6)
    again = get_feature_set(json.loads(json.dumps(combined.to_config())))
    assert again == combined and again.name == "stats+egemaps"


def test_a_combined_sets_parameters_go_to_the_parts_that_take_them():
    both = get_feature_set("compare+stats", trim_db=30.0, frames="speech")
    compare, stats = both.parts
    assert compare.params == {"sample_rate": 16000, "trim_db": 30.0}
    assert stats.params["trim_db"] == 30.0 and stats.params["frames"] == "speech"
    assert get_feature_set(both.to_config()) == both
    with pytest.raises(FeatureError, match="'compare\\+stats' has no parameter 'frmaes'"):
        get_feature_set("compare+stats", frmaes="speech")


def test_combined_sets_refuse_patches_and_single_sets():
    with pytest.raises(SeraError, match="only vector feature sets"):
        get_feature_set("stats+logmel")
    with pytest.raises(SeraError, match="two sets or more"):
        get_feature_set({"name": "combined", "params": {"sets": ["stats"]}})


# --- openSMILE through its native library -------------------------------------------------------

def _speech_or_synthetic(ravdess_dir_or_none, count: int = 3) -> list[np.ndarray]:
    """A few real clips (peak below 1), or seeded synthetic voiced sounds without the data."""
    if ravdess_dir_or_none is not None:
        paths = sorted(ravdess_dir_or_none.glob("Actor_0[3-5]/*.flac"))[::23][:count]
        return [0.9 * (y := sf.read(p, dtype="float32")[0]) / np.abs(y).max() for p in paths]
    rng = np.random.default_rng(3)
    t = np.arange(int(2.0 * 16000)) / 16000
    return [(0.5 * np.sin(2 * np.pi * f0 * t * (1 + 0.05 * np.sin(3 * t)))
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32) for f0 in (110, 180, 240)]


@pytest.fixture(scope="module")
def speech(request):
    try:
        directory = request.getfixturevalue("ravdess_dir")
    except pytest.skip.Exception:
        directory = None
    return _speech_or_synthetic(directory)


@pytest.mark.parametrize("feature_set", ["ComParE_2016", "eGeMAPSv02"])
def test_opensmile_driver_equals_opensmile_smile(speech, feature_set):
    opensmile = pytest.importorskip("opensmile")
    from sera.features import smile

    oracle = opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                             feature_level=opensmile.FeatureLevel.Functionals)
    assert smile.feature_names(feature_set) == list(oracle.feature_names)
    for y in speech:     # one instance, reset between signals, gives each signal's own values
        expected = oracle.process_signal(y, 16000).to_numpy(dtype=np.float32)[0]
        np.testing.assert_array_equal(smile.functionals(y, feature_set, 16000), expected)


def test_opensmile_instances_are_per_thread():
    from concurrent.futures import ThreadPoolExecutor

    from sera.features import smile

    here = smile.extractor("eGeMAPSv02", 16000)
    with ThreadPoolExecutor(1) as pool:
        there = pool.submit(smile.extractor, "eGeMAPSv02", 16000).result()
    assert here is smile.extractor("eGeMAPSv02", 16000) and there is not here


def test_a_peak_of_exactly_plus_one_does_not_wrap(speech):
    from sera.features import smile

    y = speech[0].copy()
    loudest = int(np.argmax(np.abs(y)))
    y[loudest] = 1.0                      # peak normalisation gives exactly this
    assert np.frombuffer(smile.to_pcm16(y), np.int16)[loudest] == 32767
    just_below = y.copy()
    just_below[loudest] = 32767 / 32768
    # The set scales y to a peak of exactly 1.0 (it already is) and openSMILE reads 32767.
    expected = smile.functionals(just_below, "ComParE_2016", 16000)
    np.testing.assert_array_equal(get_feature_set("compare").transform(y), expected)
    # What the int16 wrap did: the sample became -32768, a click across many features.
    wrapped = y.copy()
    wrapped[loudest] = -1.0
    changed = ~np.isclose(smile.functionals(wrapped, "ComParE_2016", 16000), expected,
                          rtol=1e-3)
    assert changed.sum() > 100


def test_a_peak_of_exactly_minus_one_is_kept(speech):
    from sera.features import smile

    y = -speech[1].copy()
    loudest = int(np.argmax(np.abs(y)))
    y[loudest] = -1.0
    assert np.frombuffer(smile.to_pcm16(y), np.int16)[loudest] == -32768
    values = get_feature_set("compare").transform(y / np.abs(y).max())
    assert np.isfinite(values).sum() > 0.99 * values.size
    opensmile = pytest.importorskip("opensmile")
    oracle = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                             feature_level=opensmile.FeatureLevel.Functionals)
    np.testing.assert_array_equal(
        values, oracle.process_signal(y, 16000).to_numpy(dtype=np.float32)[0])


@pytest.mark.parametrize("name", ["stats", "logmel", "compare+stats"])
def test_digital_silence_found_as_an_utterance_gives_finite_features(name):
    """A VAD at a low threshold can hand over pure silence: trimming keeps it whole (as
    librosa.effects.trim does) and every set computes finite values of it."""
    fs = get_feature_set(name)
    x = fs.transform(fs.prepare(np.zeros(8000, np.float32)))
    assert x.shape == fs.shape and np.isfinite(x).mean() > 0.99
