"""Hostile input: files and requests made to break sera. Each attack ends in one clear line
(or a 4xx), never a traceback, a 5xx, unbounded memory or a folder skipped without a word."""

from __future__ import annotations

import io
import json
import re
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


# --- the server ------------------------------------------------------------------------------

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def model(ravdess_dir, tmp_path_factory):
    from helpers_infer import real_bundle

    import sera

    return sera.load(real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle"))


@pytest.fixture(scope="module")
def app(model):
    """A guarded app with small export limits."""
    from sera.serve.app import create_app
    from sera.serve.settings import ServeSettings

    return create_app(ServeSettings(workers=1, queue=4, token=TOKEN, max_duration_s=20.0,
                                    max_export_mb=0.25, max_export_segments=5), model=model)


def _call(app, method: str, url: str, **kwargs):
    import asyncio

    import httpx

    async def go():
        # Within the app's lifespan, which makes its inference pool.
        async with app.router.lifespan_context(app) as state:
            async def running(scope, receive, send):
                await app({**scope, "state": dict(state)}, receive, send)

            transport = httpx.ASGITransport(app=running)
            async with httpx.AsyncClient(transport=transport, base_url="http://sera") as client:
                return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


GUARD = {"authorization": f"Bearer {TOKEN}"}


def _analysis(model, segments: int, start: float = 0.0) -> dict:
    scores = dict.fromkeys(model.labels, 1 / len(model.labels))
    return {"path": "talk.wav", "duration": 10.0, "speakers": ["S1"], "adapt": "speaker",
            "segments": [{"start": start + i, "end": start + i + 0.5, "speaker": "S1",
                          "label": model.labels[0], "scores": scores}
                         for i in range(segments)]}


@pytest.mark.parametrize("route", ["/v1/export/json", "/v1/predict", "/v1/analyze"])
def test_the_token_is_checked_before_any_body_is_read(app, route):
    pulled = 0

    async def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield b"{" * 65536

    response = _call(app, "POST", route, content=endless(),
                     headers={"content-type": "application/json"})
    assert "token" in _error(response, 401)
    assert pulled <= 1


def test_the_bomb_is_a_400_from_the_server(app, rate_bomb):
    response = _call(app, "POST", "/v1/predict", content=rate_bomb.read_bytes(),
                     headers={"content-type": "audio/flac", **GUARD})
    assert "sample rate 655350 Hz is beyond the limit" in _error(response, 400)


def test_an_export_body_over_the_limit_is_a_413_as_it_streams_in(app):
    async def big():
        for _ in range(64):
            yield b" " * 65536

    response = _call(app, "POST", "/v1/export/srt", content=big(),
                     headers={"content-type": "application/json", **GUARD})
    assert "larger than the limit of 0.25 MiB" in _error(response, 413)


def test_an_export_with_too_many_segments_is_a_413(app, model):
    response = _call(app, "POST", "/v1/export/csv", json=_analysis(model, 6), headers=GUARD)
    assert "6 utterances, more than the limit of 5" in _error(response, 413)
    assert _call(app, "POST", "/v1/export/csv", json=_analysis(model, 5),
                 headers=GUARD).status_code == 200


def test_an_export_is_parsed_and_formatted_off_the_event_loop(app, model, monkeypatch):
    import threading

    import sera.serve.routes as served

    threads = []

    def recording(*args):
        threads.append(threading.current_thread().name)
        return served_export(*args)

    served_export = served.export_file
    monkeypatch.setattr(served, "export_file", recording)
    assert _call(app, "POST", "/v1/export/json", json=_analysis(model, 2),
                 headers=GUARD).status_code == 200
    assert threads and threads[0].startswith("sera-infer")


@pytest.mark.parametrize("start", [1e308, 1e12, -1.0])
def test_an_srt_export_of_absurd_times_is_refused_not_a_500(app, model, start):
    response = _call(app, "POST", "/v1/export/srt", json=_analysis(model, 1, start),
                     headers=GUARD)
    assert "segments.0.start" in _error(response, 422)


def test_a_deeply_nested_export_body_is_refused(app):
    response = _call(app, "POST", "/v1/export/json", content=b"[" * 100_000,
                     headers={"content-type": "application/json", **GUARD})
    _error(response, 422)


def test_a_multipart_boundary_over_256_characters_is_a_400(app):
    boundary = "b" * 300
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\""
            f"\r\n\r\nRIFF\r\n--{boundary}--\r\n").encode()
    response = _call(app, "POST", "/v1/predict", content=body, headers={
        "content-type": f"multipart/form-data; boundary={boundary}", **GUARD})
    assert "boundary is longer than 256" in _error(response, 400)


