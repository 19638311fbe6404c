"""A deployment's own labels: ``--labels`` and ``Model.with_labels`` restrict every answer to a
subset of the classes, with the calibrated scores renormalised over it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers_infer import real_bundle
from typer.testing import CliRunner

import sera
import sera.cli.evaluate  # noqa: F401  (registers the commands)
import sera.cli.infer  # noqa: F401
from sera.cli._app import app
from sera.errors import InputError
from sera.labels import LABELS

FOUR = ("angry", "happy", "neutral", "sad")

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle_dir(ravdess_dir, tmp_path_factory) -> Path:
    return real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle")


@pytest.fixture(scope="module")
def model(bundle_dir):
    return sera.load(bundle_dir)


@pytest.fixture(scope="module")
def clips(ravdess_dir) -> list[Path]:
    """Clips of actors the test model never heard."""
    return [path for actor in (11, 12) for path in
            sorted((ravdess_dir / f"Actor_{actor}").glob("*.flac"))[::6]]


def test_restricted_scores_are_the_full_scores_renormalised_over_the_subset(model, clips):
    four = model.with_labels(["sad", "angry", "neutral", "happy"])
    assert four.labels == FOUR  # the bundle's order, whatever the order asked
    full = model.predict_many(clips)[0]
    restricted = four.predict_many(clips)[0]
    moved = 0
    for whole, part in zip(full, restricted, strict=True):
        assert list(part.scores) == list(FOUR)
        kept = np.array([whole.scores[label] for label in FOUR])
        np.testing.assert_allclose(list(part.scores.values()), kept / kept.sum(), rtol=1e-5)
        assert part.label == FOUR[int(kept.argmax())]
        moved += whole.label not in FOUR
    # Some clips' best class overall was one of the other three: those answers changed.
    assert moved > 0
    # The model restricted is a view: the original still answers with all seven.
    assert model.labels == LABELS and list(model.predict(clips[0]).scores) == list(LABELS)


def test_a_recording_is_analysed_among_the_allowed_labels(model, ravdess_dir):
    import soundfile as sf

    paths = sorted((ravdess_dir / "Actor_13").glob("*.flac"))[:4]
    y = np.concatenate([np.concatenate([sf.read(p, dtype="float32")[0],
                                        np.zeros(8000, np.float32)]) for p in paths])
    analysis = model.with_labels(["angry", "sad"]).analyze(y, 16000, num_speakers=1)
    assert analysis.segments
    for segment in analysis.segments:
        assert list(segment.scores) == ["angry", "sad"] and segment.label in ("angry", "sad")
        assert sum(segment.scores.values()) == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("labels, problem", [(["angry", "bored"], "unknown label(s) bored"),
                                             (["angry"], "two labels or more"),
                                             (["sad", "sad", "angry"], "given twice")])
def test_bad_label_lists_are_refused(model, labels, problem):
    with pytest.raises(InputError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        model.with_labels(labels)


def test_cli_predict_and_evaluate_take_labels(bundle_dir, clips, ravdess_dir, tmp_path):
    result = runner.invoke(app, ["predict", "--model", str(bundle_dir), str(clips[0]),
                                 str(clips[1]), "--json", "--labels", "angry,happy,neutral,sad"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [list(row["scores"]) for row in rows] == [list(FOUR)] * 2
    assert all(row["label"] in FOUR for row in rows)

    bad = runner.invoke(app, ["predict", "--model", str(bundle_dir), str(clips[0]),
                              "--labels", "angry,bored"])
    assert bad.exit_code == 2 and "bored" in bad.output

    # Evaluation scores the utterances of the allowed classes only, and says so.
    from sera.corpora import scan

    manifest = scan(ravdess_dir).manifest
    manifest = manifest[manifest["speaker"] == "ravdess-12"]
    csv = tmp_path / "actor12.csv"
    manifest.to_csv(csv, index=False)
    result = runner.invoke(app, ["evaluate", str(bundle_dir), str(csv), "--json",
                                 "--labels", ",".join(FOUR)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    in_four = manifest["emotion"].isin(FOUR)
    assert metrics["labels"] == list(FOUR)
    assert metrics["n"] == int(in_four.sum())
    assert metrics["excluded_other_labels"] == int((~in_four).sum()) > 0
    assert set(metrics["per_class"]) == set(FOUR)
    assert metrics["confusion"]["labels"] == list(FOUR)
    assert np.array(metrics["confusion"]["matrix"]).sum() == metrics["n"]
