"""The REST API of ``sera serve``: answers equal to the library's, and every kind of bad input,
oversized body and overload answered with a clean JSON error (never a 500, never a crash)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
import soundfile as sf
from fastapi.testclient import TestClient
from helpers_infer import real_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sera
from sera.errors import BundleError, InputError
from sera.formats import to_json
from sera.infer import Model
from sera.plots import EMOTION_COLORS
from sera.segment import SegmenterParams
from sera.serve import (
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    MAX_EXPORT_MB,
    MAX_EXPORT_SEGMENTS,
    MAX_HEADER_BYTES,
)
from sera.serve.app import create_app
from sera.serve.settings import ServeSettings
from sera.serve.uploads import audio_format, clean_filename

#: Limits of the app under test: small, so that oversized bodies and audio stay cheap.
MAX_UPLOAD_MB = 4
MAX_DURATION_S = 20.0

#: A speaker the test model never heard (it is trained on actors 01-10).
ACTOR = "Actor_12"


# --- fixtures and helpers --------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle_dir(ravdess_dir, tmp_path_factory) -> Path:
    return real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle")


@pytest.fixture(scope="module")
def model(bundle_dir) -> Model:
    return sera.load(bundle_dir)


@pytest.fixture(scope="module")
def app(model):
    return create_app(ServeSettings(max_upload_mb=MAX_UPLOAD_MB, max_duration_s=MAX_DURATION_S,
                                    workers=2, queue=8), model=model)


@pytest.fixture(scope="module")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def clips(ravdess_dir) -> list[Path]:
    return sorted((ravdess_dir / ACTOR).glob("*.flac"))[::12]


@pytest.fixture(scope="module")
def clip(clips) -> Path:
    return clips[0]


@pytest.fixture(scope="module")
def conversation(clips) -> tuple[np.ndarray, int]:
    """Three clips one after the other with 0.7 s of silence between them (16 kHz)."""
    gap = np.zeros(int(0.7 * 16000), np.float32)
    pieces = []
    for path in clips[:3]:
        y, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        pieces += [y, gap]
    return np.concatenate(pieces), 16000


def wav_bytes(y: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, y, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32)


def answer(response: httpx.Response) -> dict:
    """The JSON of a response, parsed strictly: NaN or Infinity in it fails the test."""
    def refuse(constant: str):
        raise AssertionError(f"{constant} in the answer: {response.text[:200]}")

    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text, parse_constant=refuse)


def error_of(response: httpx.Response, status: int) -> str:
    """The one-line error message of a response that must have ``status``."""
    body = answer(response)
    assert response.status_code == status, body
    assert set(body) == {"error"}
    assert body["error"] and "\n" not in body["error"]
    return body["error"]


def post_file(client, name: str, data: bytes, endpoint: str = "predict", **params):
    return client.post(f"/v1/{endpoint}", params=params,
                       files={"file": (name, data, "application/octet-stream")})


def form_body(filename: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart body with ``data`` as the field ``file`` named ``filename`` byte for byte
    (clients escape odd names; a hostile client need not), and its headers."""
    head = (f'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: audio/flac\r\n\r\n").encode()
    return (head + data + b"\r\n--XyZ--\r\n",
            {"content-type": "multipart/form-data; boundary=XyZ"})


@contextmanager
def running_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@asynccontextmanager
async def asgi_client(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls the app in this event loop, within the app's lifespan (which makes
    its inference pool), and streams request bodies lazily."""
    async with app.router.lifespan_context(app) as state:
        async def running(scope, receive, send):
            await app({**scope, "state": dict(state)}, receive, send)

        transport = httpx.ASGITransport(app=running)
        async with httpx.AsyncClient(transport=transport, base_url="http://sera") as client:
            yield client


# --- answers ---------------------------------------------------------------------------------

def test_predict_answers_what_the_library_says(client, model, clip):
    expected = model.predict(clip).to_dict()
    data = clip.read_bytes()
    as_form = post_file(client, clip.name, data)
    as_body = client.post("/v1/predict", content=data, headers={"content-type": "audio/flac"})
    assert as_form.status_code == 200 and as_body.status_code == 200
    assert answer(as_form) == {**expected, "path": clip.name}
    assert answer(as_body) == {**expected, "path": None}
    scores = answer(as_form)["scores"]
    assert list(scores) == list(model.labels)
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("adapt", ["speaker", "recording", "none"])
def test_analyze_answers_what_the_library_says(client, model, conversation, adapt):
    y, rate = conversation
    response = post_file(client, "conversation.wav", wav_bytes(y, rate), "analyze", adapt=adapt)
    assert response.status_code == 200
    decoded, _ = sf.read(io.BytesIO(wav_bytes(y, rate)), dtype="float32")
    analysis = model.analyze(decoded, sample_rate=rate, adapt=adapt)
    assert answer(response) == {**to_json(analysis), "path": "conversation.wav"}
    assert len(answer(response)["segments"]) == 3


def test_analyze_passes_the_segmenter_parameters_on(client, model, conversation):
    y, rate = conversation
    data = wav_bytes(y, rate)
    # The pauses between the clips (about 2.5 s with the clips' own silence) no longer end an
    # utterance, nor does its length: the three clips come out as one.
    merged = answer(post_file(client, "c.wav", data, "analyze", min_silence=5.0,
                              max_utterance=20.0))
    decoded, _ = sf.read(io.BytesIO(data), dtype="float32")
    analysis = model.analyze(decoded, sample_rate=rate,
                             params=SegmenterParams(min_silence=5.0, max_utterance=20.0))
    assert merged == {**to_json(analysis), "path": "c.wav"}
    assert len(merged["segments"]) == 1


def test_health_and_model_describe_the_service(client, model):
    health = answer(client.get("/v1/health"))
    assert health == {"status": "ok", "version": sera.__version__,
                      "model": model.config["model"]["name"], "workers": 2, "queue": 8,
                      "in_flight": 0}
    info = answer(client.get("/v1/model"))
    assert info["labels"] == list(model.labels)
    assert info["colors"] == {label: EMOTION_COLORS[label] for label in model.labels}
    assert info["card"] == model.card
    assert info["metrics"] == json.loads(json.dumps(model.metrics))
    assert info["features"]["name"] == model.feature_set.name
    assert info["limits"] == {"max_upload_mb": MAX_UPLOAD_MB, "max_duration_s": MAX_DURATION_S,
                              "max_export_mb": MAX_EXPORT_MB,
                              "max_export_segments": MAX_EXPORT_SEGMENTS}


def test_the_openapi_schema_documents_bodies_answers_and_errors(client):
    schema = answer(client.get("/openapi.json"))
    assert {"/v1/predict", "/v1/analyze", "/v1/health", "/v1/model"} <= set(schema["paths"])
    for path, answered in (("/v1/predict", "PredictResponse"),
                           ("/v1/analyze", "AnalyzeResponse")):
        operation = schema["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {
            "multipart/form-data", "audio/*", "application/octet-stream"}
        responses = operation["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(answered)
        for status in ("400", "413", "415", "422", "503"):
            assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith(
                "ErrorResponse")
        assert "Retry-After" in responses["503"]["headers"]
    analyze_parameters = {p["name"] for p in schema["paths"]["/v1/analyze"]["post"]["parameters"]}
    assert analyze_parameters == {"adapt", "speakers", "threshold", "min_silence", "min_speech",
                                  "max_utterance", "labels", "min_speakers", "max_speakers"}
    # The docs pages load their assets from this server (the fastapi-offline package).
    for path in ("/docs", "/redoc"):
        docs = client.get(path)
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        assert "img-src 'self' data:" in docs.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert assets and all(asset.startswith("/static-docs/") for asset in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200


def test_the_page_and_everything_it_loads_come_from_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in page.text
        loaded = client.get(asset)
        assert loaded.status_code == 200
        # No CDN: nothing the page loads points anywhere else.
        assert "http://" not in loaded.text and "https://" not in loaded.text
    assert "http://" not in page.text and "https://" not in page.text


def test_serving_never_imports_torch(bundle_dir, clip):
    code = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from sera.serve.app import create_app
        from sera.serve.settings import ServeSettings
        settings = ServeSettings(model_dir={str(bundle_dir)!r}, workers=1)
        with TestClient(create_app(settings)) as client:
            data = open({str(clip)!r}, "rb").read()
            for endpoint in ("predict", "analyze"):
                response = client.post("/v1/" + endpoint, files={{"file": ("c.flac", data)}})
                assert response.status_code == 200, response.text
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


# --- bad uploads -----------------------------------------------------------------------------

def test_an_empty_upload_is_a_400(client):
    assert "empty" in error_of(post_file(client, "empty.wav", b""), 400)
    raw = client.post("/v1/predict", content=b"", headers={"content-type": "audio/wav"})
    assert "empty" in error_of(raw, 400)


def test_a_truncated_wav_is_a_400_or_what_is_left_of_it(client, model):
    data = wav_bytes(tone(2.0))
    assert "not readable audio" in error_of(post_file(client, "cut.wav", data[:30]), 400)
    # Cut inside the samples: 0.1 s is left, less than a clip needs.
    assert "too short" in error_of(post_file(client, "cut.wav", data[:44 + 3200]), 400)
    # Cut later: the second that is left is classified, as any player would play it.
    kept = post_file(client, "cut.wav", data[:44 + 32000])
    assert kept.status_code == 200
    assert answer(kept)["scores"] == model.predict(tone(2.0)[:16000], sample_rate=16000).to_dict()[
        "scores"]


@pytest.mark.parametrize(("name", "data"), [
    ("image.wav", b"\x89PNG\r\n\x1a\n" + bytes(200)),
    ("notes.wav", b"just some text, not audio at all\n" * 10),
    ("clip.webm", bytes.fromhex("1a45dfa3") + bytes(200)),
    ("clip.m4a", b"\x00\x00\x00\x20ftypM4A " + bytes(200)),
])
def test_something_that_is_not_audio_sera_reads_is_a_415(client, name, data):
    assert "not an audio file" in error_of(post_file(client, name, data), 415)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/png", None])
def test_a_body_of_another_content_type_is_a_415(client, clip, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/v1/predict", content=clip.read_bytes(), headers=headers)
    assert "content type" in error_of(response, 415)


@pytest.mark.parametrize(("name", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\clip.wav", "clip.wav"),
    ("/abs/path/to/clip.wav", "clip.wav"),
    ("..", None),
    ("clip\x00\x07.wav", "clip.wav"),
])
def test_a_hostile_file_name_is_only_echoed_cleaned(client, clip, name, shown):
    assert clean_filename(name) == shown
    body, headers = form_body(name, clip.read_bytes())
    response = client.post("/v1/predict", content=body, headers=headers)
    assert response.status_code == 200
    assert answer(response)["path"] == shown
    # The name never reaches the file system: the answer is that of the bytes sent.
    assert answer(response)["label"] == answer(post_file(client, "x.flac", clip.read_bytes()))[
        "label"]


def test_malformed_multipart_bodies_are_answered_cleanly(client, clip):
    data = clip.read_bytes()
    form, multipart = form_body("a.flac", data)
    assert client.post("/v1/predict", content=form, headers=multipart).status_code == 200
    no_boundary = client.post("/v1/predict", content=form,
                              headers={"content-type": "multipart/form-data"})
    assert "boundary" in error_of(no_boundary, 400)
    cut = client.post("/v1/predict", content=form[: len(form) // 2], headers=multipart)
    assert "closing boundary" in error_of(cut, 400)
    garbage = client.post("/v1/predict", content=b"\x00\xff" * 500, headers=multipart)
    assert "multipart" in error_of(garbage, 400)
    other_field = client.post("/v1/predict", files={"audio": ("a.flac", data)})
    assert "'file'" in error_of(other_field, 422)
    two_files = client.post("/v1/predict", files=[("file", ("a.flac", data)),
                                                  ("file", ("b.flac", data))])
    assert "one per request" in error_of(two_files, 422)


def test_audio_over_the_duration_limit_is_a_400(client):
    long = wav_bytes(tone(MAX_DURATION_S + 5, rate=8000), rate=8000)
    assert len(long) < MAX_UPLOAD_MB * 2**20
    for endpoint in ("predict", "analyze"):
        message = error_of(post_file(client, "long.wav", long, endpoint), 400)
        assert "too long" in message and f"{MAX_DURATION_S:g} s" in message


def test_silence_is_a_400_to_predict_and_no_utterances_to_analyze(client):
    silence = wav_bytes(np.zeros(3 * 16000, np.float32))
    assert "silent" in error_of(post_file(client, "silence.wav", silence), 400)
    analyzed = post_file(client, "silence.wav", silence, "analyze")
    assert analyzed.status_code == 200
    body = answer(analyzed)
    assert body == {"path": "silence.wav", "duration": 3.0, "speakers": [],
                    "adapt": "speaker", "segments": [], "summary": body["summary"]}
    assert body["summary"]["speaking_time"] == 0 and body["summary"]["speakers"] == {}
    assert body["summary"]["dominant_emotion"] is None and body["summary"]["peaks"] == []


def test_too_short_audio_is_a_400(client):
    short = wav_bytes(tone(0.1))
    for endpoint in ("predict", "analyze"):
        assert "too short" in error_of(post_file(client, "short.wav", short, endpoint), 400)


def test_answers_are_free_of_nan(client):
    with_nan = tone(1.0)
    with_nan[100] = np.nan
    message = error_of(post_file(client, "nan.wav", wav_bytes(with_nan, subtype="FLOAT")), 400)
    assert "NaN" in message
    # Float WAVs may hold any finite level; whatever the features make of it, the answer is
    # strict JSON (answer() refuses NaN and Infinity) with finite probabilities.
    for level in (1e-3, 1.0, 1e10, 1e30):
        response = post_file(client, "loud.wav", wav_bytes(level * tone(1.0), subtype="FLOAT"))
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            scores = np.array(list(answer(response)["scores"].values()))
            assert np.isfinite(scores).all() and scores.sum() == pytest.approx(1, abs=1e-3)
        else:
            error_of(response, 400)


@pytest.mark.parametrize("query", ["adapt=corpus", "speakers=0", "threshold=0", "threshold=nan",
                                   "min_silence=-1", "max_utterance=abc", "max_utterance=inf"])
def test_bad_parameters_are_a_422(client, clip, query):
    response = client.post(f"/v1/analyze?{query}", files={"file": ("a.flac", clip.read_bytes())})
    assert query.split("=")[0] in error_of(response, 422)


@pytest.mark.parametrize("query, problem", [("min_speakers=4&max_speakers=2", "more than"),
                                            ("speakers=2&min_speakers=2", "not both")])
def test_bounds_on_the_speakers_that_contradict_are_a_422(client, clip, query, problem):
    response = client.post(f"/v1/analyze?{query}", files={"file": ("a.flac", clip.read_bytes())})
    assert problem in error_of(response, 422)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 43), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_a_wav_with_a_damaged_header_is_answered_cleanly(client, edits):
    data = bytearray(wav_bytes(tone(0.6)))
    for position, value in edits:
        data[position] = value
    response = post_file(client, "damaged.wav", bytes(data))
    if response.status_code != 200:
        assert response.status_code in (400, 415)
        error_of(response, response.status_code)


# --- size limits -----------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["audio/wav", "multipart/form-data; boundary=XyZ"])
def test_an_oversized_stream_is_refused_before_it_is_read_whole(app, content_type):
    chunk = 64 * 1024
    limit = MAX_UPLOAD_MB * 2**20
    sent = 0

    async def endless_body():
        nonlocal sent
        head = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        yield head
        for _ in range(10 * limit // chunk):
            sent += chunk
            yield b"RIFF" + bytes(chunk - 4)

    async def post() -> httpx.Response:
        async with asgi_client(app) as client:
            return await client.post("/v1/predict", content=endless_body(),
                                     headers={"content-type": content_type})

    response = asyncio.run(post())
    assert "larger than the limit" in error_of(response, 413)
    assert sent <= limit + chunk


def test_a_declared_oversized_body_is_refused_without_reading_it(app):
    sent = 0

    async def body():
        nonlocal sent
        sent += 1
        yield bytes(1024)

    async def post() -> httpx.Response:
        async with asgi_client(app) as client:
            return await client.post("/v1/predict", content=body(), headers={
                "content-type": "audio/wav", "content-length": str(MAX_UPLOAD_MB * 2**20 + 1)})

    assert "larger than the limit" in error_of(asyncio.run(post()), 413)
    assert sent == 0


def test_uvicorn_answers_413_before_a_huge_body_is_sent(app):
    with running_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: sera\r\nContent-Type: audio/wav\r\n"
                         b"Content-Length: 10000000000\r\nExpect: 100-continue\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += conn.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_nothing_is_written_to_disk(client, model):
    """An upload over python-multipart's 1 MiB spooling threshold stays in memory."""
    data = wav_bytes(tone(MAX_DURATION_S * 0.9, rate=44100), rate=44100)
    assert 2**20 < len(data) < MAX_UPLOAD_MB * 2**20
    # Once first, so that modules imported on first use (and their bytecode caches) are loaded.
    assert post_file(client, "big.wav", data, "analyze").status_code == 200
    opened_for_writing = _watch_writes()
    try:
        assert post_file(client, "big.wav", data).status_code == 200
        assert post_file(client, "big.wav", data, "analyze").status_code == 200
    finally:
        found = list(opened_for_writing)
        opened_for_writing.clear()
        _WATCHING.clear()
    assert found == []


#: While set, every file opened for writing anywhere in this process is recorded.
_WATCHING = threading.Event()
_WRITES: list[str] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


def _watch_writes() -> list[str]:
    if not getattr(_watch_writes, "installed", False):
        def hook(event: str, args: tuple) -> None:
            if _WATCHING.is_set() and event == "open":
                path, mode, flags = args
                if (mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE_FLAGS:
                    _WRITES.append(str(path))

        sys.addaudithook(hook)  # hooks cannot be removed; this one is idle unless watching
        _watch_writes.installed = True
    _WATCHING.set()
    return _WRITES


# --- overload --------------------------------------------------------------------------------

class GatedModel(Model):
    """The test model, holding each prediction while the gate is shut (it is open for the
    app's warm-up)."""

    def __init__(self, bundle):
        super().__init__(bundle)
        self.gate = threading.Event()
        self.gate.set()

    def predict(self, *args, **kwargs):
        assert self.gate.wait(timeout=30)
        return super().predict(*args, **kwargs)


def test_requests_beyond_the_workers_and_the_queue_get_503_then_all_recover(model, clip):
    gated = GatedModel(model.bundle)
    app = create_app(ServeSettings(workers=1, queue=1), model=gated)
    data = clip.read_bytes()

    async def flood() -> tuple[list[httpx.Response], list[httpx.Response], dict]:
        async with asgi_client(app) as client:
            gated.gate.clear()
            tasks = [asyncio.create_task(client.post(
                "/v1/predict", files={"file": ("c.flac", data)})) for _ in range(6)]
            # One runs (held at the gate), one waits; the other four are turned away at once.
            deadline = time.monotonic() + 30
            while sum(task.done() for task in tasks) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            refused = [task.result() for task in tasks if task.done()]
            busy = (await client.get("/v1/health")).json()
            gated.gate.set()
            answered = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
            after = await client.post("/v1/predict", files={"file": ("c.flac", data)})
            idle = (await client.get("/v1/health")).json()
            return refused, [*answered, after], busy, idle

    refused, answered, busy, idle = asyncio.run(flood())
    assert len(refused) == 4
    for response in refused:
        assert "busy" in error_of(response, 503)
        assert response.headers["retry-after"] == "1"
    assert busy["in_flight"] == 2
    # The six of the flood (the four refused among them) and one more once the gate opened.
    assert sorted(r.status_code for r in answered) == [200, 200, 200, 503, 503, 503, 503]
    assert idle["in_flight"] == 0


def test_a_burst_against_a_real_server_gets_only_200_and_503(model, clip):
    app = create_app(ServeSettings(workers=1, queue=2), model=model)
    data = clip.read_bytes()
    statuses: list[int] = []

    def client_thread(url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(3):
                response = http.post("/v1/predict", files={"file": ("c.flac", data)})
                if response.status_code == 503:
                    error_of(response, 503)
                statuses.append(response.status_code)

    with running_server(app) as url:
        threads = [threading.Thread(target=client_thread, args=(url,)) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        health = httpx.get(f"{url}/v1/health").json()
    assert len(statuses) == 36
    assert set(statuses) <= {200, 503} and 200 in statuses
    assert health["status"] == "ok" and health["in_flight"] == 0


# --- the schema, fuzzed ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_request_the_schema_allows_or_forbids_gets_a_server_error(app, mode):
    """schemathesis generates requests from the app's own OpenAPI schema (valid ones, then ones
    that break it); every answer must be a documented status, never a 5xx."""
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    # Raw audio bodies are real WAVs (of any length, rate and level, silence included), so
    # that generated requests reach the model too, not only the checks in front of it.
    schemathesis.openapi.media_type("audio/*", st.builds(
        lambda seconds, rate, level: wav_bytes(level * tone(seconds, rate), rate),
        st.floats(0.0, 3.0), st.sampled_from([8000, 16000, 22050, 44100]), st.floats(0.0, 1.0)))
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 6
    # The GET endpoints take nothing, so nothing about them can break the schema.
    for operation in (o for o in operations if mode == "positive" or o.method.upper() == "POST"):
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(GenerationMode(mode)))
        def no_server_error(case):
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()


# --- small pieces ----------------------------------------------------------------------------

def test_audio_format_trusts_the_first_bytes_only(clip):
    assert audio_format(clip.read_bytes()[:16]) == "FLAC"
    assert audio_format(wav_bytes(tone(0.5))[:16]) == "WAV"
    assert audio_format(b"ID3\x04" + bytes(12)) == "MP3"
    assert audio_format(b"\x89PNG\r\n\x1a\n" + bytes(8)) is None
    assert audio_format(b"RIFF\x00\x00\x00\x00AVI ") is None


def test_settings_refuse_limits_that_are_not_positive_in_one_line_naming_each():
    for name, value in (("max_upload_mb", 0), ("max_duration_s", -1), ("workers", 0),
                        ("queue", -1), ("body_timeout_s", 0), ("max_export_segments", 0)):
        with pytest.raises(InputError, match=f"^{name}: Input should be greater than"):
            ServeSettings(**{name: value})
    with pytest.raises(InputError, match="^token: the token is empty$"):
        ServeSettings(token="  ")
    with pytest.raises(InputError, match="^wokers: Extra inputs are not permitted$"):
        ServeSettings(wokers=2)


def test_settings_are_read_from_sera_variables_and_arguments_win(monkeypatch):
    monkeypatch.setenv("SERA_WORKERS", "3")
    monkeypatch.setenv("SERA_MAX_UPLOAD_MB", "2.5")
    monkeypatch.setenv("SERA_CORS_ORIGINS", '["http://a.test"]')
    settings = ServeSettings(workers=1)
    assert (settings.workers, settings.max_upload_mb, settings.cors_origins) == (
        1, 2.5, ["http://a.test"])
    monkeypatch.setenv("SERA_QUEUE", "-2")
    with pytest.raises(InputError, match="^queue: "):
        ServeSettings()


def test_the_token_stays_out_of_the_settings_repr():
    assert "s3cret" not in repr(ServeSettings(token="s3cret"))


def test_each_run_of_the_app_has_its_own_pool_shut_down_at_its_end(model, clip):
    def infer_threads() -> int:
        return sum(thread.name.startswith("sera-infer") for thread in threading.enumerate())

    app = create_app(ServeSettings(workers=2, queue=0), model=model)
    before = infer_threads()
    with TestClient(app) as first:
        with TestClient(app) as second:
            assert second.get("/v1/health").json()["in_flight"] == 0
            assert infer_threads() >= before + 2
        # The other run's pool is gone; this one's still answers.
        assert post_file(first, "c.flac", clip.read_bytes()).status_code == 200
    assert infer_threads() == before


def test_a_bad_argument_the_library_refuses_is_a_422_line(client, clip, monkeypatch):
    import sera.serve.routes as routes

    def refuse(*args):
        raise InputError("threshold must be in (0, 1], got 2")

    monkeypatch.setattr(routes, "predict_upload", refuse)
    response = post_file(client, "c.flac", clip.read_bytes())
    assert error_of(response, 422) == "threshold must be in (0, 1], got 2"


# --- the command -----------------------------------------------------------------------------

def test_sera_serve_runs_uvicorn_on_the_app_it_builds(bundle_dir, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    import sera.cli.serve  # noqa: F401  (registers the command)
    from sera.cli._app import app as cli

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    result = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir), "--port", "8123",
                                      "--workers", "1", "--queue", "3", "--max-upload-mb", "2",
                                      "--max-duration", "30", "--no-access-log"])
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    assert served["access_log"] is False
    with TestClient(served["app"]) as client:
        assert client.get("/v1/model").json()["limits"] == {
            "max_upload_mb": 2, "max_duration_s": 30, "max_export_mb": MAX_EXPORT_MB,
            "max_export_segments": MAX_EXPORT_SEGMENTS}
        assert client.get("/v1/health").json()["workers"] == 1
        assert client.get("/v1/health").json()["queue"] == 3
    assert served["http"].header_timeout == HEADER_TIMEOUT_S
    assert served["timeout_keep_alive"] == KEEP_ALIVE_S
    assert served["h11_max_incomplete_event_size"] == MAX_HEADER_BYTES
    assert served["limit_concurrency"] == MAX_CONNECTIONS

    assert "warning" not in result.output
    # Beyond loopback without a token: a warning. With SERA_TOKEN: the API needs it.
    open_wide = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir), "--host",
                                         "0.0.0.0", "--workers", "1"])
    assert open_wide.exit_code == 0 and "without a token" in open_wide.output
    guarded = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir), "--host", "0.0.0.0",
                                       "--workers", "1"], env={"SERA_TOKEN": "s3cret"})
    assert guarded.exit_code == 0 and "warning" not in guarded.output
    with TestClient(served["app"]) as http:
        assert http.get("/v1/model").status_code == 401
        assert http.get("/v1/model", headers={"authorization": "Bearer s3cret"}).status_code == 200

    # An option not given comes from its SERA_ variable; one given wins over it.
    from_env = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir), "--queue", "3"],
                                  env={"SERA_WORKERS": "2", "SERA_QUEUE": "5",
                                       "SERA_HEADER_TIMEOUT_S": "4"})
    assert from_env.exit_code == 0, from_env.output
    assert "with 2 worker(s)" in from_env.output and served["http"].header_timeout == 4
    with TestClient(served["app"]) as http:
        assert http.get("/v1/health").json()["queue"] == 3

    refused = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir), "--max-duration", "0"])
    assert isinstance(refused.exception, InputError)
    assert str(refused.exception) == "max_duration_s: Input should be greater than 0"
    missing = CliRunner().invoke(cli, ["serve", "--model", str(bundle_dir / "nope")])
    assert isinstance(missing.exception, BundleError)



