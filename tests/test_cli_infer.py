"""``sera predict``, ``analyze`` (json, csv, srt, plot, stream), ``listen`` and ``export``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_infer import real_bundle
from test_segment import build_conversation, pick_clips
from typer.testing import CliRunner

import sera
import sera.cli.infer  # noqa: F401  (registers the commands until sera.cli imports it)
from sera.cli._app import app
from sera.labels import LABELS, affect

SR = 16000

#: Runs the ``sera`` command with this module's commands registered, as a new process.
SERA = [sys.executable, "-c", "import sera.cli.infer; from sera.cli import main; main()"]

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle_dir(ravdess_dir, tmp_path_factory) -> Path:
    return real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle")


@pytest.fixture(scope="module")
def model(bundle_dir):
    return sera.load(bundle_dir)


@pytest.fixture(scope="module")
def corpus(ravdess_dir, tmp_path_factory) -> Path:
    """A small RAVDESS-layout folder: eight clips of each of actors 14 and 15."""
    root = tmp_path_factory.mktemp("corpus")
    for actor in (14, 15):
        folder = root / f"Actor_{actor}"
        folder.mkdir()
        for clip in sorted((ravdess_dir / f"Actor_{actor}").glob("*.flac"))[::8]:
            (folder / clip.name).symlink_to(clip)
    return root


@pytest.fixture(scope="module")
def conversation(ravdess_dir, tmp_path_factory) -> Path:
    """Six utterances of six speakers with gaps of silence and noise, as 16 kHz FLAC."""
    y, _ = build_conversation(pick_clips(ravdess_dir))
    path = tmp_path_factory.mktemp("call") / "call.flac"
    sf.write(path, y, SR, subtype="PCM_16")
    return path


def invoke(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


# --- predict ---------------------------------------------------------------------------------

def test_predict_json_lists_results_and_failures_and_exits_1(bundle_dir, corpus, tmp_path,
                                                            model):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    one = sorted(corpus.glob("Actor_14/*.flac"))[0]
    result = invoke("predict", "--model", bundle_dir, one, corpus, bad, "--json")
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    files = [str(one), *map(str, sorted(corpus.rglob("*.flac"))), str(bad)]
    assert [item["path"] for item in items] == files
    assert items[-1] == {"path": str(bad), "error": items[-1]["error"]}
    assert "not a readable audio file" in items[-1]["error"]
    expected, _ = model.predict_many(files[:-1])
    for item, prediction in zip(items, expected, strict=False):
        assert set(item) == {"path", "label", "scores", "arousal", "valence"}
        assert item["arousal"] == round(prediction.arousal, 4)
        assert item["label"] == prediction.label
        assert list(item["scores"]) == list(LABELS)
    failure_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert failure_lines == [f"error: {bad}: {items[-1]['error']}"]


def test_predict_csv_and_human_table(bundle_dir, corpus):
    result = invoke("predict", "--model", bundle_dir, corpus, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["path", "label", "arousal", "valence", *LABELS, "error"]
    assert len(rows) == 16
    for row in rows:
        assert row["label"] == max(LABELS, key=lambda label: float(row[label]))
        arousal, valence = affect({label: float(row[label]) for label in LABELS})
        assert float(row["arousal"]) == pytest.approx(arousal, abs=2e-4)
        assert float(row["valence"]) == pytest.approx(valence, abs=2e-4)
        assert row["error"] == ""

    result = invoke("predict", "--model", bundle_dir, corpus)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "16 of 16 file(s) classified" in result.stderr


def test_predict_adapts_per_speaker_from_the_corpus_layout(bundle_dir, corpus, model):
    result = invoke("predict", "--model", bundle_dir, corpus, "--adapt", "speaker", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    files = [item["path"] for item in items]
    speakers = [Path(path).parent.name for path in files]
    expected, _ = model.predict_many(files, adapt="speaker", groups=speakers)
    assert [item["label"] for item in items] == [p.label for p in expected]
    for item, p in zip(items, expected, strict=True):
        assert item["scores"] == pytest.approx(p.scores, abs=1e-4)

    one = sorted(corpus.glob("Actor_14/*.flac"))[0]
    result = invoke("predict", "--model", bundle_dir, one, "--adapt", "speaker")
    assert result.exit_code == 1
    assert "give the corpus folder or a CSV manifest" in result.stderr
    result = invoke("predict", "--model", bundle_dir, corpus, "--adapt", "speaker",
                    "--group-by", "accent")
    assert result.exit_code == 1 and "no column 'accent'" in result.stderr


def test_sera_predict_never_imports_torch(bundle_dir, corpus):
    one = sorted(corpus.glob("Actor_14/*.flac"))[0]
    code = ("import sys; import sera.cli.infer; from sera.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code, "predict", "--model", str(bundle_dir),
                          str(one), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["path"] == str(one)


# --- analyze ---------------------------------------------------------------------------------

def test_analyze_bounds_the_speakers_found_and_refuses_contradicting_bounds(bundle_dir,
                                                                          conversation):
    result = invoke("analyze", "--model", bundle_dir, conversation, "--json",
                    "--max-speakers", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["speakers"] == ["S1"]
    result = invoke("analyze", "--model", bundle_dir, conversation, "--min-speakers", "3",
                    "--max-speakers", "2")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: the least number of speakers (3) is more than the most (2)"]


def test_analyze_json_csv_srt_and_plot(bundle_dir, conversation, model, tmp_path):
    expected = model.analyze(conversation)
    result = invoke("analyze", "--model", bundle_dir, conversation, "--json",
                    "--plot", tmp_path / "timeline.png")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"path", "duration", "speakers", "adapt", "segments", "summary"}
    assert doc["path"] == str(conversation) and doc["speakers"] == expected.speakers
    assert doc["duration"] == round(sf.info(conversation).duration, 3)
    assert doc["segments"] == [s.to_dict() for s in expected]
    assert (tmp_path / "timeline.png").stat().st_size > 0

    rows = list(csv.DictReader(io.StringIO(invoke("analyze", "--model", bundle_dir,
                                                  conversation, "--csv").stdout)))
    assert [row["label"] for row in rows] == [s.label for s in expected]
    srt = invoke("analyze", "--model", bundle_dir, conversation, "--srt").stdout
    assert srt.count(" --> ") == len(expected) and srt.startswith("1\n00:00:")

    result = invoke("analyze", "--model", bundle_dir, conversation)
    assert result.stdout == "" and f"{len(expected)} utterance(s)" in result.stderr

    two = json.loads(invoke("analyze", "--model", bundle_dir, conversation, "--json",
                            "--speakers", "2").stdout)
    assert two["speakers"] == ["S1", "S2"] and two["adapt"] == "speaker"
    assert invoke("analyze", "--model", bundle_dir, conversation, "--speakers", "0").exit_code != 0


def test_analyze_segmenter_options_reach_the_segmenter(bundle_dir, conversation):
    default = json.loads(invoke("analyze", "--model", bundle_dir, conversation, "--json",
                                "--adapt", "none").stdout)["segments"]
    # Every gap of the conversation is at most 2 s: a 3 s pause merges everything.
    merged = json.loads(invoke("analyze", "--model", bundle_dir, conversation, "--json",
                               "--adapt", "none", "--min-silence", "3",
                               "--max-utterance", "600").stdout)["segments"]
    assert len(default) == 6 and len(merged) == 1
    result = invoke("analyze", "--model", bundle_dir, conversation, "--threshold", "2")
    assert result.exit_code == 1 and "threshold" in result.stderr
    result = invoke("analyze", "--model", bundle_dir, conversation, "--json", "--srt")
    assert result.exit_code == 1 and "choose one" in result.stderr


def _stream_process(bundle_dir, *options):
    return subprocess.Popen([*SERA, "analyze", "--model", str(bundle_dir), "-", "--stream",
                             "--adapt", "none", *options], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_stream_from_stdin_prints_each_utterance_as_it_ends(bundle_dir, conversation, model):
    expected = [s.to_dict() for s in model.analyze(conversation, adapt="none")]
    y = sf.read(conversation, dtype="float32")[0]
    pcm = (y * 32768).clip(-32768, 32767).astype("<i2").tobytes()
    process = _stream_process(bundle_dir)
    # Send the audio up to 1 s after the first utterance ends and hold the rest back: its line
    # must come out while the pipe is still open.
    first_part = int((expected[0]["end"] + 1.0) * SR) * 2
    process.stdin.write(pcm[:first_part])
    process.stdin.flush()
    first = json.loads(_read_line_within(process, seconds=60))
    process.stdin.write(pcm[first_part:])
    process.stdin.close()
    rest = [json.loads(line) for line in process.stdout.read().decode().splitlines()]
    assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    streamed = [first, *rest]
    key = [(s["start"], s["end"], s["label"]) for s in streamed]
    assert key == [(s["start"], s["end"], s["label"]) for s in expected]
    for a, b in zip(streamed, expected, strict=True):
        assert a["scores"] == pytest.approx(b["scores"], abs=2e-4)


def test_stream_from_stdin_reads_a_wav_stream(bundle_dir, conversation, model):
    expected = [s.to_dict() for s in model.stream([sf.read(conversation, dtype="float32")[0]
                                                  [::2]], 8000, adapt="none")]
    wav = io.BytesIO()
    y = sf.read(conversation, dtype="int16")[0][::2]
    sf.write(wav, y, 8000, format="WAV", subtype="PCM_16")
    process = _stream_process(bundle_dir, "--rate", "44100")   # the header's rate wins
    out, errors = process.communicate(wav.getvalue(), timeout=120)
    assert process.returncode == 0, errors.decode()
    streamed = [json.loads(line) for line in out.decode().splitlines()]
    assert [s["label"] for s in streamed] == [s["label"] for s in expected]
    assert [s["start"] for s in streamed] == pytest.approx([s["start"] for s in expected],
                                                           abs=0.033)


def _read_line_within(process, seconds: float) -> bytes:
    """The next stdout line of a process, failing the test if none comes in time."""
    lines = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()))
    reader.start()
    reader.join(seconds)
    if not lines:
        process.kill()
        pytest.fail(f"no line within {seconds} s while the stream stayed open")
    return lines[0]


# --- listen and export -----------------------------------------------------------------------

def test_listen_without_a_microphone_says_so_in_one_line(bundle_dir):
    try:
        import sounddevice
        sounddevice.query_devices(kind="input")
    except (ImportError, OSError, ValueError):
        pass        # no PortAudio, or no input device: what this test is about
    else:
        pytest.skip("this machine has a microphone")
    out = subprocess.run([*SERA, "listen", "--model", str(bundle_dir)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no microphone available" in lines[0], out.stderr
    assert out.stdout == ""


def test_export_writes_a_matching_graph_and_says_what_it_takes(bundle_dir, model, corpus,
                                                               tmp_path):
    import onnxruntime as ort

    result = invoke("export", bundle_dir, "--onnx", tmp_path / "emotion.onnx")
    assert result.exit_code == 0, result.output
    assert f"'{model.feature_set.name}' features" in result.stderr
    session = ort.InferenceSession(str(tmp_path / "emotion.onnx"),
                                   providers=["CPUExecutionProvider"])
    files = sorted(corpus.rglob("*.flac"))[:4]
    X = model.normalizer.transform(np.stack([model.feature_set.extract(f) for f in files]))
    np.testing.assert_allclose(session.run(None, {"features": X})[0],
                               [list(p.scores.values()) for p in model.predict_many(files)[0]],
                               atol=1e-6)
    result = invoke("export", tmp_path / "nowhere", "--onnx", tmp_path / "x.onnx")
    assert result.exit_code != 0 and not (tmp_path / "x.onnx").exists()
