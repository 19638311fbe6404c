"""The shipped default model: present, small, documented, and used when no model is named."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sera
from sera.infer import DEFAULT_MODEL
from sera.labels import LABELS

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL / "config.json").is_file(),
                                reason="the default model has not been built (make model)")


def test_bundle_is_small_and_complete():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL.iterdir() if p.is_file()}
    assert {"config.json", "model.onnx", "card.md"} <= set(files)
    assert sum(files.values()) < 25 * 2**20


def test_card_states_the_data_licence_and_the_loso_figures():
    card = (DEFAULT_MODEL / "card.md").read_text()
    assert "RAVDESS" in card and "nEMO" in card
    assert "CC BY-NC-SA 4.0" in card and "non-commercial" in card
    assert "leave-one-speaker-out" in card.lower()
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    metrics = config["metrics"]
    assert metrics["protocol"].startswith("leave-one-speaker-out over nemo, ravdess")
    # Every speaker of both corpora held out once: 18 RAVDESS actors and 7 nEMO speakers.
    assert len(metrics["folds"]) == 25
    assert config["training"]["utterances"] == 1080 + 3403
    assert config["training"]["speakers"] == 25
    assert {f["n"] for f in metrics["by_corpus"].values()} == {1080, 3403}
    assert set(metrics["leave_one_corpus_out"]) == {"ravdess (held out)", "nemo (held out)"}
    # The card's per-corpus table holds the bundle's own figures.
    for figures in metrics["by_corpus"].values():
        assert f"{figures['uar_adapted']:.3f}" in card and f"{figures['uar_single_clip']:.3f}" in card


def test_default_model_is_calibrated_and_says_so():
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    calibration = config["calibration"]
    assert calibration["method"] == "temperature" and set(calibration["by_adapt"]) == {
        "none", "speaker"}
    # The card quotes the bundle's own ECE figures and its recipe file.
    card = (DEFAULT_MODEL / "card.md").read_text()
    single = config["metrics"]["single_clip"]
    assert f"{single['ece_uncalibrated']:.3f} → {single['ece']:.3f}" in card
    assert config["training"]["recipe"]["name"] == "default" and "default.toml" in card


def test_load_without_a_path_gives_the_default(ravdess_dir):
    model = sera.load()
    assert model.labels == LABELS
    clip = sorted(ravdess_dir.glob("Actor_01/*.flac"))[0]
    prediction = model.predict(clip)
    assert prediction.label in LABELS
    assert abs(sum(prediction.scores.values()) - 1) < 1e-4


def test_cli_predict_uses_the_default_model_without_torch(ravdess_dir):
    clip = sorted(ravdess_dir.glob("Actor_02/*.flac"))[3]
    code = ("import sys, json; from sera.cli import main; sys.argv = ['sera', 'predict', "
            f"{str(clip)!r}, '--json']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout)
    assert row["label"] in LABELS and row["path"].endswith(clip.name)
