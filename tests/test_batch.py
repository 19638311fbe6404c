"""Many recordings: ``sera analyze PATH... --out DIR`` and ``Model.analyze_many``.

Synthetic two-speaker calls of about 8 s (:func:`sera.corpora.synth.dialogue`) and the shipped
default model keep every test to a few seconds; the Dask test starts a LocalCluster (slow).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import sera
import sera.cli.infer  # noqa: F401  (registers the commands)
from sera.batch import AUDIO_SECONDS, RECORDINGS
from sera.batch.outputs import table_figures, write_tables
from sera.batch.resume import INDEX
from sera.cli._app import app
from sera.corpora.synth import dialogue
from sera.errors import AudioError, InputError
from sera.summary import emotion_figures

SR = 16000
CALL_S = 8.0

runner = CliRunner()


def write_call(path: Path, seed: int, seconds: float = CALL_S) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, dialogue(seconds, seed)[0], SR, subtype="PCM_16")
    return path


def invoke(*args):
    return runner.invoke(app, [str(arg) for arg in args])


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope="module")
def model():
    return sera.load()


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    """``calls/a.wav``, ``calls/b.wav``, ``calls/team/c.wav``: three calls, six voices."""
    root = tmp_path_factory.mktemp("batch") / "calls"
    for seed, name in enumerate(("a.wav", "b.wav", "team/c.wav")):
        write_call(root / name, seed)
    return root


@pytest.fixture
def own_calls(calls, tmp_path) -> Path:
    """A copy of the calls this test may change."""
    return Path(shutil.copytree(calls, tmp_path / "calls"))


# --- outputs ---------------------------------------------------------------------------------

def test_batch_files_are_the_bytes_single_file_analyze_prints(calls, tmp_path):
    out = tmp_path / "out"
    result = invoke("analyze", calls, "--out", out, "--csv", "--srt", "--workers", "1",
                    "--speakers", "2")
    assert result.exit_code == 0, result.output
    one = calls / "team" / "c.wav"
    for flag, suffix in (("--json", "json"), ("--csv", "csv"), ("--srt", "srt")):
        single = invoke("analyze", one, flag, "--speakers", "2")
        assert single.exit_code == 0, single.output
        # Single-file analyze computes features on one thread per CPU, a batch worker on one.
        assert (out / "team" / f"c.{suffix}").read_bytes() == single.stdout_bytes, suffix
    assert json.loads((out / "team" / "c.json").read_text())["path"] == str(one)


def test_a_real_conversation_gives_the_same_bytes(ravdess_dir, tmp_path):
    clips = [sf.read(path, dtype="float32")[0] for actor in (13, 14)
             for path in sorted((ravdess_dir / f"Actor_{actor}").glob("*.flac"))[:2]]
    pause = np.zeros(SR // 2, np.float32)
    call = tmp_path / "real.flac"
    sf.write(call, np.concatenate([part for clip in clips[::2] + clips[1::2]
                                   for part in (pause, clip)]), SR, subtype="PCM_16")
    result = invoke("analyze", call, "--out", tmp_path / "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "real.json").read_bytes() == invoke(
        "analyze", call, "--json").stdout_bytes


def test_folders_manifests_and_files_name_outputs_and_fill_the_summary(calls, tmp_path, model):
    lists = tmp_path / "lists"
    write_call(lists / "audio" / "d.flac", 5)
    (lists / "calls.csv").write_text(f"path,agent,queue\naudio/d.flac,ann,billing\n"
                                     f"{calls / 'b.wav'},bob,sales\n")
    lone = write_call(tmp_path / "elsewhere" / "e.wav", 6)
    out = tmp_path / "out"
    found = list(model.analyze_many([calls, lists / "calls.csv", lone], out, workers=1))
    # b.wav, listed by the folder and by the manifest, is analysed once, in first place.
    expected = [str(calls / "a.wav"), str(calls / "b.wav"), str(calls / "team" / "c.wav"),
                str(lists / "audio" / "d.flac"), str(lone)]
    assert [path for path, _ in found] == expected
    outputs = sorted(str(p.relative_to(out)) for p in out.rglob("*.json"))
    assert outputs == ["a.json", "audio/d.json", "b.json", "e.json", "team/c.json"]

    rows = read_csv(out / "summary.csv")
    assert [row["path"] for row in rows] == expected
    assert list(rows[0])[:6] == ["path", "duration", "speakers", "utterances", "speaking_time",
                                 "dominant_emotion"]
    assert list(rows[0])[-3:] == ["agent", "queue", "error"]
    assert [(row["agent"], row["queue"]) for row in rows] == [
        ("", ""), ("", ""), ("", ""), ("ann", "billing"), ("", "")]
    speakers = read_csv(out / "speakers.csv")
    for (path, analysis), row in zip(found, rows, strict=True):
        assert row["error"] == ""
        assert float(row["duration"]) == pytest.approx(analysis.duration, abs=1e-3)
        assert int(row["utterances"]) == len(analysis) > 0
        assert int(row["speakers"]) == len(analysis.speakers)
        shares = {label: float(row[f"share_{label}"]) for label in model.labels}
        assert sum(shares.values()) == pytest.approx(1, abs=1e-3)
        assert row["dominant_emotion"] == max(shares, key=shares.get)
        talk = sum(s.end - s.start for s in analysis)
        assert float(row["speaking_time"]) == pytest.approx(talk, abs=1e-2)
        mine = [r for r in speakers if r["recording"] == path]
        assert [r["speaker"] for r in mine] == analysis.speakers
        assert sum(float(r["speaking_time"]) for r in mine) == pytest.approx(talk, abs=1e-2)
        assert sum(int(r["utterances"]) for r in mine) == len(analysis)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert not (out / "summary.parquet").exists()
    else:
        table = pq.read_table(out / "summary.parquet")
        assert table.column_names == list(rows[0])
        assert table.column("agent").to_pylist()[3] == "ann"


def test_arousal_and_valence_are_averaged_over_speaking_time_when_present(tmp_path):
    segments = [{"start": 0.0, "end": 1.0, "label": "sad", "arousal": 0.2, "valence": 0.3,
                 "speaker": "S1"},
                {"start": 1.0, "end": 4.0, "label": "angry", "arousal": 0.8, "valence": 0.1,
                 "speaker": "S2"}]
    labels = ("angry", "sad")
    figures = table_figures(emotion_figures(segments, labels))
    assert figures["dominant_emotion"] == "angry"
    assert (figures["share_angry"], figures["share_sad"]) == (0.75, 0.25)
    assert figures["mean_arousal"] == pytest.approx(0.65)
    assert figures["mean_valence"] == pytest.approx(0.15)
    plain = [{key: value for key, value in s.items() if key not in ("arousal", "valence")}
             for s in segments]
    assert emotion_figures(plain, labels)["mean_arousal"] is None
    assert "mean_arousal" not in table_figures(emotion_figures(plain, labels))
    write_tables(tmp_path, [{"path": "x", **figures}], [], labels, [])
    assert "mean_arousal" in read_csv(tmp_path / "summary.csv")[0]
    write_tables(tmp_path, [{"path": "x", **table_figures(emotion_figures(plain, labels))}], [],
                 labels, [])
    assert "mean_arousal" not in read_csv(tmp_path / "summary.csv")[0]
    assert emotion_figures([], labels)["dominant_emotion"] is None


# --- bad input -------------------------------------------------------------------------------

def test_a_corrupt_recording_is_one_line_and_one_error_row_and_the_rest_goes_on(own_calls,
                                                                                tmp_path):
    bad = own_calls / "b2.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    out = tmp_path / "out"
    result = invoke("analyze", own_calls, "--out", out, "--workers", "1")
    assert result.exit_code == 1
    naming = [line for line in result.stderr.splitlines() if str(bad) in line]
    assert len(naming) == 1 and naming[0].startswith(f"error: {bad}: "), result.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == [
        "a.json", "b.json", "team/c.json"]
    rows = {row["path"]: row for row in read_csv(out / "summary.csv")}
    assert rows[str(bad)]["error"] and rows[str(bad)]["duration"] == ""
    assert all(row["error"] == "" for path, row in rows.items() if path != str(bad))


def test_bad_arguments_are_one_line(calls, tmp_path):
    result = invoke("analyze", calls / "a.wav", calls / "b.wav")
    assert result.exit_code == 1 and "--out DIR" in result.stderr
    result = invoke("analyze", calls / "a.wav", "--workers", "2")
    assert result.exit_code == 1 and "give --out DIR" in result.stderr
    result = invoke("analyze", calls, "--out", tmp_path / "o", "--plot", tmp_path / "p.png")
    assert result.exit_code == 1 and "--plot" in result.stderr
    twin = write_call(tmp_path / "other" / "a.wav", 7, seconds=2)
    with pytest.raises(InputError, match=r"a\.wav would both be written to .*a\.json"):
        list(sera.load().analyze_many([calls / "a.wav", twin], tmp_path / "o"))
    (tmp_path / "m.csv").write_text("file\nx.wav\n")
    with pytest.raises(sera.errors.CorpusError, match="needs a 'path' column"):
        list(sera.load().analyze_many([tmp_path / "m.csv"], tmp_path / "o"))


# --- resume ----------------------------------------------------------------------------------

def run_counting(model, paths, out, **options) -> tuple[list, SimpleNamespace]:
    """The results of a batch and what its progress reports said: recordings ``done`` in
    the end, of ``total``; ``resumed`` (done by an earlier run: the first report, before any
    work); seconds of audio analysed, ``audio_done_s`` of ``audio_s``; every recordings
    report as ``steps``."""
    reports = []
    results = list(model.analyze_many(paths, out, progress=lambda *call: reports.append(call),
                                      workers=1, **options))
    steps = [(done, total) for what, done, total in reports if what == RECORDINGS]
    audio = [(done, total) for what, done, total in reports if what == AUDIO_SECONDS]
    return results, SimpleNamespace(done=steps[-1][0], total=steps[-1][1], resumed=steps[0][0],
                                    audio_done_s=audio[-1][0], audio_s=audio[-1][1],
                                    steps=steps)


def test_a_rerun_skips_done_work_and_redoes_changed_content_and_options(own_calls, tmp_path,
                                                                        model):
    out = tmp_path / "out"
    first, state = run_counting(model, [own_calls], out)
    assert (state.done, state.resumed) == (3, 0)
    assert state.steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert state.audio_done_s == state.audio_s == pytest.approx(
        sum(analysis.duration for _, analysis in first), abs=1)
    files = tree(out)

    again, state = run_counting(model, [own_calls], out)
    assert (state.done, state.resumed, state.audio_s) == (3, 3, 0)
    assert state.steps == [(3, 3)]
    assert tree(out) == files
    for (_, fresh), (_, read_back) in zip(first, again, strict=True):
        assert [(s.speaker, s.label) for s in read_back] == [(s.speaker, s.label)
                                                             for s in fresh]

    write_call(own_calls / "b.wav", 9)                 # new content, same name
    _, state = run_counting(model, [own_calls], out)
    assert state.resumed == 2
    assert tree(out)["b.json"] != files["b.json"] and tree(out)["a.json"] == files["a.json"]

    _, state = run_counting(model, [own_calls], out, adapt="none")
    assert state.resumed == 0
    assert json.loads((out / "a.json").read_text())["adapt"] == "none"

    _, state = run_counting(model, [own_calls], out, adapt="none", formats=("srt",))
    assert state.resumed == 0 and (out / "team" / "c.srt").is_file()   # a file not yet made
    _, state = run_counting(model, [own_calls], out, adapt="none", formats=("srt",))
    assert state.resumed == 3


def test_a_half_written_file_is_never_taken_as_done(own_calls, tmp_path, model):
    out = tmp_path / "out"
    run_counting(model, [own_calls], out)
    files = tree(out)
    # Killed while writing a.json: the old file cut short, a temporary one beside it, and a
    # torn line at the end of the index.
    (out / "a.json").write_bytes(files["a.json"][:100])
    (out / ".b.json.partial").write_bytes(files["b.json"][:50])
    (out / "b.json").unlink()
    with open(out / INDEX, "a") as index:
        index.write('{"name": "team/c", "key": "')
    _, state = run_counting(model, [own_calls], out)
    assert state.resumed == 1                          # team/c only
    assert tree(out) == files                          # the temporary file is gone too


def test_kill_9_then_rerun_ends_with_the_files_of_an_uninterrupted_run(tmp_path):
    calls = tmp_path / "calls"
    for seed in range(8):
        write_call(calls / f"call{seed}.wav", seed, seconds=6)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    command = [sys.executable, "-m", "sera", "analyze", str(calls), "--csv", "--workers", "1",
               "--out"]
    subprocess.run([*command, str(whole)], check=True, capture_output=True)

    process = subprocess.Popen([*command, str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Killed once a second recording's file appears: the first is then in the index (one
    # worker enters a recording there before it starts the next), the second may not be.
    while len(list(killed.glob("*.json"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before two outputs appeared"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(killed.glob("*.json")))
    assert 2 <= done < 8, done

    rerun = subprocess.run([*command, str(killed)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    # A recording whose files were in place but not yet in the index is done again.
    resumed = int(re.search(r"(\d+) already done", rerun.stderr).group(1))
    assert done - 1 <= resumed <= done and resumed >= 1, rerun.stderr
    assert tree(killed) == tree(whole)


# --- parallel --------------------------------------------------------------------------------

def test_two_workers_give_the_files_of_one(calls, tmp_path, model):
    one, two = tmp_path / "one", tmp_path / "two"
    list(model.analyze_many([calls], one, workers=1, formats=("csv", "srt")))
    results = list(model.analyze_many([calls], two, workers=2, formats=("csv", "srt")))
    assert [path for path, _ in results] == sorted(str(p) for p in calls.rglob("*.wav"))
    assert tree(two) == tree(one)


def test_a_dask_worker_with_another_model_refuses(calls):
    from sera.batch.work import AnalyzeOptions, _analyze_on_dask_worker

    with pytest.raises(sera.errors.BundleError, match="model is not the client's"):
        _analyze_on_dask_worker(None, "0" * 64, AnalyzeOptions(), (0, str(calls / "a.wav")))


@pytest.mark.slow
def test_dask_local_gives_the_files_of_one_worker(calls, tmp_path, model):
    pytest.importorskip("distributed")
    one, on_dask = tmp_path / "one", tmp_path / "dask"
    list(model.analyze_many([calls], one, workers=1))
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    results = list(model.analyze_many([calls, bad], on_dask, dask="local"))
    assert isinstance(results[-1][1], AudioError) and str(bad) in str(results[-1][1])
    files = tree(on_dask)
    # The tables have the error row; the recordings' files are the same.
    assert {k: v for k, v in files.items() if not k.startswith(("summary", "speakers"))} == {
        k: v for k, v in tree(one).items() if not k.startswith(("summary", "speakers"))}


def test_an_unreadable_folder_is_an_error_row_not_a_silent_skip(own_calls, tmp_path,
                                                                unreadable_folders):
    unreadable_folders("team")
    out = tmp_path / "out"
    result = invoke("analyze", own_calls, "--out", out, "--workers", "1", "--speakers", "2")
    assert result.exit_code == 1
    assert f"{own_calls / 'team'}: cannot read this folder" in result.output
    rows = {row["path"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert rows[str(own_calls / "team")]["error"].startswith("cannot read this folder")
    assert rows[str(own_calls / "a.wav")]["error"] == ""
    assert (out / "a.json").is_file() and (out / "b.json").is_file()


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(own_calls, tmp_path,
                                                              monkeypatch):
    import errno
    from pathlib import Path

    real = Path.write_bytes

    def full(self, data):
        if self.name.endswith(".json.partial"):
            real(self, data[:10])          # a part is written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "out"
    result = invoke("analyze", own_calls, "--out", out, "--workers", "1", "--speakers", "2")
    # A SeraError reaching sera.cli.main is printed as one "error: ..." line, exit status 1.
    assert isinstance(result.exception, sera.errors.SeraError), result.exception
    assert str(result.exception) == (f"{out / 'a.json'}: cannot write (No space left on "
                                     f"device (ENOSPC))")
    assert [p.name for p in out.rglob("*.partial")] == []


def test_a_recording_named_like_markup_is_reported_as_named(tmp_path):
    out = tmp_path / "out"
    bad = tmp_path / "calls" / "[draft] x[bold].wav"
    bad.parent.mkdir()
    bad.write_text("not audio")
    result = invoke("analyze", bad.parent, "--out", out, "--workers", "1")
    assert result.exit_code == 1
    assert f"error: {bad}: " in result.output
