"""The web page in a real headless Chromium: upload a clip, a conversation (its summary, the
timeline, playing one utterance, export), record from a (fake) microphone, see the errors, use it
at phone width, with a token, from the keyboard; and the offline API docs. Screenshots go to
``test-artifacts/``.

Speaker lanes are tested on a dialogue of two unseen actors: the page's speakers are the
analysis's, each has a row in the per-speaker summary and a lane on the timeline, and a click
in a lane picks that speaker's utterance."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_infer import real_bundle
from test_serve import running_server

import sera
from sera.infer import Model
from sera.serve.app import create_app
from sera.serve.settings import ServeSettings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

#: Speakers the test model never heard (it is trained on actors 01-10).
ACTOR = "Actor_14"


@pytest.fixture(scope="module")
def bundle_dir(ravdess_dir, tmp_path_factory) -> Path:
    return real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle")


@pytest.fixture(scope="module")
def model(bundle_dir) -> Model:
    return sera.load(bundle_dir)


@pytest.fixture(scope="module")
def clips(ravdess_dir) -> list[Path]:
    return sorted((ravdess_dir / ACTOR).glob("*.flac"))[::15]


@pytest.fixture(scope="module")
def fake_microphone(clips, tmp_path_factory) -> Path:
    """What Chromium's fake microphone plays: a clip as a 16-bit WAV, the format it reads."""
    y, rate = sf.read(clips[1], dtype="float32")
    path = tmp_path_factory.mktemp("microphone") / "speech.wav"
    sf.write(path, y, rate, subtype="PCM_16")
    return path


#: The upload limit of the app under test (MiB): small, so that the page's own check is cheap.
MAX_UPLOAD_MB = 2


@pytest.fixture(scope="module")
def url(model) -> Iterator[str]:
    with running_server(create_app(ServeSettings(workers=2, max_upload_mb=MAX_UPLOAD_MB),
                                   model=model)) as url:
        yield url


