"""Channel and codec augmentation, recording-condition corruption, robustness curves, and
that features do not depend on the input's sample rate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_infer import real_bundle
from typer.testing import CliRunner

from sera.audio import resample
from sera.augment import (
    Augmenter,
    add_floor,
    add_noise,
    apply_gain,
    coloured_noise,
    crowd_of,
    lossy_round_trip,
    phone_line,
    reverberate,
    telephone_band,
)
from sera.options import CHANNEL_AUGMENTS, SEED_AUGMENTS
from sera.robustness import CONDITIONS, FLOORS, corrupt

SR = 16000


def speechlike(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Broadband noise under a syllable-rate envelope, peak well below 1 (no clipping at +20 dB
    would need peak < 0.1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    envelope = 0.2 + np.sin(2 * np.pi * 4 * t) ** 2
    y = rng.standard_normal(t.size) * envelope
    return (0.02 * y / np.abs(y).max()).astype(np.float32)


def db(power_ratio: float) -> float:
    return float(10 * np.log10(power_ratio))


def power(y) -> float:
    return float(np.mean(np.square(np.asarray(y, dtype=np.float64))))


def high_band_share(y: np.ndarray, sr: int = SR, cutoff: float = 4000.0) -> float:
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    return float(spectrum[np.fft.rfftfreq(y.size, 1 / sr) > cutoff].sum() / spectrum.sum())


def band_levels(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """Power in dB of eight equal bands of 400-3200 Hz."""
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    edges = np.linspace(400, 3200, 9)
    return np.array([10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum())
                     for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


# -- augmentation -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHANNEL_AUGMENTS)
def test_channel_kinds_are_deterministic_keep_length_and_change_the_signal(kind):
    y = speechlike()
    augmenter = Augmenter(kinds=CHANNEL_AUGMENTS, seed=0)
    out = augmenter.augment(y, SR, kind, "/data/a.wav")
    assert out.dtype == np.float32 and out.shape == y.shape
    assert np.array_equal(out, Augmenter(kinds=CHANNEL_AUGMENTS, seed=0)
                          .augment(y, SR, kind, "/data/a.wav"))
    assert not np.allclose(out, y, atol=1e-5)
    assert np.array_equal(y, speechlike()), "the input must not be modified"
    if kind != "bandlimit":  # the telephone band has no random draw
        others = [augmenter.augment(y, SR, kind, f"/data/{k}.wav") for k in "bcd"]
        assert any(not np.array_equal(out, other) for other in others)


def test_the_default_kinds_and_their_parameters_are_the_seeds():
    augmenter = Augmenter()
    assert augmenter.kinds == SEED_AUGMENTS
    assert set(augmenter.params) == {"kinds", "seed", "noise_amplitude", "stretch_rate",
                                     "shift_seconds", "pitch_semitones"}
    assert "snr_db" in Augmenter(kinds=("snr",)).params


def test_bandlimit_removes_the_band_above_4khz():
    y = speechlike()
    assert high_band_share(y) > 0.4  # white-ish: half its energy is above 4 kHz
    out = Augmenter(kinds=("bandlimit",)).augment(y, SR, "bandlimit", "k")
    assert high_band_share(out) < 0.01 * high_band_share(y)
    assert high_band_share(telephone_band(y, 48000), 48000) < 0.01


def test_gain_changes_rms_by_the_decibels_drawn():
    y = speechlike()
    assert db(power(apply_gain(y, 13.0)) / power(y)) == pytest.approx(13.0, abs=1e-3)
    drawn = [db(power(Augmenter(kinds=("gain",)).augment(y, SR, "gain", k)) / power(y))
             for k in range(8)]
    assert all(-20.0 <= g <= 20.0 for g in drawn)
    assert np.ptp(drawn) > 5.0, "the gain is drawn, not fixed"
    loud = apply_gain(np.full(100, 0.5, np.float32), 20.0)
    assert np.abs(loud).max() == 1.0, "clipped to full scale"


@pytest.mark.parametrize("noise", ["white", "babble"])
@pytest.mark.parametrize("snr", [5.0, 10.0, 20.0])
def test_noise_is_added_at_the_snr_asked(noise, snr):
    y = speechlike()
    out = add_noise(y, snr, noise, seed=3)
    assert db(power(y) / power(out - y)) == pytest.approx(snr, abs=0.05)
    assert np.array_equal(out, add_noise(y, snr, noise, seed=3))


def test_augmented_snr_is_within_the_range():
    y = speechlike()
    augmenter = Augmenter(kinds=("snr",), snr_db=(5.0, 20.0))
    snrs = [db(power(y) / power(augmenter.augment(y, SR, "snr", k) - y)) for k in range(6)]
    assert all(5.0 - 0.05 <= s <= 20.0 + 0.05 for s in snrs)


def test_babble_is_speech_shaped_not_white():
    """Babble made from a low-passed voice keeps its spectrum; white noise does not."""
    y = telephone_band(speechlike(), SR)
    babble_added = add_noise(y, 0.0, "babble", seed=1) - y
    white_added = add_noise(y, 0.0, "white", seed=1) - y
    assert high_band_share(babble_added) < 0.05 < high_band_share(white_added)


@pytest.mark.parametrize("codec", ["mp3", "ogg"])
def test_lossy_round_trip_keeps_the_signal_but_not_exactly(codec):
    t = np.arange(SR) / SR
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 2 * t) ** 2).astype(np.float32)
    out = lossy_round_trip(y, SR, codec, quality=1.0)
    assert out.shape == y.shape
    assert np.corrcoef(out, y)[0, 1] > 0.9, "aligned with the input (no codec delay left)"
    assert not np.allclose(out, y, atol=1e-4)


def test_room_reverberation_rings_into_silence_longer_for_longer_rt60():
    burst = np.zeros(SR, np.float32)
    burst[:800] = speechlike(0.05)
    tails = []
    for rt60 in (0.2, 0.6):
        out = reverberate(burst, SR, rt60, seed=0)
        assert out.shape == burst.shape
        assert power(out) == pytest.approx(power(burst), rel=1e-3)
        tails.append(power(out[int(0.15 * SR):]))
    assert 0 < tails[0] < tails[1]


def test_channel_kinds_feed_the_feature_store_as_training_augmentation(tmp_path):
    """What ``sera train --augment bandlimit,codec,...`` does: one row per file and kind."""
    import pandas as pd
    import soundfile as sf

    from sera.features import extract_features

    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], 10 * speechlike(seed=i), SR)
    augmenter = Augmenter(kinds=CHANNEL_AUGMENTS, seed=0)
    table = extract_features(pd.DataFrame({"path": paths}), "stats", augment=augmenter)
    assert not table.failures
    assert sorted(table.frame["augment"]) == sorted(["none", *CHANNEL_AUGMENTS] * 2)
    rows = table.frame.reset_index(drop=True)
    original = table.X[(rows["path"] == paths[0]) & (rows["augment"] == "none")]
    for kind in CHANNEL_AUGMENTS:
        copy = table.X[(rows["path"] == paths[0]) & (rows["augment"] == kind)]
        assert not np.allclose(copy, original), kind


# -- corruption conditions -------------------------------------------------------------------


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_is_deterministic_and_keeps_length(condition):
    y = speechlike()
    out = corrupt(y, SR, condition, seed=1)
    assert out.shape == y.shape and out.dtype == np.float32
    assert np.array_equal(out, corrupt(y, SR, condition, seed=1))
    assert np.array_equal(out, y) == (condition == "clean")


def test_conditions_do_what_they_say():
    y = speechlike()
    assert db(power(y) / power(corrupt(y, SR, "white-10db") - y)) == pytest.approx(10, abs=0.05)
    assert db(power(y) / power(corrupt(y, SR, "babble-5db") - y)) == pytest.approx(5, abs=0.05)
    assert high_band_share(corrupt(y, SR, "8khz")) < 0.01
    assert db(power(corrupt(y, SR, "gain-20db")) / power(y)) == pytest.approx(-20, abs=1e-3)
    with pytest.raises(ValueError, match="pink-10db"):
        corrupt(y, SR, "pink-10db")


@pytest.mark.parametrize("condition", FLOORS)
def test_a_noise_floor_sits_at_its_absolute_level_whatever_the_speech(condition):
    """``floor-pink-50dbfs`` adds noise of RMS -50 dBFS to a quiet clip and to a loud one alike:
    a floor is the room's and the microphone's, not a ratio to the voice."""
    level = -float(condition.split("-")[2].removesuffix("dbfs"))
    for gain in (1.0, 30.0):
        y = speechlike() * np.float32(gain)
        added = corrupt(y, SR, condition, seed=3) - y
        assert db(power(added)) == pytest.approx(level, abs=0.05)


def test_noise_colours_fall_with_frequency_as_named():
    """White noise is flat, pink falls 10 dB per decade of frequency, brown 20 dB."""
    n = 2**16
    freqs = np.fft.rfftfreq(n, 1 / SR)
    low, high = (freqs > 100) & (freqs < 200), (freqs > 1000) & (freqs < 2000)
    for colour, slope in (("white", 0), ("pink", -10), ("brown", -20)):
        spectrum = np.abs(np.fft.rfft(coloured_noise(n, colour, seed=1))) ** 2
        assert db(spectrum[high].mean() / spectrum[low].mean()) == pytest.approx(slope, abs=1.5)
    np.testing.assert_allclose(power(add_floor(np.zeros(n, np.float32), -60, "brown")), 1e-6,
                               rtol=1e-3)


def test_babble_of_other_speakers_is_mixed_at_the_snr_asked():
    y = speechlike(seed=0)
    crowd = crowd_of([speechlike(0.7, seed=s) for s in (1, 2, 3, 4, 5)], y.size, seed=0)
    for snr in (20, 10, 5):
        mixed = corrupt(y, SR, f"babble-{snr}db", crowd=crowd)
        assert db(power(y) / power(mixed - y)) == pytest.approx(snr, abs=0.01)
    # Other voices, not the clip's own: the added noise is not correlated with the clip.
    added = corrupt(y, SR, "babble-10db", crowd=crowd) - y
    assert abs(np.corrcoef(added, crowd)[0, 1]) > 0.999


@pytest.mark.parametrize("codec", ["ulaw", "mp3", "opus"])
def test_phone_conditions_are_narrowband_and_keep_the_voice(codec):
    y = speechlike(2.0)
    out = corrupt(y, SR, f"phone-{codec}")
    assert high_band_share(out) < 0.02 <= high_band_share(y)
    assert np.array_equal(out, phone_line(y, SR, codec, quality=0.99))
    # What is left is the voice's band: the band-limited clip's spectral envelope survives the
    # codec (perceptual codecs keep the spectrum's shape, not the waveform of noise-like sounds,
    # and low-bitrate Opus loses a few dB overall).
    change = band_levels(out) - band_levels(telephone_band(y, SR))
    assert np.ptp(change) < 2.0 and np.abs(change).mean() < 6.0


def test_rooms_hum_and_offset_do_what_they_say():
    y = speechlike()
    np.testing.assert_allclose((corrupt(y, SR, "dc-offset") - y).mean(), 0.05, rtol=1e-4)
    hum = corrupt(y, SR, "hum-50hz") - y
    spectrum = np.abs(np.fft.rfft(hum)) ** 2
    freqs = np.fft.rfftfreq(hum.size, 1 / SR)
    assert freqs[spectrum.argmax()] == pytest.approx(50, abs=1)
    assert db(power(hum)) == pytest.approx(-45, abs=0.05)
    # A longer RT60 leaves more energy after the clip's onset: the tail outlasts the input.
    impulse = np.zeros(SR, np.float32)
    impulse[0] = 0.5
    tails = [power(corrupt(impulse, SR, f"room-{t}s")[int(0.15 * SR):]) for t in (0.2, 0.5, 0.8)]
    assert tails[0] < tails[1] < tails[2]


def test_floor_and_channel_augmentations_are_seeded_by_clip_and_vary_between_clips():
    y = speechlike()
    augmenter = Augmenter(("floor", "channel"), seed=0)
    for kind in ("floor", "channel"):
        a, b = augmenter.augment(y, SR, kind, "a.wav"), augmenter.augment(y, SR, kind, "b.wav")
        assert np.array_equal(a, augmenter.augment(y, SR, kind, "a.wav"))
        assert not np.array_equal(a, b)
    levels = [db(power(augmenter.augment(np.zeros(SR, np.float32), SR, "floor", f"{i}.wav")))
              for i in range(40)]
    assert -70.1 < min(levels) and max(levels) < -34.9 and max(levels) - min(levels) > 20


def test_channel_copies_are_made_from_the_recording_before_trimming(tmp_path):
    """A floor covers the pauses a file begins and ends with, as it would in a noisy room: the
    store augments the decoded file and trims the copy, not the clean trimmed clip."""
    import pandas as pd
    import soundfile as sf

    from sera.features import extract_features, get_feature_set

    y = np.concatenate([np.zeros(SR, np.float32), speechlike() * 10, np.zeros(SR, np.float32)])
    path = tmp_path / "clip.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    manifest = pd.DataFrame([{"path": str(path), "corpus": "c", "speaker": "s",
                              "gender": "unknown", "emotion": "neutral", "intensity": None,
                              "text": None}])
    fs = get_feature_set("stats")
    augmenter = Augmenter(("floor",), seed=0)
    table = extract_features(manifest, fs, augment=augmenter)
    copy = table.X[(table.frame["augment"] == "floor").to_numpy()][0]
    expected = fs.transform(fs.prepare(augmenter.augment(y, SR, "floor", str(path))))
    np.testing.assert_allclose(copy, expected, rtol=1e-5, atol=1e-6)


def _tone_clips(folder, speakers: dict[str, float], monkeypatch) -> dict[str, str]:
    """One second of a sine per clip, two clips per speaker, at the speaker's frequency:
    ``{path: speaker}``, the paths relative to ``folder`` (made the working directory), so that
    the copies' draws, seeded by the path, are the same in every run."""
    import soundfile as sf

    monkeypatch.chdir(folder)
    t = np.arange(SR) / SR
    crowd = {}
    for speaker, hz in speakers.items():
        for take in range(2):
            path = f"{speaker}-{take}.wav"
            sf.write(path, (0.1 * np.sin(2 * np.pi * hz * t + take)).astype(np.float32), SR,
                     subtype="FLOAT")
            crowd[str(path)] = speaker
    return crowd


