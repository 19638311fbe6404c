"""Every utterance of a conversation and its emotion: analyze, stream, and the output formats."""

from __future__ import annotations

import csv
import io
import re
import wave

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers_infer import real_bundle
from test_segment import GAPS, TOLERANCE, build_conversation, pick_clips

import sera
from sera.audio import read_pipe
from sera.conversation import label_utterances
from sera.errors import AudioError
from sera.formats import to_csv, to_json, to_srt
from sera.labels import LABELS
from sera.plots import EMOTION_COLORS, plot_timeline, waveform_envelope
from sera.results import Analysis
from sera.segment import FRAME, segment_file

SR = 16000
FRAME_S = FRAME / SR

#: Twelve clips: eight speakers the test model never heard (actors 11-18), four it was trained
#: on; every emotion code.
WANTED = [(11, "05"), (12, "03"), (13, "04"), (14, "06"), (15, "01"), (16, "08"), (17, "07"),
          (18, "02"), (1, "05"), (2, "03"), (3, "04"), (4, "06")]


@pytest.fixture(scope="module")
def model(ravdess_dir, tmp_path_factory):
    return sera.load(real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle"))


@pytest.fixture(scope="module")
def conversation(ravdess_dir, tmp_path_factory):
    """The conversation as a 16 kHz FLAC file, its signal, and the truth ``(start, end)``."""
    gaps = [GAPS[i % len(GAPS)] for i in range(len(WANTED) + 1)]
    y, truth = build_conversation(pick_clips(ravdess_dir, WANTED), gaps)
    path = tmp_path_factory.mktemp("conversation") / "conversation.flac"
    sf.write(path, y, SR, subtype="PCM_16")
    return path, sf.read(path, dtype="float32")[0], [(start, end) for start, end, _ in truth]


@pytest.fixture(scope="module")
def analyzed(model, conversation):
    return model.analyze(conversation[0], adapt="none")


def test_each_utterance_is_found_once_within_tolerance(analyzed, conversation):
    _, _, truth = conversation
    for start, end in truth:
        matches = [s for s in analyzed
                   if abs(s.start - start) <= TOLERANCE and abs(s.end - end) <= TOLERANCE]
        assert len(matches) == 1, (start, end, [(s.start, s.end) for s in analyzed])
    assert len(analyzed) == len(truth)
    assert all(a.end <= b.start for a, b in zip(analyzed, analyzed[1:], strict=False))


def test_labels_agree_with_predict_on_the_isolated_utterances(model, analyzed, conversation):
    # The same speech classified alone (exactly as it was placed in the conversation) and as a
    # segment found by the VAD differs only by the segment's boundaries: 0.1 s of padding
    # (silence or noise) and the VAD's own error, which move the functionals of the edges.
    # Measured: 9 of the 12 labels agree; a clear majority must.
    _, y, truth = conversation
    isolated, _ = model.predict_many([y[round(start * SR):round(end * SR)]
                                      for start, end in truth], sample_rate=SR)
    pairs = [(p.label, s.label) for p, s in zip(isolated, analyzed, strict=True)]
    assert len({label for label, _ in pairs}) >= 3, pairs     # agreement is not trivial
    assert sum(a == b for a, b in pairs) > len(pairs) / 2, pairs


def test_an_array_gives_the_same_segments_as_its_file(model, analyzed, conversation):
    _, y, _ = conversation
    from_array = model.analyze(y, sample_rate=SR, adapt="none")
    assert [(s.start, s.end, s.label) for s in from_array] == [
        (s.start, s.end, s.label) for s in analyzed]


@pytest.mark.parametrize("chunk", [500, 4097])
def test_streaming_in_small_chunks_equals_analyze(model, analyzed, conversation, chunk):
    _, y, _ = conversation
    streamed = list(model.stream((y[i:i + chunk] for i in range(0, y.size, chunk)), SR,
                                 adapt="none"))
    assert len(streamed) == len(analyzed)
    for a, b in zip(streamed, analyzed, strict=True):
        assert abs(a.start - b.start) <= FRAME_S and abs(a.end - b.end) <= FRAME_S
        assert a.label == b.label
        np.testing.assert_allclose(list(a.scores.values()), list(b.scores.values()), atol=1e-5)


def test_stream_at_another_rate_and_as_integer_pcm_finds_the_utterances(model, conversation):
    _, y, truth = conversation
    pcm = (soxr.resample(y, SR, 44100) * 32767).astype(np.int16)
    streamed = list(model.stream((pcm[i:i + 4410] for i in range(0, pcm.size, 4410)), 44100,
                                 adapt="none"))
    for start, end in truth:
        assert sum(abs(s.start - start) <= TOLERANCE and abs(s.end - end) <= TOLERANCE
                   for s in streamed) == 1


def test_a_stereo_integer_stream_is_heard_as_its_float_mono_mix(model, conversation):
    # Integer stereo chunks were once averaged with integer weights (1 // 2 = 0): silence.
    _, y, _ = conversation
    pcm = (y * 16384).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    as_float = list(model.stream((pcm[i:i + 8000] / 32768.0 for i in range(0, pcm.size, 8000)),
                                 SR, adapt="none"))
    as_stereo = list(model.stream((stereo[i:i + 8000] for i in range(0, pcm.size, 8000)), SR,
                                  adapt="none"))
    assert len(as_stereo) == len(as_float) > 0
    assert [s.label for s in as_stereo] == [s.label for s in as_float]


def test_recording_adaptation_uses_the_whole_recordings_statistics(model, conversation):
    path = conversation[0]
    segments = model.analyze(path, batch_size=3, adapt="recording")
    X = np.stack([model.utterance_features(u) for u in segment_file(path)])
    mean, std = model.normalizer.statistics(X)
    expected = model.bundle.predict_proba(((X - mean) / std).astype(np.float32))
    np.testing.assert_allclose([list(s.scores.values()) for s in segments], expected, atol=1e-5)

    # A stream adapts to the utterances heard so far: the first one alone (shrunk toward the
    # training statistics), the last one with all of them, as analyze does.
    streamed = list(model.stream([conversation[1]], SR, adapt="recording"))
    first_mean, first_std = model.normalizer.statistics(X[:1])
    first = model.bundle.predict_proba(((X[:1] - first_mean) / first_std).astype(np.float32))
    np.testing.assert_allclose(list(streamed[0].scores.values()), first[0], atol=1e-5)
    np.testing.assert_allclose(list(streamed[-1].scores.values()), expected[-1], atol=1e-5)
    with pytest.raises(ValueError, match="speaker"):
        list(label_utterances(model, [], adapt="corpus"))


def test_json_document(analyzed, conversation):
    doc = to_json(analyzed)
    assert set(doc) == {"path", "duration", "speakers", "adapt", "segments", "summary"}
    assert doc["path"] == str(conversation[0]) and doc["adapt"] == "none"
    assert doc["duration"] == round(conversation[1].size / SR, 3)
    # Twelve voices: more than one speaker, named in order of first appearance.
    assert doc["speakers"] == [f"S{i}" for i in range(1, len(doc["speakers"]) + 1)]
    assert len(doc["speakers"]) > 1
    assert doc["speakers"] == list(dict.fromkeys(item["speaker"] for item in doc["segments"]))
    for item, segment in zip(doc["segments"], analyzed, strict=True):
        assert set(item) == {"start", "end", "speaker", "label", "scores", "arousal", "valence"}
        assert item["arousal"] == round(segment.arousal, 4)
        assert item["valence"] == round(segment.valence, 4)
        assert item["speaker"] == segment.speaker
        assert item["start"] == round(segment.start, 3) and item["end"] == round(segment.end, 3)
        assert list(item["scores"]) == list(LABELS)


def test_csv_has_a_row_per_utterance_and_a_column_per_label(analyzed):
    rows = list(csv.DictReader(io.StringIO(to_csv(analyzed, LABELS))))
    assert len(rows) == len(analyzed)
    assert list(rows[0]) == ["start", "end", "speaker", "label", "arousal", "valence", *LABELS]
    for row, segment in zip(rows, analyzed, strict=True):
        assert row["speaker"] == segment.speaker
        assert float(row["arousal"]) == pytest.approx(segment.arousal, abs=5e-5)
        assert float(row["valence"]) == pytest.approx(segment.valence, abs=5e-5)
        assert float(row["start"]) == pytest.approx(segment.start, abs=5e-4)
        assert row["label"] == max(LABELS, key=lambda label: float(row[label]))
        assert sum(float(row[label]) for label in LABELS) == pytest.approx(1.0, abs=1e-3)


SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n"
                     r"(S\d+): ([a-z]+) \((\d\.\d\d)\), arousal (\d\.\d\d), valence (\d\.\d\d)\n")