@pytest.fixture(scope="module")
def conversation(clips, tmp_path_factory) -> Path:
    """Three clips of one speaker with 0.8 s of silence between them."""
    gap = np.zeros(int(0.8 * 16000), np.float32)
    audio = np.concatenate([piece for clip in clips[2:5]
                            for piece in (sf.read(clip, dtype="float32")[0], gap)])
    path = tmp_path_factory.mktemp("conversation") / "conversation.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def dialogue(ravdess_dir, clips, tmp_path_factory) -> Path:
    """Alternating turns of two unseen actors (a man, Actor_13, and a woman, Actor_14)."""
    other = sorted((ravdess_dir / "Actor_13").glob("*.flac"))[::15]
    gap = np.zeros(int(0.7 * 16000), np.float32)
    turns = [clip for pair in zip(clips[:3], other[:3], strict=True) for clip in pair]
    audio = np.concatenate([piece for clip in turns
                            for piece in (sf.read(clip, dtype="float32")[0], gap)])
    path = tmp_path_factory.mktemp("dialogue") / "dialogue.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def browser(fake_microphone):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            f"--use-file-for-fake-audio-capture={fake_microphone}"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    """A fresh page on the app, with the model loaded; fails the test on any script error,
    console error (a Content-Security-Policy violation among them) or request that leaves
    the server."""
    from playwright.sync_api import expect

    with open_page(browser, url, {"width": 1100, "height": 900}) as page:
        expect(page.locator("#model-line")).to_contain_text("Model logreg")
        yield page


@contextmanager
def open_page(browser, url: str, viewport: dict, path: str = "/", docs: bool = False):
    """A page of the app in a fresh context. Script and console errors fail the test, and so
    does any request for anything elsewhere, unless the page's Content-Security-Policy stopped
    it before it left (the API docs: ReDoc's footer asks for a logo on a CDN); ``docs`` lets
    the console report those refusals."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    elsewhere: dict[str, str | None] = {}

    def local(address: str) -> bool:
        return address.startswith((url, "data:", "blob:"))

    def on_console(message) -> None:
        text = message.text
        if message.type != "error" or "the server answered" in text or "status of 4" in text:
            return
        if docs and "Content Security Policy" in text:
            return
        problems.append(f"console: {text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", on_console)
    page.on("request", lambda request: None if local(request.url)
            else elsewhere.setdefault(request.url, None))
    page.on("requestfailed", lambda request: None if local(request.url)
            else elsewhere.__setitem__(request.url, request.failure))
    page.goto(url + path)
    try:
        yield page
    finally:
        context.close()
    assert problems == []
    left = {address: failure for address, failure in elsewhere.items()
            if failure not in ("csp", "net::ERR_BLOCKED_BY_CSP")}
    assert left == {}, f"requests that left the machine: {left}"


def speaking_time_shares(segments) -> dict[str, float]:
    time: dict[str, float] = {}
    for segment in segments:
        time[segment.label] = time.get(segment.label, 0.0) + segment.end - segment.start
    return {label: seconds / sum(time.values()) for label, seconds in time.items()}


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def dark_pixels(png: bytes) -> float:
    """Fraction of a screenshot's pixels that are dark (a waveform drawn on the canvas)."""
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return float((grey < 100).mean())


def test_uploading_a_clip_shows_its_emotion(page, model, clips):
    from playwright.sync_api import expect

    clip = clips[0]
    expected = model.predict(clip)
    page.set_input_files("#file-input", str(clip))
    expect(page.locator("#result-label")).to_have_text(expected.label, timeout=20_000)
    expect(page.locator("#status")).to_contain_text(f"{clip.name}: {expected.label}")
    expect(page.locator("#result-confidence")).to_have_text(
        f"{100 * expected.scores[expected.label]:.1f}%")
    bars = page.locator("#bars li")
    expect(bars).to_have_count(len(model.labels))
    first = bars.first.text_content()
    assert first == f"{expected.label}{100 * expected.scores[expected.label]:.1f}%"
    segments = model.analyze(clip)
    expect(page.locator("#segment-rows tr")).to_have_count(len(segments))
    assert dark_pixels(page.locator("#waveform").screenshot()) > 0.01
    screenshot(page, "upload")


def test_dropping_a_file_on_the_page_classifies_it(page, model, clips):
    from playwright.sync_api import expect

    clip = clips[1]
    dropped = page.evaluate_handle(
        """bytes => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "dropped.flac",
                                        {type: "audio/flac"}));
            return transfer;
        }""", list(clip.read_bytes()))
    page.dispatch_event("#drop-zone", "dragenter", {"dataTransfer": dropped})
    expect(page.locator("#drop-zone")).to_have_class(re.compile(r"\bdragging\b"))
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    expect(page.locator("#status")).to_contain_text(
        f"dropped.flac: {model.predict(clip).label}", timeout=20_000)
    expect(page.locator("#drop-zone")).not_to_have_class(re.compile(r"\bdragging\b"))
    # Clicking anywhere in the drop area opens the chooser too.
    with page.expect_file_chooser():
        page.locator(".drop-title").click()


def test_a_long_analysis_shows_progress_and_can_be_cancelled(page, clips):
    from playwright.sync_api import expect

    held = []

    def hold(route) -> None:  # never answered: the analysis stays running
        held.append(route)

    page.route("**/v1/analyze", hold)
    page.set_input_files("#file-input", str(clips[0]))
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#status")).to_contain_text(clips[0].name)
    expect(page.locator("body")).to_have_class(re.compile(r"\bbusy\b"))
    page.locator("#cancel-button").click()
    expect(page.locator("#status")).to_have_text(f"Cancelled: {clips[0].name} was not analysed.")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#results")).to_be_hidden()
    assert len(held) == 1


def test_a_conversation_is_summarised_from_one_analysis(page, model, conversation):
    from playwright.sync_api import expect

    calls: list[str] = []
    page.on("request", lambda request: calls.append(request.url.split("/v1/")[-1])
            if "/v1/" in request.url else None)
    segments = model.analyze(conversation)
    assert len(segments) >= 2
    page.set_input_files("#file-input", str(conversation))
    rows = page.locator("#segment-rows tr")
    expect(rows).to_have_count(len(segments), timeout=20_000)
    for row, segment in zip(rows.all(), segments, strict=True):
        cells = row.locator("td").all_text_contents()
        assert [cells[1], cells[2], cells[4]] == [f"{segment.start:.2f} s",
                                                  f"{segment.end:.2f} s", segment.label]
    # The headline is the share of speaking time per emotion, not one whole-file prediction.
    shares = speaking_time_shares(segments)
    dominant = max(shares, key=shares.get)
    expect(page.locator("#result-label")).to_have_text(dominant)
    expect(page.locator("#result-confidence")).to_have_text(f"{100 * shares[dominant]:.1f}%")
    expect(page.locator("#scores-caption")).to_contain_text("share of the speaking time")
    expect(page.locator("#status")).to_contain_text(f"{len(segments)} utterances")
    bars = page.locator("#bars li")
    expect(bars).to_have_count(len(shares))
    assert calls == ["analyze"]
    screenshot(page, "conversation-summary")

    # A whole row is clickable, and plays just that utterance.
    rows.nth(0).locator("td").nth(2).click()
    expect(page.locator("#scores-caption")).to_contain_text("Utterance 1")
    expect(page.locator("#result-label")).to_have_text(segments[0].label)
    player = page.locator("#player")
    page.wait_for_function("() => document.getElementById('player').paused", timeout=15_000)
    stopped_at = player.evaluate("p => p.currentTime")
    assert segments[0].end - 0.05 <= stopped_at <= segments[0].end + 0.3
    # So is the timeline: a click in the middle of the second utterance's span.
    canvas = page.locator("#waveform")
    box = canvas.bounding_box()
    duration = float(page.evaluate("() => document.getElementById('player').duration"))
    middle = (segments[1].start + segments[1].end) / 2
    canvas.click(position={"x": box["width"] * middle / duration, "y": box["height"] - 30})
    expect(page.locator("#scores-caption")).to_contain_text("Utterance 2")
    expect(page.locator("#segment-rows tr.selected")).to_have_attribute("data-index", "1")
    page.wait_for_function("() => document.getElementById('player').paused", timeout=15_000)
    assert player.evaluate("p => p.currentTime") >= segments[1].start
    page.locator("#whole-button").click()
    expect(page.locator("#result-label")).to_have_text(dominant)
    screenshot(page, "conversation-timeline")
    assert calls == ["analyze"]


def test_speakers_have_a_summary_and_a_lane_each(page, model, dialogue):
    from playwright.sync_api import expect

    analysis = model.analyze(dialogue)
    assert analysis.speakers == ["S1", "S2"]
    page.set_input_files("#file-input", str(dialogue))
    rows = page.locator("#segment-rows tr")
    expect(rows).to_have_count(len(analysis), timeout=30_000)
    shown = [row.locator("td.speaker-col").text_content() for row in rows.all()]
    assert shown == [segment.speaker for segment in analysis]
    expect(page.locator("#speakers-box")).to_be_visible()
    expect(page.locator("#speaker-rows th")).to_have_text(["S1", "S2"])
    expect(page.locator("#status")).to_contain_text("2 speakers")
    screenshot(page, "speaker-lanes")

    # The timeline has a lane per speaker under the waveform (lanes 16 px, then the 24 px
    # arousal lane, axis 20 px, 6 px margin, a 28 px gutter for the names): a click in S2's
    # lane, in the time span of S2's first utterance, picks that utterance.
    index = next(i for i, segment in enumerate(analysis) if segment.speaker == "S2")
    target = analysis[index]
    box = page.locator("#waveform").bounding_box()
    duration = float(page.evaluate("() => document.getElementById('player').duration"))
    wave_height = box["height"] - 2 * 16 - 24 - 20 - 6
    x = 28 + (box["width"] - 28) * (target.start + target.end) / 2 / duration
    page.locator("#waveform").click(position={"x": x, "y": wave_height + 4 + 16 + 8})
    expect(page.locator("#scores-caption")).to_contain_text(f"Utterance {index + 1} (S2)")
    expect(page.locator("#segment-rows tr.selected")).to_have_attribute("data-index", str(index))


def test_export_gives_the_files_sera_analyze_writes(page, bundle_dir, conversation,
                                                    monkeypatch):
    from playwright.sync_api import expect
    from typer.testing import CliRunner

    import sera.cli.infer  # noqa: F401  (registers the command)
    from sera.cli._app import app as cli

    page.set_input_files("#file-input", str(conversation))
    expect(page.locator("#segment-rows tr").first).to_be_visible(timeout=20_000)
    monkeypatch.chdir(conversation.parent)
    for kind in ("json", "csv", "srt"):
        with page.expect_download() as download:
            page.locator(f"[data-export={kind}]").click()
        assert download.value.suggested_filename == f"conversation.{kind}"
        written = CliRunner().invoke(cli, ["analyze", "--model", str(bundle_dir),
                                           conversation.name, f"--{kind}"])
        assert written.exit_code == 0, written.output
        assert Path(download.value.path()).read_text() == written.stdout


def test_recording_from_the_microphone_gives_a_result(page, model):
    from playwright.sync_api import expect

    uploads: list[bytes] = []

    def capture(route) -> None:
        uploads.append(route.request.post_data_buffer)
        route.continue_()

    page.route("**/v1/predict", capture)
    record = page.locator("#record-button")
    record.click()
    expect(record).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#record-text")).to_contain_text("0:02", timeout=10_000)
    record.click()
    expect(page.locator("#status")).to_contain_text("recording.wav: ", timeout=20_000)
    assert page.locator("#result-label").text_content() in model.labels
    # The page sent a mono 16-bit PCM WAV it encoded itself.
    assert len(uploads) == 1
    wav = uploads[0][uploads[0].index(b"RIFF"):]
    info = sf.info(io.BytesIO(wav))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    assert 2.0 <= info.duration <= 6.0
    screenshot(page, "recording")


def test_every_new_file_or_error_replaces_what_was_shown(page, model, clips, tmp_path):
    from playwright.sync_api import expect

    results = page.locator("#results")
    status = page.locator("#status")
    page.set_input_files("#file-input", str(clips[0]))
    expect(results).to_be_visible(timeout=20_000)
    # Over the limit: refused by the page itself, and the previous result goes.
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(MAX_UPLOAD_MB * 2**20 // 2 + 1000, np.int16), 16000,
             subtype="PCM_16")
    page.set_input_files("#file-input", str(big))
    expect(status).to_contain_text(f"the limit is {MAX_UPLOAD_MB} MiB")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(results).to_be_hidden()
    page.set_input_files("#file-input", str(clips[0]))
    expect(results).to_be_visible(timeout=20_000)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not audio\n")
    page.set_input_files("#file-input", str(not_audio))
    expect(status).to_contain_text("not an audio file", timeout=20_000)
    expect(results).to_be_hidden()
    # A silent clip: one message, and nothing that contradicts it.
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(2 * 16000, np.float32), 16000, subtype="PCM_16")
    page.set_input_files("#file-input", str(silence))
    expect(status).to_have_text("silence.wav: no speech found (silent, or no voice in it).",
                                timeout=20_000)
    expect(status).not_to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#segments-caption")).to_have_text("No speech found in this audio")
    expect(page.locator("#result-label")).to_have_text("No speech")
    assert "utterances below" not in page.locator("#results").inner_text()
    screenshot(page, "errors")


