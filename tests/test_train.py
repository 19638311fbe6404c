"""Training, cross-validation and evaluation end to end on a small synthetic corpus."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import sera
from sera.corpora import load_manifest
from sera.corpora.synth import synthesize
from sera.crossval import cross_validate
from sera.evaluate import default_adapt, evaluate
from sera.features import extract_features
from sera.labels import LABELS
from sera.recipes import Recipe
from sera.splits import LeakageWarning
from sera.train import train

FAST = Recipe(model="logreg", features="stats", params={"C": 1.0})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synthesize(out, num_speakers=6, per_emotion=3, seed=0)
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def trained(corpus, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "model"
    return train(corpus, FAST, split="speaker", out=out, cache_dir=cache), out


def test_speaker_split_training_writes_a_bundle_with_held_out_figures(trained):
    result, out = trained
    assert {"config.json", "model.onnx", "card.md"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "config.json").read_text())
    assert config["features"]["name"] == "stats"
    assert config["normalization"]["mode"] == "speaker"
    assert set(result.metrics) >= {"n", "accuracy", "uar", "macro_f1", "per_class", "confusion"}
    # test speakers were never trained on
    held_out = set(result.metrics["breakdown"]["speaker"])
    assert held_out and not held_out & set(config["training"]["speaker_ids"])
    assert 0.0 <= result.metrics["uar"] <= 1.0
    assert "synthetic" in (out / "card.md").read_text()


def test_bundle_predictions_match_the_training_framework(trained, corpus):
    result, out = trained
    model = sera.load(out)
    manifest = load_manifest(corpus).iloc[::9]
    table = extract_features(manifest, "stats")
    expected = result.fitted.predict_proba(table.X, table.frame, adapt="none")
    got = np.array([list(p.scores.values()) for p in model.predict_many(list(manifest["path"]))[0]])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_training_is_deterministic(corpus, cache, trained):
    again = train(corpus, FAST, split="speaker", cache_dir=cache)
    assert again.metrics["confusion"] == trained[0].metrics["confusion"]
    X = np.random.default_rng(0).standard_normal((5, 497)).astype(np.float32)
    np.testing.assert_array_equal(again.fitted.estimator.predict_proba(X),
                                  trained[0].fitted.estimator.predict_proba(X))


def test_evaluate_leaves_out_training_speakers_and_adapts_per_speaker(trained, corpus):
    _, out = trained
    metrics = evaluate(sera.load(out), corpus, workers=1)
    config = json.loads((out / "config.json").read_text())
    assert set(metrics["excluded_training_speakers"]) == set(config["training"]["speaker_ids"])
    assert set(metrics["breakdown"]["speaker"]).isdisjoint(config["training"]["speaker_ids"])
    assert metrics["adapt"] == "speaker" == default_adapt(load_manifest(corpus))
    assert metrics["confusion"]["labels"] == list(LABELS)
    everyone = evaluate(sera.load(out), corpus, include_training_speakers=True, adapt="none",
                        workers=1)
    assert everyone["n"] == len(load_manifest(corpus)) > metrics["n"]


def test_loso_holds_out_every_speaker_once(corpus, cache):
    seen = []
    result = cross_validate(corpus, FAST, split="loso", cache_dir=cache,
                            on_fold=lambda name, m: seen.append(name))
    speakers = sorted(load_manifest(corpus)["speaker"].unique())
    assert sorted(seen) == speakers
    assert result.metrics["n"] == len(load_manifest(corpus))
    assert sorted(result.predictions["fold"].unique()) == speakers
    assert (result.predictions["fold"] == result.predictions["speaker"]).all()


def test_random_split_warns_that_it_leaks(corpus, cache):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(corpus, Recipe(model="logreg", features="stats", adapt="none",
                                      augment=("noise",)), split="random", cache_dir=cache)
    assert any(issubclass(w.category, LeakageWarning) for w in caught)
    assert result.training["rows_with_augmentation"] > result.training["utterances"]
    # The figures themselves say so, wherever they go (JSON, reports), not only the CLI.
    assert result.metrics["warning"] == "inflated by leakage (random split over augmented rows)"
    honest = train(corpus, Recipe(model="logreg", features="stats", adapt="none"),
                   split="speaker", cache_dir=cache)
    assert "warning" not in honest.metrics


def test_augmentation_only_touches_training_speakers(corpus, cache):
    result = train(corpus, Recipe(model="logreg", features="stats", augment=("noise",),
                                  params={"C": 1.0}), split="speaker", cache_dir=cache)
    assert result.training["rows_with_augmentation"] == 2 * result.training["utterances"]
    assert set(result.metrics["breakdown"]["speaker"]).isdisjoint(
        result.training["speaker_ids"])


def test_compact_cnn_trains_and_exports(corpus, cache, tmp_path):
    recipe = Recipe(model="compact-cnn", features="logmel", adapt="none",
                    params={"max_epochs": 2})
    result = train(corpus, recipe, split="speaker", out=tmp_path / "cnn", cache_dir=cache)
    assert len(result.history) == 2 and "val_uar" in result.history[0]
    model = sera.load(tmp_path / "cnn")
    clip = load_manifest(corpus)["path"].iloc[0]
    table = extract_features(load_manifest(corpus).iloc[:1], "logmel")
    expected = result.fitted.predict_proba(table.X, table.frame, adapt="none")[0]
    np.testing.assert_allclose(list(model.predict(clip).scores.values()), expected, atol=1e-4)


def test_cli_train_cv_and_evaluate_print_the_design_schema(corpus, cache, tmp_path):
    def sera_cli(*args):
        done = subprocess.run([sys.executable, "-m", "sera", *map(str, args)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    bundle = tmp_path / "m"
    sera_cli("train", corpus, "--model", "logreg", "--features", "stats", "--out", bundle,
             "--cache", cache, "--json")
    done = sera_cli("evaluate", bundle, corpus, "--json", "--report", tmp_path / "r.html")
    metrics = json.loads(done.stdout)
    assert {"n", "accuracy", "uar", "macro_f1", "per_class", "confusion"} <= set(metrics)
    assert (tmp_path / "r.html").stat().st_size > 10_000
    done = sera_cli("cv", corpus, "--model", "logreg", "--features", "stats", "--cache", cache,
                    "--json")
    assert len(json.loads(done.stdout)["folds"]) == 6


def test_bad_files_are_listed_and_training_goes_on(corpus, cache, tmp_path):
    manifest = load_manifest(corpus)
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    bad = manifest.iloc[:1].assign(path=str(broken))
    result = train(pd.concat([manifest, bad], ignore_index=True), FAST, split="speaker",
                   cache_dir=cache)
    assert [path for path, _ in result.failures] == [str(broken)]
    assert "not a readable audio file" in result.failures[0][1]
    assert result.training["utterances"] + result.metrics["n"] < len(manifest) + 1


def test_cv_with_augmentation_trains_each_fold_on_its_own_speakers_copies(corpus, cache,
                                                                          monkeypatch):
    import sera.crossval as crossval_module

    seen = []
    real_fit = crossval_module.fit

    def spy(rows, recipe, val=None, **options):
        seen.append(rows[1])
        return real_fit(rows, recipe, val=val, **options)

    monkeypatch.setattr(crossval_module, "fit", spy)
    recipe = Recipe(model="logreg", features="stats", augment=("gain",), params={"C": 1.0})
    result = cross_validate(corpus, recipe, split="loso", cache_dir=cache)
    assert len(seen) == load_manifest(corpus)["speaker"].nunique()
    for (fold, frame), held_out in zip(result.predictions.groupby("fold", sort=False),
                                       seen, strict=True):
        assert fold not in set(held_out["speaker"])
        assert set(held_out["augment"]) == {"none", "gain"}
        assert not set(held_out["path"]) & set(frame["path"])