def _is_babble(augmenter: Augmenter, y: np.ndarray, key) -> bool:
    # The channel drawn is the first draw of the copy's generator (sera.augment._channel).
    from sera.augment import CHANNELS, _rng

    return CHANNELS[int(_rng(augmenter.seed, key, "channel").integers(len(CHANNELS)))] == "babble"


def test_babble_copies_are_made_of_other_speakers_voices(tmp_path, monkeypatch):
    """With a crowd, a babble copy's noise is the voices of other speakers (their tones), never
    the augmented speaker's own, at an SNR in the augmenter's range; the copy is the same in a
    new augmenter with the crowd in another order; without a crowd, or with a crowd of the
    speaker alone, the babble is the clip's own voice reversed."""
    crowd = _tone_clips(tmp_path, {"a": 440.0, "b": 1000.0, "c": 2500.0}, monkeypatch)
    key = next(path for path, speaker in crowd.items() if speaker == "a")
    y = speechlike(1.0)
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    babbles = [seed for seed in range(90) if _is_babble(Augmenter(("channel",), seed=seed),
                                                        y, key)]
    checked = 0
    for seed in babbles:
        copy = Augmenter(("channel",), seed=seed, crowd=crowd).augment(y, SR, "channel", key)
        spectrum = np.abs(np.fft.rfft(copy - y))
        band = lambda hz, s=spectrum: s[np.abs(freqs - hz) < 3].max()  # noqa: E731
        reordered = Augmenter(("channel",), seed=seed, crowd=dict(reversed(crowd.items())))
        assert np.array_equal(copy, reordered.augment(y, SR, "channel", key))
        tones = np.any([np.abs(freqs - hz) < 5 for hz in (440, 1000, 2500)], axis=0)
        if spectrum[~tones].max() < 1e-4 * spectrum.max():  # no floor (of any colour) drawn
            checked += 1
            # b's and c's tones are the noise; a's own voice is not in a's crowd.
            assert min(band(1000), band(2500)) > 1e4 * np.median(spectrum)
            assert band(440) < 1e-3 * band(1000)
            snr = db(power(y) / power(copy - y))
            assert 5.0 - 0.01 <= snr <= 20.0 + 0.01
    assert len(babbles) >= 20 and checked >= 5
    alone = {key: "a"}
    for seed in babbles[:3]:
        plain = Augmenter(("channel",), seed=seed).augment(y, SR, "channel", key)
        assert np.array_equal(plain, Augmenter(("channel",), seed=seed, crowd=alone).augment(
            y, SR, "channel", key))
        assert not np.array_equal(plain, Augmenter(("channel",), seed=seed, crowd=crowd).augment(
            y, SR, "channel", key))