def test_srt_is_valid_subrip(analyzed):
    text = to_srt(analyzed)
    cues = text.split("\n\n")
    assert len(cues) == len(analyzed)
    for number, (cue, segment) in enumerate(zip(cues, analyzed, strict=True), start=1):
        match = SRT_CUE.fullmatch(cue if cue.endswith("\n") else cue + "\n")
        assert match, cue
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups()[1:9])
        assert int(match[1]) == number
        assert h1 * 3600 + m1 * 60 + s1 + ms1 / 1000 == pytest.approx(segment.start, abs=5e-4)
        assert h2 * 3600 + m2 * 60 + s2 + ms2 / 1000 == pytest.approx(segment.end, abs=5e-4)
        assert match[10] == segment.speaker and match[11] == segment.label
        assert float(match[13]) == pytest.approx(segment.arousal, abs=0.005)
    two = Analysis("x.wav", 4000.0, (sera.Segment(3725.5, 3726.25, "sad", {"sad": 0.5}),
                                     sera.Segment(3727.0, 3728.0, "angry", {"angry": 0.83},
                                                  speaker="S2")))
    # Scores of sad (-0.63, -0.27) and angry (-0.51, 0.59) alone: their own circumplex place.
    assert to_srt(two) == ("1\n01:02:05,500 --> 01:02:06,250\nS1: sad (0.50), arousal 0.36, "
                           "valence 0.18\n\n"
                           "2\n01:02:07,000 --> 01:02:08,000\nS2: angry (0.83), arousal 0.79, "
                           "valence 0.24\n")
    assert two.speakers == ["S1", "S2"]


