"""Utterance segmentation: silero-vad on onnxruntime, streaming and offline, on real speech."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from itertools import pairwise, product
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr

from sera.audio import load
from sera.errors import AudioError
from sera.segment import (
    _MAX_END_TRIM,
    FRAME,
    SegmenterParams,
    SileroVAD,
    StreamSegmenter,
    segment,
    segment_file,
)

SR = 16000

#: RAVDESS clips range from -62 to -13 dBFS RMS (median -39); the speakers of one recorded
#: conversation sit at one level, so each clip is brought to this one.
SPEECH_DBFS = -25.0

#: The gap before each clip and after the last: (seconds, kind, level in dBFS). Digital silence
#: and white/pink noise 15-25 dB below the speech, the shortest gaps 0.5 s.
GAPS = [(1.0, "silence", None), (0.5, "white", -45.0), (2.0, "silence", None),
        (0.5, "silence", None), (1.2, "pink", -40.0), (0.8, "white", -50.0), (1.0, "pink", -45.0)]

#: One clip per (actor, emotion code): six speakers (three female, three male), six emotions.
CONVERSATION = [(1, "05"), (2, "03"), (3, "04"), (4, "06"), (5, "01"), (6, "08")]

TOLERANCE = 0.3  # seconds, at both ends of each utterance (issue 4)


# --- building a conversation whose truth is known ------------------------------------------

def speech_bounds(y: np.ndarray, top_db: float = 30.0) -> tuple[int, int]:
    """First and last sample of a clip's speech by a simple energy threshold (``top_db`` below
    its loudest 8 ms hop)."""
    start, stop = librosa.effects.trim(y, top_db=top_db, frame_length=512, hop_length=128)[1]
    return int(start), int(stop)


def has_clear_bounds(y: np.ndarray) -> bool:
    """Whether energy alone says where the clip's speech is.

    Some RAVDESS clips hold a breath or a click apart from the sentence, or pause inside it; an
    energy threshold counts those as speech, so their "truth" would be wrong. Clear clips trim
    the same at 30 and 40 dB below their peak (within 0.1 s at both ends) and have no stretch of
    0.2 s below the threshold inside the trimmed part.
    """
    (a30, b30), (a40, b40) = speech_bounds(y, 30.0), speech_bounds(y, 40.0)
    if abs(a30 - a40) > 0.1 * SR or abs(b30 - b40) > 0.1 * SR:
        return False
    rms = librosa.feature.rms(y=y[a30:b30], frame_length=512, hop_length=128)[0]
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-30 / 20))
    return bool(loud.size) and (np.diff(loud).max(initial=1) - 1) * 128 < 0.2 * SR


def pick_clips(ravdess_dir: Path, wanted=CONVERSATION) -> list[Path]:
    """For each ``(actor, emotion)`` the first clip with clear bounds, trying normal intensity
    before strong, statement 1 before 2, repetition 1 before 2."""
    clips = []
    for actor, emotion in wanted:
        candidates = (ravdess_dir / f"Actor_{actor:02d}" /
                      f"03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}.flac"
                      for intensity, statement, repetition in product(("01", "02"), repeat=3))
        clear = (path for path in candidates
                 if path.exists() and has_clear_bounds(sf.read(path, dtype="float32")[0]))
        clip = next(clear, None)
        assert clip is not None, f"no clip with clear bounds for actor {actor}, emotion {emotion}"
        clips.append(clip)
    return clips


def noise(kind: str, n: int, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white or pink (1/f power) noise at ``dbfs`` RMS."""
    x = rng.standard_normal(n)
    if kind == "pink":
        spectrum = np.fft.rfft(x)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
        x = np.fft.irfft(spectrum, n)
    return (x / x.std() * 10 ** (dbfs / 20)).astype(np.float32)


