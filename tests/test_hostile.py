"""Hostile input: files and requests made to break sera. Each attack ends in one clear line
(or a 4xx), never a traceback, a 5xx, unbounded memory or a folder skipped without a word."""

from __future__ import annotations

import io
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sera import audio
from sera.errors import AudioError, SeraError

SR = 16000


def _noise(seconds: float, rate: int = SR, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32)


# --- bounded decoding ------------------------------------------------------------------------

@pytest.fixture
def rate_bomb(tmp_path):
    """The red team's FLAC in small: 655,350 Hz and 8 channels (its header is the attack)."""
    path = tmp_path / "bomb.flac"
    sf.write(path, np.zeros((6553, 8), np.int16), 655350, subtype="PCM_16", format="FLAC")
    return path


@pytest.fixture
def channel_bomb(tmp_path):
    path = tmp_path / "many.wav"
    sf.write(path, _noise(0.5, 8000, audio.MAX_CHANNELS + 1), 8000, subtype="PCM_16")
    return path


def test_load_refuses_a_rate_beyond_the_limit_from_the_header(rate_bomb, monkeypatch):
    monkeypatch.setattr(audio, "read_mono", _never)
    with pytest.raises(AudioError, match="sample rate 655350 Hz is beyond the limit of 192000"):
        audio.load(rate_bomb)


def test_load_refuses_too_many_channels(channel_bomb, monkeypatch):
    monkeypatch.setattr(audio, "read_mono", _never)
    with pytest.raises(AudioError, match="33 channels is beyond the limit of 32"):
        audio.load(channel_bomb)


def test_streamed_readers_refuse_the_bomb_too(rate_bomb):
    from sera.plots import waveform_envelope
    from sera.segment import segment_file

    with pytest.raises(AudioError, match="sample rate"):
        audio.mono_blocks(rate_bomb, 1.0)
    with pytest.raises(AudioError, match="sample rate"):
        next(segment_file(rate_bomb))
    with pytest.raises(AudioError, match="sample rate"):
        waveform_envelope(rate_bomb, 100)


def test_load_refuses_longer_than_max_duration_by_default(tmp_path, monkeypatch):
    path = tmp_path / "long.flac"
    sf.write(path, _noise(audio.MAX_DURATION + 1, 1000), 1000, subtype="PCM_16")
    monkeypatch.setattr(audio, "read_mono", _never)
    with pytest.raises(AudioError, match="too long"):
        audio.load(path)


def test_a_header_that_understates_the_length_reads_one_frame_past_the_limit(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _noise(2.0), SR, subtype="PCM_16")
    with sf.SoundFile(path) as file, pytest.raises(AudioError, match="too long"):
        audio.read_mono(file, path, -1, most=SR)
    with sf.SoundFile(path) as file:
        assert audio.read_mono(file, path, -1, most=3 * SR).shape == (2 * SR,)


def test_many_channels_are_downmixed_a_block_at_a_time(tmp_path):
    path = tmp_path / "wide.wav"
    sf.write(path, np.zeros((120 * SR, 8), np.int16), SR, subtype="PCM_16")
    whole = 120 * SR * 8 * 4                         # float32 frames x channels
    tracemalloc.start()
    try:
        with sf.SoundFile(path) as file:
            y = audio.read_mono(file, path, -1, most=130 * SR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.shape == (120 * SR,)
    assert peak < whole / 3, f"peak {peak / 2**20:.1f} MiB for a {whole / 2**20:.0f} MiB file"


def test_load_gives_the_same_signal_as_before(tmp_path):
    """Block-wise decoding changes nothing: a window of a stereo file equals soundfile's."""
    path = tmp_path / "stereo.wav"
    sf.write(path, _noise(3.0, 22050, 2), 22050, subtype="PCM_24")
    expected = sf.read(path, start=11025, stop=11025 + 44100, dtype="float32")[0].mean(axis=1)
    got = audio.load(path, sr=None, offset=0.5, duration=2.0)
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def _never(*args, **kwargs):
    raise AssertionError("the file was decoded although its header is beyond the limits")


# --- fuzzing audio headers -------------------------------------------------------------------

def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, _noise(0.3), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _flac_bytes() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, _noise(0.3, channels=2), SR, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


SEEDS = {"wav": _wav_bytes(), "flac": _flac_bytes()}


@settings(max_examples=60, deadline=2000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(SEEDS)),
       edits=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 4000)),
       field=st.one_of(st.none(), st.tuples(st.sampled_from([22, 24, 28, 40]),
                                            st.integers(0, 2**32 - 1))))
def test_broken_headers_only_ever_raise_sera_errors(tmp_path, kind, edits, cut, field):
    data = bytearray(SEEDS[kind])
    for offset, value in edits:
        data[offset] = value
    if field is not None and kind == "wav":           # a WAV header's sizes, rate, channels
        offset, value = field
        data[offset:offset + 4] = struct.pack("<I", value)
    if cut is not None:
        data = data[:cut]
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(bytes(data))
    try:
        y = audio.load(path, allow_silence=True)
    except SeraError as err:
        assert "\n" not in str(err)
    else:
        assert y.dtype == np.float32 and y.ndim == 1