# --- hardening: uploads that cannot block, plain errors, HEAD, token, CORS -------------------

def _stall(url: str, content_type: str = "audio/wav") -> socket.socket:
    """A connection that sends a request's headers and 100 bytes of a long body, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    start = b"RIFF"
    if content_type.startswith("multipart/"):
        start = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nRIFF'
    conn.sendall(f"POST /v1/predict HTTP/1.1\r\nHost: sera\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: 100000\r\n\r\n".encode() + start.ljust(100, b"\x00"))
    return conn


def _reply(conn: socket.socket) -> bytes:
    reply = b""
    while chunk := conn.recv(4096):
        reply += chunk
    return reply


def test_stalled_uploads_hold_connections_not_workers_and_are_cut_off(model, clip):
    """With one worker and no queue, eight clients that send headers and 100 bytes do not stop
    anyone else; each is answered 408 and disconnected once its body stops arriving."""
    app = create_app(ServeSettings(workers=1, queue=0, body_idle_s=2.0, body_timeout_s=4.0),
                     model=model)
    data = clip.read_bytes()
    with running_server(app) as url:
        started = time.monotonic()
        stalled = [_stall(url, kind) for kind in ["audio/wav", "multipart/form-data; "
                                                  "boundary=XyZ"] * 4]
        with httpx.Client(base_url=url, timeout=30) as http:
            statuses = [http.post("/v1/predict", files={"file": ("c.flac", data)}).status_code
                        for _ in range(3)]
            assert http.get("/v1/health").json()["in_flight"] == 0
        replies = [_reply(conn) for conn in stalled]
        waited = time.monotonic() - started
        for conn in stalled:
            conn.close()
    assert statuses == [200, 200, 200]
    for reply in replies:
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"did not arrive in time" in reply
    assert waited < 20


def test_a_trickling_upload_is_cut_off_at_the_total_limit(model):
    """A byte every half second never trips the idle limit; the total limit still ends it."""
    app = create_app(ServeSettings(workers=1, queue=0, body_idle_s=2.0, body_timeout_s=2.0),
                     model=model)
    with running_server(app) as url:
        conn = _stall(url)
        started = time.monotonic()
        reply = b""
        conn.settimeout(0.5)
        while not reply and time.monotonic() - started < 15:
            try:
                reply = conn.recv(4096)
            except TimeoutError:
                conn.sendall(b"\x00")
        conn.close()
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 10


def test_extreme_finite_amplitudes_are_normalised_alike_in_predict_and_analyze(client,
                                                                               conversation):
    """A float WAV scaled by 1e19 (finite, far beyond full scale) is answered as the same audio
    at full scale, by predict and by analyze (it used to be a ValueError and an empty 200)."""
    y, rate = conversation
    at_full_scale = y / np.abs(y).max()
    for endpoint in ("predict", "analyze"):
        loud = answer(post_file(client, "loud.wav",
                                wav_bytes(np.float32(1e19) * at_full_scale, rate, "FLOAT"),
                                endpoint))
        plain = answer(post_file(client, "loud.wav", wav_bytes(at_full_scale, rate, "FLOAT"),
                                 endpoint))
        if endpoint == "analyze":
            assert len(loud["segments"]) == len(plain["segments"]) == 3
            loud, plain = loud["segments"][1], plain["segments"][1]
        assert loud["label"] == plain["label"]
        for label, p in plain["scores"].items():
            assert loud["scores"][label] == pytest.approx(p, abs=2e-3)


def test_a_multipart_preamble_and_a_huge_file_name_are_plain_400s(client, clip):
    form, multipart = form_body("a.flac", clip.read_bytes())
    preamble = client.post("/v1/predict", content=b"This is a preamble.\r\n" + form,
                           headers=multipart)
    message = error_of(preamble, 400)
    assert "begin with its boundary" in message
    long_name, _ = form_body("n" * 5600 + ".flac", clip.read_bytes())
    message = error_of(client.post("/v1/predict", content=long_name, headers=multipart), 400)
    assert "headers are too long" in message
    # The parser's own words stay in the log.
    for response in (preamble, client.post("/v1/predict", content=long_name, headers=multipart)):
        assert "Expected boundary" not in response.text and "Maximum header" not in response.text


def test_library_messages_never_reach_the_client(client):
    damaged = bytearray(wav_bytes(tone(1.0)))
    damaged[20:22] = b"\x99\x99"  # an unknown sample format
    message = error_of(post_file(client, "odd.wav", bytes(damaged)), 400)
    assert message == "odd.wav: not readable audio (a damaged or unsupported file)"


def test_head_is_answered_on_the_page_and_health(client):
    for path in ("/", "/v1/health"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b""
        assert response.headers["content-type"] == client.get(path).headers["content-type"]


def test_a_token_guards_the_api_but_not_health_the_page_or_the_docs(model, clip):
    app = create_app(ServeSettings(workers=1, token="s3cret"), model=model)
    sent = 0

    async def body():
        nonlocal sent
        sent += 1
        yield clip.read_bytes()

    async def unauthorised_upload() -> httpx.Response:
        async with asgi_client(app) as http:
            return await http.post("/v1/predict", content=body(),
                                   headers={"content-type": "audio/flac"})

    with TestClient(app) as http:
        missing = http.get("/v1/model")
        assert "token is required" in error_of(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = http.get("/v1/model", headers={"authorization": "Bearer nope"})
        assert "wrong" in error_of(wrong, 401)
        right = {"authorization": "Bearer s3cret"}
        assert http.get("/v1/model", headers=right).status_code == 200
        assert http.post("/v1/predict", headers=right,
                         files={"file": ("c.flac", clip.read_bytes())}).status_code == 200
        for path in ("/", "/v1/health", "/docs", "/openapi.json"):
            assert http.get(path).status_code == 200
        schemes = http.get("/openapi.json").json()["components"]["securitySchemes"]
        assert schemes["HTTPBearer"]["scheme"] == "bearer"
    # Refused before the body is read.
    assert error_of(asyncio.run(unauthorised_upload()), 401) and sent == 0


def test_cors_is_off_unless_origins_are_given(client, model):
    origin = {"origin": "http://elsewhere.test"}
    assert "access-control-allow-origin" not in client.get("/v1/model", headers=origin).headers
    cors = ServeSettings(workers=1, cors_origins=["http://elsewhere.test"])
    with TestClient(create_app(cors, model=model)) as http:
        allowed = http.get("/v1/model", headers=origin)
        assert allowed.headers["access-control-allow-origin"] == "http://elsewhere.test"
        other = http.get("/v1/model", headers={"origin": "http://other.test"})
        assert "access-control-allow-origin" not in other.headers


def test_a_server_starts_without_an_affinity_call(monkeypatch, model):
    # macOS and Windows have no os.sched_getaffinity: the default worker count must not need it.
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    with TestClient(create_app(model=model)) as http:
        assert http.get("/v1/health").json()["workers"] == 3


# --- export and examples ---------------------------------------------------------------------

def test_export_gives_the_files_sera_analyze_writes(client, conversation, bundle_dir, tmp_path,
                                                    monkeypatch):
    from typer.testing import CliRunner

    import sera.cli.infer  # noqa: F401  (registers the command)
    from sera.cli._app import app as cli

    y, rate = conversation
    (tmp_path / "talk.wav").write_bytes(wav_bytes(y, rate))
    analysis = answer(post_file(client, "talk.wav", (tmp_path / "talk.wav").read_bytes(),
                                "analyze"))
    monkeypatch.chdir(tmp_path)
    for kind in ("json", "csv", "srt"):
        exported = client.post(f"/v1/export/{kind}", json=analysis)
        assert exported.status_code == 200
        assert exported.headers["content-disposition"] == f'attachment; filename="talk.{kind}"'
        written = CliRunner().invoke(cli, ["analyze", "--model", str(bundle_dir), "talk.wav",
                                           f"--{kind}"])
        assert written.exit_code == 0, written.output
        assert exported.text == written.stdout
    assert "segments" in error_of(client.post("/v1/export/csv", json={"path": "x"}), 422)


def test_the_examples_are_synthetic_clips_made_at_start(client):
    from sera.serve.examples import EXAMPLES, render_example

    listed = answer(client.get("/v1/model"))["examples"]
    assert [item["name"] for item in listed] == [e.name for e in EXAMPLES]
    dialogue = EXAMPLES[-1]
    fetched = client.get(f"/v1/examples/{dialogue.name}")
    assert fetched.headers["content-type"] == "audio/wav"
    assert fetched.content == render_example(dialogue)
    assert len(answer(post_file(client, dialogue.name, fetched.content, "analyze"))[
        "segments"]) >= len(dialogue.turns) - 1
    assert "no example" in error_of(client.get("/v1/examples/nope.wav"), 404)


def test_the_model_card_is_rendered_without_raw_html(model):
    class HostileCard(Model):
        card = ("# Card\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **bold**\n\n"
                "| a | b |\n|--:|---|\n| 1 | 2 |\n")

    app = create_app(ServeSettings(workers=1), model=HostileCard(model.bundle))
    info = TestClient(app).get("/v1/model").json()
    assert "<h1>Card</h1>" in info["card_html"] and "<strong>bold</strong>" in info["card_html"]
    assert "<script>" not in info["card_html"] and 'href="javascript' not in info["card_html"]
    # No inline style, which the page's Content-Security-Policy would block.
    assert '<th class="align-right">a</th>' in info["card_html"]
    assert "style=" not in info["card_html"]


def test_labels_restrict_predict_analyze_and_export_to_a_deployments_classes(
        client, model, clip, conversation, bundle_dir, tmp_path, monkeypatch):
    """``?labels=`` answers as ``Model.with_labels`` does, the export takes the subset the
    analysis was made with, and a bad list is one 422 line before any audio is read."""
    from typer.testing import CliRunner

    import sera.cli.infer  # noqa: F401  (registers the command)
    from sera.cli._app import app as cli

    four = "angry,happy,neutral,sad"
    restricted = model.with_labels(four.split(","))
    got = answer(post_file(client, clip.name, clip.read_bytes(), labels=four))
    assert got == {**restricted.predict(clip).to_dict(), "path": clip.name}
    assert list(got["scores"]) == four.split(",")

    y, rate = conversation
    (tmp_path / "talk.wav").write_bytes(wav_bytes(y, rate))
    analysis = answer(post_file(client, "talk.wav", (tmp_path / "talk.wav").read_bytes(),
                                "analyze", labels=four))
    assert all(list(s["scores"]) == four.split(",") for s in analysis["segments"])
    monkeypatch.chdir(tmp_path)
    exported = client.post("/v1/export/csv", json=analysis)
    written = CliRunner().invoke(cli, ["analyze", "--model", str(bundle_dir), "talk.wav",
                                       "--csv", "--labels", four])
    assert exported.status_code == 200 and exported.text == written.stdout

    assert "bored" in error_of(post_file(client, clip.name, b"", labels="angry,bored"), 422)