def test_the_page_fits_a_phone(browser, url, conversation):
    from playwright.sync_api import expect

    with open_page(browser, url, {"width": 390, "height": 844}) as page:
        expect(page.locator("#model-line")).to_contain_text("Model logreg")
        page.set_input_files("#file-input", str(conversation))
        expect(page.locator("#segment-rows tr").first).to_be_visible(timeout=20_000)
        # Nothing is cut off: the page is no wider than the screen, and every cell of the
        # table (the probability column included) lies inside it.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for cell in page.locator("#segments th, #segments td").all():
            if cell.is_visible():
                box = cell.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390, cell.text_content()
        for button in page.locator("[data-export], #pick-button, #record-button").all():
            box = button.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        screenshot(page, "phone")


def test_the_page_asks_for_the_token_and_uses_it(browser, model):
    from playwright.sync_api import expect

    with running_server(create_app(ServeSettings(workers=1, token="s3cret"),
                                   model=model)) as guarded, \
            open_page(browser, guarded, {"width": 1100, "height": 900}) as page:
        form = page.locator("#token-form")
        expect(form).to_be_visible()
        page.fill("#token-input", "s3cret")
        form.get_by_role("button").click()
        expect(page.locator("#model-line")).to_contain_text("Model logreg")
        expect(form).to_be_hidden()
        # The built-in synthetic dialogue, fetched and analysed with the token.
        page.locator("[data-example='synthetic-dialogue.wav']").click()
        expect(page.locator("#scores-caption")).to_contain_text("share of the speaking time",
                                                                timeout=30_000)
        assert page.locator("#segment-rows tr").count() >= 4
        screenshot(page, "token-example")