def build_conversation(clips: list[Path], gaps=GAPS, level_dbfs: float = SPEECH_DBFS,
                       seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float, Path]]]:
    """Concatenate trimmed clips with gaps of silence or noise; return the 16 kHz signal and the
    truth, ``(start, end, clip)`` of each clip's speech in seconds.

    ``gaps`` has one more entry than ``clips``: the gap before each clip, then the tail.
    """
    assert len(gaps) == len(clips) + 1
    rng = np.random.default_rng(seed)
    parts, truth, position = [], [], 0
    for clip, (seconds, kind, dbfs) in zip([*clips, None], gaps, strict=True):
        n = int(round(seconds * SR))
        parts.append(np.zeros(n, np.float32) if kind == "silence" else noise(kind, n, dbfs, rng))
        position += n
        if clip is None:
            break
        y = sf.read(clip, dtype="float32")[0]
        start, stop = speech_bounds(y)
        speech = y[start:stop]
        gain = min(10 ** (level_dbfs / 20) / np.sqrt(np.mean(speech ** 2)),
                   0.99 / np.abs(speech).max())
        parts.append((speech * gain).astype(np.float32))
        truth.append((position / SR, (position + speech.size) / SR, clip))
        position += speech.size
    return np.concatenate(parts), truth


@pytest.fixture(scope="module")
def conversation(ravdess_dir):
    return build_conversation(pick_clips(ravdess_dir))


def spans(utterances) -> list[tuple[float, float]]:
    return [(u.start, u.end) for u in utterances]


# --- the detector ---------------------------------------------------------------------------

