"""The shipped default model: present, small, documented, and used when no model is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sera
from sera.infer import DEFAULT_MODEL
from sera.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL / "config.json").is_file(),
                                reason="the default model has not been built (make model)")


def test_bundle_is_small_and_complete():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL.iterdir() if p.is_file()}
    assert {"config.json", "model.onnx", "card.md"} <= set(files)
    assert sum(files.values()) < 25 * 2**20


def test_card_states_the_data_licences_and_the_study_figures():
    card = (DEFAULT_MODEL / "card.md").read_text()
    for corpus in ("RAVDESS", "nEMO", "EMOVO", "ASED"):
        assert corpus in card
    assert "CC BY-NC-SA 4.0" in card and "non-commercial research only" in card
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    metrics, training = config["metrics"], config["training"]
    assert metrics["protocol"].startswith("3 speaker folds per corpus over ased, emovo, nemo, "
                                          "ravdess")
    # Every clip and speaker of the four shared corpora.
    assert training["utterances"] == 1080 + 3403 + 588 + 1724
    assert training["speakers"] == 18 + 7 + 6 + 50
    assert training["rows_with_augmentation"] == 3 * training["utterances"]
    assert {f["n"] for f in metrics["by_corpus"].values()} == {1080, 3403, 588, 1724}
    assert set(metrics["leave_one_corpus_out"]) == {f"{c} (held out)" for c in
                                                    ("ased", "emovo", "nemo", "ravdess")}
    # The figures are the channel study's row of this recipe, and the card shows them.
    study = json.loads((ROOT / "docs" / "results" / "channel.json").read_text())
    (row,) = [r for r in study["rows"] if r["recipe"] == metrics["study"]]
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_model import same_recipe

    assert same_recipe(ROOT / row["recipe"], ROOT / "recipes" / "default.toml")
    for corpus, figures in row["speaker_folds"]["adapted"].items():
        assert metrics["by_corpus"][f"{corpus} (speaker folds)"]["uar_adapted"] == figures["uar"]
    for name, figures in row["conditions"].items():
        assert metrics["conditions"][name]["uar_adapted"] == figures["adapted"]["uar"]
        assert f"| {name} | {figures['single']['uar']:.3f} | {figures['adapted']['uar']:.3f} |" \
            in card
    for figures in [*metrics["by_corpus"].values(), *metrics["leave_one_corpus_out"].values()]:
        assert f"{figures['uar_adapted']:.3f}" in card
        assert f"{figures['uar_single_clip']:.3f}" in card


def test_default_model_is_calibrated_on_corpora_it_never_heard_and_says_so():
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    calibration = config["calibration"]
    assert calibration["method"] == "temperature" and set(calibration["by_adapt"]) == {
        "none", "speaker"}
    assert calibration["fitted_on"] == ("out-of-fold predictions of the 4 corpora, each held "
                                        "out once")
    # The card quotes the bundle's own temperatures and its recipe file.
    card = (DEFAULT_MODEL / "card.md").read_text()
    assert f"T = {calibration['by_adapt']['none']:.3f} for a single clip" in card
    assert config["training"]["recipe"]["name"] == "default" and "default.toml" in card
    assert config["training"]["recipe"]["calibration"] == "temperature-corpus"


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
