"""The cross-corpus matrix: each corpus trains alone, every cell is speaker-independent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sera.corpora import scan
from sera.corpora.synth import synthesize
from sera.crosscorpus import cross_corpus_matrix
from sera.errors import SeraError
from sera.labels import LABELS
from sera.recipes import Recipe

FAST = Recipe(model="logreg", features="stats", params={})


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """A small synthetic corpus whose last four speakers are relabelled as a second corpus."""
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, num_speakers=8, per_emotion=2, seed=0)
    manifest = scan(root).manifest
    speakers = sorted(manifest["speaker"].unique())
    other = manifest["speaker"].isin(speakers[4:])
    manifest.loc[other, "corpus"] = "pseudo"
    return root, manifest


@pytest.fixture(scope="module")
def matrix(two_corpora, tmp_path_factory):
    _, manifest = two_corpora
    return cross_corpus_matrix(manifest, FAST, cache_dir=tmp_path_factory.mktemp("cache"))


def test_matrix_shape_counts_and_figures(matrix, two_corpora):
    _, manifest = two_corpora
    corpora = matrix["corpora"]
    assert corpora == ["pseudo", "synthetic"]
    sizes = manifest["corpus"].value_counts()
    for i in range(len(corpora)):
        for j, test_corpus in enumerate(corpora):
            if i != j:
                # Off the diagonal: every utterance of the other corpus is tested.
                assert matrix["n"][i][j] == sizes[test_corpus]
            else:
                # On it: only held-out speakers of the same corpus.
                assert 0 < matrix["n"][i][j] < sizes[test_corpus]
            assert 0.0 <= matrix["uar"][i][j] <= 1.0
    assert matrix["adapt"] == "speaker"
    assert matrix["pooled"]["n"] == matrix["n"][0][1] + matrix["n"][1][0]
    json.dumps(matrix)


def test_emotion_carries_across_the_pseudo_corpora(matrix):
    """Both halves come from one synthesiser, so a model trained on one must beat chance on the
    other; a matrix that mixed up rows, columns or labels would not."""
    off_diagonal = [matrix["uar"][0][1], matrix["uar"][1][0]]
    assert min(off_diagonal) > 1.5 / len(LABELS)


def test_one_corpus_and_augmented_recipes_are_refused(two_corpora):
    _, manifest = two_corpora
    with pytest.raises(SeraError, match="two corpora"):
        cross_corpus_matrix(manifest[manifest["corpus"] == "pseudo"], FAST)
    with pytest.raises(SeraError, match="augment"):
        cross_corpus_matrix(manifest, Recipe(model="logreg", features="stats",
                                             augment=("noise",)))


def test_cli_prints_the_matrix_and_writes_the_report(two_corpora, tmp_path):
    import sera.cli.robustness  # noqa: F401  (registers the command)
    from sera.cli._app import app

    _, manifest = two_corpora
    csv = tmp_path / "two.csv"
    manifest.to_csv(csv, index=False)
    report = tmp_path / "cc.html"
    result = CliRunner().invoke(app, ["crosscorpus", str(csv), "--model", "logreg",
                                      "--features", "stats", "--json", "--report", str(report),
                                      "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["corpora"] == ["pseudo", "synthetic"]
    assert np.array(document["uar"]).shape == (2, 2)
    page = report.read_text()
    assert "Cross-corpus" in page and "pseudo" in page