def test_sequence_model_matches_the_stock_silero_onnx(ravdess_dir):
    """Our batched model gives silero_vad.onnx's own probabilities, fed one frame at a time
    with its 64-sample context and (2, 1, 128) state, as silero's OnnxWrapper does."""
    import importlib.util

    import onnxruntime as ort

    spec = importlib.util.find_spec("silero_vad")
    if spec is None:
        pytest.skip("the silero-vad package (the stock ONNX export) is not installed; it is "
                    "no dependency of sera, whose wheel ships the sequence export")
    package = Path(spec.submodule_search_locations[0])
    stock = ort.InferenceSession(str(package / "data" / "silero_vad.onnx"),
                                 providers=["CPUExecutionProvider"])
    y = sf.read(ravdess_dir / "Actor_07" / "03-01-05-02-01-01-07.flac", dtype="float32")[0]
    y = y[:y.size // FRAME * FRAME]
    state, context, expected = np.zeros((2, 1, 128), np.float32), np.zeros(64, np.float32), []
    for frame in y.reshape(-1, FRAME):
        out, state = stock.run(None, {"input": np.concatenate([context, frame])[None],
                                      "state": state, "sr": np.array(SR, np.int64)})
        expected.append(out[0, 0])
        context = frame[-64:]
    got = SileroVAD().frame_probabilities(y)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert max(expected) > 0.9 and min(expected) < 0.1  # the clip has speech and silence


def test_vad_frame_by_frame_equals_batched_and_reset_restarts(ravdess_dir):
    y = sf.read(ravdess_dir / "Actor_02" / "03-01-03-01-01-01-02.flac", dtype="float32")[0]
    y = y[:40 * FRAME]
    vad = SileroVAD()
    one_by_one = [vad(frame) for frame in y.reshape(-1, FRAME)]
    vad.reset()
    np.testing.assert_array_equal(np.float32(one_by_one), vad.frame_probabilities(y))
    with pytest.raises(ValueError, match="512"):
        vad(y[:100])


# --- real speech ----------------------------------------------------------------------------

def test_conversation_utterances_found_within_tolerance(conversation):
    y, truth = conversation
    found = segment(y)
    for start, end, clip in truth:
        matches = [u for u in found if u.end > start and u.start < end]
        assert len(matches) == 1, f"{clip.name} at {start:.2f}-{end:.2f} s: {spans(matches)}"
        u = matches[0]
        assert abs(u.start - start) <= TOLERANCE, f"{clip.name}: start {u.start:.2f} vs {start:.2f}"
        assert abs(u.end - end) <= TOLERANCE, f"{clip.name}: end {u.end:.2f} vs {end:.2f}"
    assert len(found) == len(truth), "a segment in a gap"


def test_utterances_carry_their_audio_in_order(conversation):
    y, _ = conversation
    found = segment(y)
    for u in found:
        assert u.audio.dtype == np.float32
        a, b = round(u.start * SR), round(u.end * SR)
        np.testing.assert_array_equal(u.audio, y[a:b])
    assert all(a.end <= b.start for a, b in pairwise(found))


@pytest.mark.parametrize("chunk", [100, 512, 1000, 16000])
def test_streaming_in_any_chunk_size_equals_offline(conversation, chunk):
    y, _ = conversation
    offline = segment(y)
    segmenter, streamed = StreamSegmenter(), []
    for start in range(0, y.size, chunk):
        streamed += segmenter.feed(y[start:start + chunk])
    streamed += segmenter.flush()
    assert spans(streamed) == spans(offline)
    for a, b in zip(streamed, offline, strict=True):
        np.testing.assert_array_equal(a.audio, b.audio)


def test_stream_reports_each_utterance_soon_after_it_ends(conversation):
    """Each utterance comes out of ``feed`` once ``min_silence`` follows the VAD's end of it,
    not at the end of the stream. (The reported end may sit up to the VAD's trail in noise
    earlier, and the chunk and frame being fed add their length.)"""
    y, truth = conversation
    params, chunk = SegmenterParams(), 1600
    segmenter, delays = StreamSegmenter(params), []
    for start in range(0, y.size, chunk):
        for u in segmenter.feed(y[start:start + chunk]):
            delays.append((start + chunk) / SR - (u.end - params.speech_pad))
    assert len(delays) == len(truth)
    assert max(delays) <= params.min_silence + (_MAX_END_TRIM + FRAME + chunk) / SR


def test_segmenter_is_reusable_after_flush(conversation):
    y, _ = conversation
    segmenter = StreamSegmenter()
    first = segmenter.feed(y) + segmenter.flush()
    second = segmenter.feed(y) + segmenter.flush()
    assert spans(first) == spans(second) == spans(segment(y))


def test_long_speech_is_split_under_max_utterance(ravdess_dir):
    """25 s of speech without pauses (clear clips back to back) comes out in pieces no longer
    than max_utterance, cut where the rest continues (contiguous pieces), covering the speech."""
    clips = pick_clips(ravdess_dir) * 3
    y, _ = build_conversation(clips, gaps=[(0.0, "silence", None)] * (len(clips) + 1))
    y = y[:25 * SR]
    params = SegmenterParams()
    pieces = segment(y, params=params)
    assert len(pieces) >= 3
    assert all(u.duration <= params.max_utterance for u in pieces)
    assert any(a.end == b.start for a, b in pairwise(pieces)), "no split at max length"
    assert sum(u.duration for u in pieces) >= 0.95 * y.size / SR


def test_short_blip_is_dropped(ravdess_dir):
    """0.1 s of the loudest part of a word: the VAD hears it, min_speech drops it."""
    y = sf.read(ravdess_dir / "Actor_05" / "03-01-05-01-01-01-05.flac", dtype="float32")[0]
    n = int(0.1 * SR)
    energy = np.convolve(y ** 2, np.ones(n), mode="valid")
    loudest = int(np.argmax(energy))
    blip = np.concatenate([np.zeros(SR, np.float32), y[loudest:loudest + n],
                           np.zeros(SR, np.float32)])
    assert len(segment(blip, params=SegmenterParams(min_speech=0.0))) == 1
    assert segment(blip) == []


def test_silence_and_low_noise_give_no_utterances():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(5 * SR, np.float32), noise("white", 5 * SR, -45.0, rng),
                        noise("pink", 5 * SR, -40.0, rng)])
    assert segment(y) == []
    assert segment(np.zeros(0, np.float32)) == []