def test_the_api_docs_render_offline(browser, url):
    from playwright.sync_api import expect

    with open_page(browser, url, {"width": 1100, "height": 900}, "/docs", docs=True) as page:
        expect(page.locator(".swagger-ui .opblock")).to_have_count(6, timeout=20_000)
        expect(page.locator(".swagger-ui")).to_contain_text("/v1/analyze")
        screenshot(page, "docs")
    with open_page(browser, url, {"width": 1100, "height": 900}, "/redoc", docs=True) as page:
        expect(page.get_by_text("The emotion of every utterance").first).to_be_visible(
            timeout=20_000)
        screenshot(page, "redoc")


def test_the_page_works_from_the_keyboard(page, model, clips):
    from playwright.sync_api import expect

    # The page has finished starting (the examples are its last step), and is idle.
    expect(page.locator("#examples")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#pick-button")).to_be_focused()
    # Playwright asks the browser to intercept file choosers without waiting for an answer;
    # listen first and make a round trip, so the request is in place before Enter is pressed.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.evaluate("() => 0")
    page.keyboard.press("Enter")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the focused 'Choose a file' button opened no file chooser"
    choosers[0].set_files(str(clips[0]))
    expect(page.locator("#result-label")).to_have_text(model.predict(clips[0]).label,
                                                       timeout=20_000)
    page.keyboard.press("Tab")
    expect(page.locator("#record-button")).to_be_focused()
    # Focus is visible: the focused control gets an outline.
    expect(page.locator("#record-button")).to_have_css("outline-style", "solid")