def test_a_client_that_disconnects_mid_upload_leaves_one_info_line(app, caplog):
    import asyncio
    import logging

    messages = iter([{"type": "http.request", "body": b"RIFF" + bytes(1000), "more_body": True},
                     {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/predict", "raw_path": b"/v1/predict",
             "query_string": b"", "root_path": "", "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"audio/wav"),
                         (b"authorization", f"Bearer {TOKEN}".encode())]}
    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    lines = [r for r in caplog.records if "client went away" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None


def test_a_client_that_trickles_its_headers_is_cut_off(app):
    import socket
    import threading
    import time

    import uvicorn

    from sera.serve.protocol import protocol_with_header_timeout

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           http=protocol_with_header_timeout(0.3)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        with socket.create_connection(sock.getsockname(), timeout=5) as conn:
            conn.sendall(b"GET /v1/health HTTP/1.1\r\nHost: sera\r\n")
            start = time.monotonic()
            for _ in range(20):                      # a header line every 0.1 s, never done
                time.sleep(0.1)
                try:
                    conn.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
            try:
                closed = conn.recv(100) == b""
            except ConnectionResetError:
                closed = True
        assert closed and time.monotonic() - start < 1.5
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


# --- names of any kind -----------------------------------------------------------------------

def _cli(args: list[str]):
    from typer.testing import CliRunner

    import sera.cli  # noqa: F401  (registers every command)
    from sera.cli._app import app as cli

    return CliRunner().invoke(cli, args, env={"COLUMNS": "400"})


def _error_lines(result) -> list[str]:
    """The error lines of a command, as ``sera`` prints them (``sera.cli.main`` prints a
    SeraError that reaches it as one such line)."""
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    if isinstance(result.exception, SeraError):
        lines.append(f"error: {result.exception}")
    else:
        assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    return lines


@pytest.fixture(scope="module")
def odd_names(ravdess_dir, tmp_path_factory):
    """Good clips under hostile names, and one bad file whose name holds a newline."""
    import os

    folder = tmp_path_factory.mktemp("names")
    good = sorted((ravdess_dir / "Actor_12").glob("*.flac"))[:3]
    names = ["x[/]a.flac", "[draft] a.flac", os.fsdecode(b"\xff.flac")]
    (folder / "x[").mkdir()                          # x[/]a.flac: the file ]a.flac in x[
    for source, name in zip(good, names, strict=True):
        (folder / name).write_bytes(source.read_bytes())
    (folder / "bad\nname.wav").write_text("not audio")
    return folder


def test_predict_shows_any_name_as_it_is_on_one_line(model, odd_names):
    result = _cli(["predict", "--model", str(model.path), str(odd_names)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "x[/]a.flac" in result.output and "[draft] a.flac" in result.output
    assert "\\xff.flac" in result.output
    assert "3 of 4 file(s) classified" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad\\nname.wav" in errors[0] and "not a readable" in errors[0]


def test_predict_json_and_csv_are_valid_utf8_and_name_every_path(model, odd_names):
    import csv
    import json
    import os

    as_json = _cli(["predict", "--model", str(model.path), "--json", str(odd_names)])
    items = json.loads(as_json.stdout_bytes.decode("utf-8"))
    paths = {os.fsencode(item["path"]) for item in items}
    assert paths == {os.fsencode(path) for path in odd_names.rglob("*") if path.is_file()}
    as_csv = _cli(["predict", "--model", str(model.path), "--csv", str(odd_names)])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout_bytes.decode("utf-8"))))
    assert sorted(row["path"].removeprefix(f"{odd_names}/") for row in rows) == sorted(
        ["x[/]a.flac", "[draft] a.flac", "\\xff.flac", "bad\nname.wav"])


def test_analyze_of_a_markup_name_does_not_crash(model, odd_names):
    result = _cli(["analyze", "--model", str(model.path), "--speakers", "1",
                   str(odd_names / "x[/]a.flac")])
    assert result.exit_code == 0, result.output
    assert "x[/]a.flac" in result.output.replace("\n", "")   # the title wraps to the table


def test_a_manifest_names_undecodable_paths_byte_for_byte(odd_names, tmp_path):
    import os

    from sera.corpora import scan, write_manifest

    folder = tmp_path / "happy"
    folder.mkdir()
    name = os.fsdecode(b"\xff.flac")
    (folder / name).write_bytes((odd_names / name).read_bytes())
    out = tmp_path / "manifest.csv"
    result = _cli(["corpus", "scan", str(tmp_path), "--manifest", str(out)])
    assert result.exit_code == 0, result.output
    assert scan(out).manifest["path"].tolist() == [str(folder / name)]
    write_manifest(scan(out).manifest, tmp_path / "again.csv")


# --- folders ---------------------------------------------------------------------------------

@pytest.fixture
def linked_corpus(tmp_path):
    """``happy/`` with two clips, ``sad`` a symbolic link to a folder elsewhere with two
    more, and a link back up the tree (a loop)."""
    root, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    (root / "happy").mkdir(parents=True)
    elsewhere.mkdir()
    for i in range(2):
        sf.write(root / "happy" / f"h{i}.wav", _noise(0.5), SR, subtype="PCM_16")
        sf.write(elsewhere / f"s{i}.wav", _noise(0.5), SR, subtype="PCM_16")
    (root / "sad").symlink_to(elsewhere, target_is_directory=True)
    (root / "happy" / "up").symlink_to(root, target_is_directory=True)
    return root


def test_symlinked_folders_are_followed_once(linked_corpus):
    from sera.corpora import scan

    files, unreadable = audio.audio_files(linked_corpus)
    assert [f.name for f in files] == ["h0.wav", "h1.wav", "s0.wav", "s1.wav"]
    assert unreadable == []
    assert sorted(scan(linked_corpus).manifest["emotion"]) == ["happy"] * 2 + ["sad"] * 2


def test_an_unreadable_folder_is_a_failure_not_a_silent_skip(linked_corpus, model,
                                                             unreadable_folders):
    unreadable_folders("happy")
    files, unreadable = audio.audio_files(linked_corpus)
    assert [f.name for f in files] == ["s0.wav", "s1.wav"]
    assert unreadable == [(str(linked_corpus / "happy"),
                           "cannot read this folder (Permission denied)")]
    result = _cli(["predict", "--model", str(model.path), str(linked_corpus)])
    assert result.exit_code == 1
    assert f"error: {linked_corpus / 'happy'}: cannot read this folder" in result.output


# --- full disks and unwritable outputs -------------------------------------------------------

@pytest.fixture
def small_corpus(tmp_path):
    root = tmp_path / "corpus" / "happy"
    root.mkdir(parents=True)
    for i in range(2):
        sf.write(root / f"c{i}.wav", _noise(0.6), SR, subtype="PCM_16")
    return root.parent


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(small_corpus, tmp_path,
                                                               monkeypatch):
    import errno

    import pyarrow.parquet as pq

    def full(*args, **kwargs):
        open(args[1], "wb").write(b"PAR1")          # a part is written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    out = tmp_path / "out" / "f.parquet"
    result = _cli(["features", str(small_corpus), "--set", "stats", "--out", str(out)])
    assert result.exit_code == 1
    assert _error_lines(result) == [f"error: {out}: cannot write the feature store "
                                    f"(No space left on device (ENOSPC))"]
    assert list(out.parent.iterdir()) == []


def test_a_store_in_an_unwritable_place_is_one_line(small_corpus):
    result = _cli(["features", str(small_corpus), "--set", "stats", "--out", "/proc/x.parquet"])
    assert result.exit_code == 1
    [line] = _error_lines(result)
    assert line.startswith("error: /proc/x.parquet: cannot write the feature store (")


def test_a_plot_in_an_unwritable_place_is_one_line(model, small_corpus):
    clip = next((small_corpus / "happy").iterdir())
    result = _cli(["analyze", "--model", str(model.path), "--speakers", "1", str(clip),
                   "--plot", "/proc/x.png"])
    assert result.exit_code == 1, result.output
    [line] = _error_lines(result)
    assert line.startswith("error: /proc/x.png: cannot write the timeline (")


def test_stale_temporaries_of_dead_runs_are_removed(small_corpus, tmp_path):
    import os
    import subprocess
    import sys

    from sera.corpora import scan
    from sera.features import extract_features

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    out = tmp_path / "f.parquet"
    stale = tmp_path / f".f.parquet.{dead}.tmp"
    live = tmp_path / f".f.parquet.{os.getppid()}.tmp"        # a run still going
    stale.write_bytes(b"half")
    live.write_bytes(b"mine")
    extract_features(scan(small_corpus).manifest, "stats", out=out)
    assert not stale.exists() and live.exists()


# --- odd store metadata ----------------------------------------------------------------------

def _store_with(tmp_path, metadata: bytes | None = None, drop: str | None = None,
                columns: int | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sera.features.store import ROW_COLUMNS

    meta = {"format": "sera-features", "format_version": 1, "feature_set": {"name": "stats"},
            "shape": [2], "failures": []}
    names = [*ROW_COLUMNS, "f0", "f1"][:columns]
    table = pa.table({name: pa.array(["x"]) if name in ROW_COLUMNS else pa.array([1.0])
                      for name in names if name != drop})
    raw = metadata if metadata is not None else json.dumps(meta).encode()
    path = tmp_path / "odd.parquet"
    pq.write_table(table.replace_schema_metadata({b"sera": raw}), path)
    return path



@pytest.mark.parametrize(("store", "problem"), [
    ({"metadata": b"{not json"}, "metadata is not valid JSON"),
    ({"metadata": b"[1, 2]"}, "metadata is not a JSON object"),
    ({"metadata": b"[" * 50_000 + b"]" * 50_000}, "metadata is not"),
    ({"metadata": json.dumps({"format": "sera-features", "format_version": 1}).encode()},
     'no dict "feature_set"'),
    ({"drop": "sha1"}, "sha1 missing"),
    ({"columns": 10}, "1 feature columns, but its shape (2,) needs 2"),
])
def test_odd_store_metadata_is_one_clear_error(tmp_path, store, problem):
    from sera.errors import FeatureError
    from sera.features import read_features

    path = _store_with(tmp_path, **store)
    with pytest.raises(FeatureError, match=re.escape(problem)) as caught:
        read_features(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)