def test_memory_stays_bounded_on_a_long_stream():
    """Two minutes fed in 1 s chunks: the segmenter keeps no more than a few seconds."""
    import tracemalloc

    rng = np.random.default_rng(0)
    chunk = noise("white", SR, -45.0, rng)
    segmenter = StreamSegmenter()
    tracemalloc.start()
    for _ in range(120):
        segmenter.feed(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * SR * 4  # 10 s of float32; the stream so far is 120 s


# --- files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rate,channels", [(48000, 2), (16000, 1)])
def test_segment_file_matches_segment_of_loaded_file(conversation, tmp_path, rate, channels):
    y, truth = conversation
    signal = soxr.resample(y, SR, rate, quality="HQ") if rate != SR else y
    stereo = np.stack([signal, 0.5 * signal], axis=1)[:, :channels]
    path = tmp_path / f"conversation-{rate}.wav"
    sf.write(path, stereo, rate, subtype="FLOAT")
    expected = segment(load(path))
    streamed = list(segment_file(path, block_seconds=1.0))
    assert len(streamed) == len(expected) == len(truth)
    for a, b in zip(streamed, expected, strict=True):
        assert abs(a.start - b.start) <= FRAME / SR and abs(a.end - b.end) <= FRAME / SR


def test_segment_file_on_original_48k_stereo_release(ravdess_original_dir):
    path = ravdess_original_dir / "Actor_01" / "03-01-02-01-01-02-01.wav"
    assert sf.info(path).channels == 2
    expected = segment(load(path))
    streamed = list(segment_file(path, block_seconds=0.5))
    assert len(streamed) == len(expected) == 1
    assert abs(streamed[0].start - expected[0].start) <= FRAME / SR
    assert abs(streamed[0].end - expected[0].end) <= FRAME / SR


def test_segment_file_memory_stays_bounded(tmp_path):
    """A minute of 48 kHz stereo read in 1 s blocks: the peak of allocations stays far below
    the whole file as float32 (23 MB); one block is 0.4 MB."""
    import tracemalloc

    rng = np.random.default_rng(0)
    path = tmp_path / "noise.wav"
    with sf.SoundFile(path, "w", 48000, 2, subtype="PCM_16") as f:
        for _ in range(60):
            f.write(np.stack([noise("pink", 48000, -45.0, rng)] * 2, axis=1))
    SileroVAD()  # the model session is loaded once per process, outside the count
    tracemalloc.start()
    assert list(segment_file(path, block_seconds=1.0)) == []
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 60 * 48000 * 2 * 4 / 8


def test_segment_file_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        list(segment_file(tmp_path / "missing.wav"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    with pytest.raises(AudioError, match="bad.wav"):
        list(segment_file(bad))


# --- input checks ---------------------------------------------------------------------------

def test_bad_input_is_refused():
    segmenter = StreamSegmenter()
    with pytest.raises(ValueError, match="1-D float"):
        segmenter.feed(np.zeros((100, 2), np.float32))
    with pytest.raises(ValueError, match="1-D float"):
        segmenter.feed(np.zeros(100, np.int16))
    with pytest.raises(AudioError, match="NaN"):
        segmenter.feed(np.full(100, np.nan, np.float32))
    with pytest.raises(ValueError, match="16000 Hz"):
        segment(np.zeros(100, np.float32), sr=8000)


@pytest.mark.parametrize("bad", [dict(threshold=0.0), dict(threshold=0.5, neg_threshold=0.6),
                                 dict(min_silence=-1.0), dict(max_utterance=0.1)])
def test_invalid_params_are_refused(bad):
    with pytest.raises(ValueError):
        SegmenterParams(**bad)


def test_neg_threshold_defaults_below_threshold():
    assert SegmenterParams(threshold=0.6).neg_threshold == pytest.approx(0.45)


def test_the_shipped_model_is_silero_vads_own_file_with_its_licence():
    import hashlib
    import importlib.util

    from sera import segment as seg

    shipped = seg.MODEL_PATH
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == seg.MODEL_SHA256
    licence = (shipped.parent / "LICENSE-silero-vad").read_text()
    assert licence.startswith("MIT License") and "Silero Team" in licence
    spec = importlib.util.find_spec("silero_vad")
    if spec is not None:     # the same bytes as silero-vad's wheel, where it is installed
        original = Path(spec.submodule_search_locations[0]) / "data" / shipped.name
        assert original.read_bytes() == shipped.read_bytes()


# --- no torch -------------------------------------------------------------------------------

def test_segmentation_never_imports_torch(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(3 * SR) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from sera.segment import segment, segment_file
        segment(np.zeros(16000, np.float32))
        list(segment_file({str(path)!r}))
        assert "torch" not in sys.modules, "torch was imported"
        assert "silero_vad" not in sys.modules, "silero_vad's package (torch) was imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