def test_a_crowd_changes_only_babble_copies_and_the_cache_key(tmp_path, monkeypatch):
    """Floors, rooms and phone lines are the same with or without a crowd; the augmenter's
    params (the feature store's cache key) name the crowd by a digest that changes with it."""
    crowd = _tone_clips(tmp_path, {"a": 440.0, "b": 1000.0}, monkeypatch)
    y = speechlike(1.0)
    with_crowd = Augmenter(("floor", "channel"), seed=0, crowd=crowd)
    plain = Augmenter(("floor", "channel"), seed=0)
    for i in range(30):
        key = f"clip-{i}.wav"
        assert np.array_equal(with_crowd.augment(y, SR, "floor", key),
                              plain.augment(y, SR, "floor", key))
        if not _is_babble(plain, y, key):
            assert np.array_equal(with_crowd.augment(y, SR, "channel", key),
                                  plain.augment(y, SR, "channel", key))
    assert "crowd" not in plain.params
    other = Augmenter(("floor", "channel"), seed=0, crowd={**crowd, "x.wav": "c"})
    assert with_crowd.params["crowd"] != other.params["crowd"]
    assert "crowd" not in Augmenter(("floor",), seed=0, crowd=crowd).params


# -- with a real model -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(ravdess_dir, tmp_path_factory):
    import sera

    return sera.load(real_bundle(ravdess_dir, tmp_path_factory.mktemp("bundle") / "model"))


