"""The web page in a real headless Chromium: upload a clip, a conversation, record from a (fake)
microphone, see the errors, drive it from the keyboard. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_infer import real_bundle
from test_serve import running_server

import sera
from sera.infer import Model
from sera.serve.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

#: Speakers the test model never heard (it is trained on actors 01-10).
ACTOR = "Actor_14"


@pytest.fixture(scope="module")
def model(ravdess_dir, tmp_path_factory) -> Model:
    return sera.load(real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle"))


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


@pytest.fixture(scope="module")
def url(model) -> Iterator[str]:
    with running_server(create_app(model, workers=2)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(fake_microphone):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_microphone}"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    """A fresh page on the app, with the model loaded; fails the test on any script error or
    console error (a Content-Security-Policy violation among them)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}")
            if message.type == "error" and "the server answered" not in message.text
            and "status of 4" not in message.text else None)
    page.goto(url)
    expect(page.locator("#model-line")).to_contain_text("Model logreg")
    yield page
    context.close()
    assert problems == []


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


def test_a_conversation_shows_every_utterance_on_the_timeline(page, model, clips, tmp_path):
    from playwright.sync_api import expect

    gap = np.zeros(int(0.8 * 16000), np.float32)
    audio = np.concatenate([piece for clip in clips[2:5]
                            for piece in (sf.read(clip, dtype="float32")[0], gap)])
    path = tmp_path / "conversation.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    segments = model.analyze(path)
    assert len(segments) >= 2
    page.set_input_files("#file-input", str(path))
    rows = page.locator("#segment-rows tr")
    expect(rows).to_have_count(len(segments), timeout=20_000)
    for row, segment in zip(rows.all(), segments, strict=True):
        cells = row.locator("td").all_text_contents()
        assert cells[1:4] == [f"{segment.start:.2f} s", f"{segment.end:.2f} s", segment.label]
    rows.nth(1).get_by_role("button").click()
    expect(page.locator("#scores-caption")).to_contain_text("Utterance 2")
    expect(page.locator("#result-label")).to_have_text(segments[1].label)
    expect(page.locator("#whole-button")).to_be_visible()
    screenshot(page, "conversation")


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


def test_errors_are_shown_to_the_user(page, tmp_path):
    from playwright.sync_api import expect

    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not audio\n")
    page.set_input_files("#file-input", str(not_audio))
    status = page.locator("#status")
    expect(status).to_contain_text("not an audio file", timeout=20_000)
    expect(status).to_have_class(re.compile(r"\berror\b"))
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(2 * 16000, np.float32), 16000, subtype="PCM_16")
    page.set_input_files("#file-input", str(silence))
    expect(status).to_contain_text("silent", timeout=20_000)
    expect(page.locator("#segments-caption")).to_have_text("No speech found in this audio")
    screenshot(page, "errors")


def test_the_page_works_from_the_keyboard(page, model, clips):
    from playwright.sync_api import expect

    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#pick-button")).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(clips[0]))
    expect(page.locator("#result-label")).to_have_text(model.predict(clips[0]).label,
                                                       timeout=20_000)
    page.keyboard.press("Tab")
    expect(page.locator("#record-button")).to_be_focused()
    # Focus is visible: the focused control gets an outline.
    expect(page.locator("#record-button")).to_have_css("outline-style", "solid")