def test_envelope_of_a_file_read_in_blocks_equals_the_arrays(conversation):
    path, y, _ = conversation
    from_file = waveform_envelope(path, 500, block_seconds=0.7)
    from_array = waveform_envelope(y, 500, sample_rate=SR)
    for a, b in zip(from_file, from_array, strict=True):
        np.testing.assert_array_equal(a, b)
    times, low, high = from_array
    assert low.size == high.size == times.size <= 500
    assert low.min() == y.min() and high.max() == y.max()


def test_timeline_plot_colours_each_utterance_by_its_emotion(analyzed, conversation, tmp_path):
    from matplotlib.image import imread

    out = plot_timeline(conversation[0], analyzed, tmp_path / "timeline.png", size=(1200, 400))
    image = imread(out)[..., :3]
    assert image.shape[:2] == (400, 1200)
    for label in {s.label for s in analyzed}:
        # A span is the emotion's colour at alpha 0.35 over white.
        colour = np.array([int(EMOTION_COLORS[label][i:i + 2], 16) / 255 for i in (1, 3, 5)])
        blended = 0.35 * colour + 0.65
        assert (np.abs(image - blended).max(axis=-1) < 0.02).sum() > 500, label


def test_read_pipe_takes_raw_pcm_and_wav_streams(conversation, tmp_path):
    y = conversation[1][:SR]
    pcm = (y * 32767).astype("<i2")
    rate, chunks = read_pipe(io.BufferedReader(io.BytesIO(pcm.tobytes())), sample_rate=8000)
    assert rate == 8000
    np.testing.assert_array_equal(np.concatenate(list(chunks)), pcm / 32768)

    wav = tmp_path / "stereo.wav"
    with wave.open(str(wav), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(np.stack([pcm, pcm // 2], axis=1).tobytes())
    rate, chunks = read_pipe(io.BufferedReader(io.FileIO(wav)))
    assert rate == 22050
    expected = ((pcm.astype(np.float32) + pcm // 2) / 2 / 32768).astype(np.float32)
    np.testing.assert_allclose(np.concatenate(list(chunks)), expected, atol=1e-7)


def test_analyze_errors_name_the_file(model, tmp_path):
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        model.analyze(tmp_path / "missing.wav")
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(AudioError, match="bad.wav: not a readable audio file"):
        model.analyze(tmp_path / "bad.wav")