@pytest.fixture(scope="module")
def held_out(ravdess_dir):
    """Fourteen clips of actors the test model never heard (two per emotion)."""
    from sera.corpora import scan

    manifest = scan(ravdess_dir).manifest
    manifest = manifest[manifest["speaker"].isin(["ravdess-15", "ravdess-16"])]
    return manifest.groupby("emotion").head(2).reset_index(drop=True)


def test_features_and_label_do_not_depend_on_the_input_rate(model, held_out):
    """The same speech at 8 kHz (telephone), 24,414 Hz (TESS) and 48 kHz (studio) is resampled
    to the feature set's own rate and gives nearly the same features, scores and emotion."""
    from sera.audio import load

    std = model.normalizer.std
    decided = 0
    for path in held_out["path"].iloc[:4]:
        # Band-limited first, so that every rate carries the same signal.
        y = telephone_band(load(path, SR), SR)
        reference = model.features(y, SR)
        scores = np.array(list(model.predict(y, SR).scores.values()))
        for rate in (8000, 24414, 48000):
            resampled = resample(y, SR, rate)
            row = model.features(resampled, rate)
            assert np.median(np.abs(row - reference) / std) < 0.05, rate
            prediction = model.predict(resampled, rate)
            moved = np.abs(np.array(list(prediction.scores.values())) - scores).max()
            assert moved < 0.1, (path, rate)
            # Scores moving by less than 0.1 cannot swap a lead of more than 0.2: such a clip
            # must keep its label (a near tie may flip, and is no evidence either way).
            top_two = np.sort(scores)[-2:]
            if top_two[1] - top_two[0] > 0.2:
                decided += 1
                assert prediction.label == model.labels[int(scores.argmax())], (path, rate)
    assert decided >= 3, "too few decided clips to check the labels"


def test_robustness_curve_scores_every_condition(model, held_out):
    from sera.errors import SeraError
    from sera.evaluate import evaluate
    from sera.robustness import robustness_curve

    curve = robustness_curve(model, held_out, ("clean", "white-5db", "gain-20db"),
                             adapt="speaker")
    assert list(curve) == ["clean", "white-5db", "gain-20db"]
    for figures in curve.values():
        assert figures["n"] == len(held_out) and not figures["failures"]
        assert 0.0 <= figures["uar"] <= 1.0
    # Clean input goes the way of ``sera evaluate``: the same figure.
    assert curve["clean"]["uar"] == evaluate(model, held_out, adapt="speaker")["uar"]
    with pytest.raises(SeraError, match="pink"):
        robustness_curve(model, held_out, ("clean", "pink-5db"))


def test_cli_writes_json_and_plot(model, held_out, tmp_path):
    import sera.cli.robustness  # noqa: F401  (registers the command)
    from sera.cli._app import app

    csv = tmp_path / "held_out.csv"
    held_out.to_csv(csv, index=False)
    plot = tmp_path / "curve.png"
    result = CliRunner().invoke(app, ["robustness", str(model.path), str(csv), "--json",
                                      "--conditions", "clean,8khz", "--limit", "7",
                                      "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document["conditions"]) == ["clean", "8khz"]
    assert all(c["n"] == 7 for c in document["conditions"].values())
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_training_gives_a_speakers_copies_groups_of_their_own():
    """At run time a group's clips share one channel: a speaker's floor copies are normalised
    together, apart from the clean clips and from the channel copies."""
    import pandas as pd

    from sera.train import _groups

    frame = pd.DataFrame({"speaker": ["s"] * 6 + ["t"] * 2,
                          "augment": ["none", "none", "floor", "floor", "channel", "channel",
                                      "none", "floor"]})
    assert list(_groups(frame, "speaker")) == ["s", "s", "s\0floor", "s\0floor", "s\0channel",
                                                "s\0channel", "t", "t\0floor"]
    assert _groups(frame, "none") is None


def test_crowd_members_are_other_speakers_seeded_and_only_those_available():
    from sera.augment import CROWD_SIZE
    from sera.robustness import crowd_members

    speakers = np.repeat(["a", "b", "c"], 4)
    members = crowd_members(speakers, seed=1)
    assert sorted(members) == list(range(12))
    for i, crowd in members.items():
        assert len(crowd) == CROWD_SIZE == len(set(crowd.tolist()))
        assert all(speakers[j] != speakers[i] for j in crowd)
    again = crowd_members(speakers, seed=1)
    assert all(np.array_equal(members[i], again[i]) for i in members)
    # Only utterances that can be heard: the rest are no one's crowd and get none.
    available = [0, 1, 4, 8]
    few = crowd_members(speakers, seed=1, available=available)
    assert sorted(few) == available
    assert all(set(crowd.tolist()) <= set(available) - {i} and len(crowd) == 2
               for i, crowd in few.items() if i in (0, 1))
    assert crowd_members(["a", "a"]) == {}
