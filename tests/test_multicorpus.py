"""Several corpora in one run: corpus balance, a class one corpus lacks, per-corpus figures,
leave-one-corpus-out both ways, calibrated bundles, and recipe files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sera
import sera.cli.train  # noqa: F401  registers `sera train` and `sera cv`
from sera.calibration import apply_temperature, temperature_for
from sera.cli._app import app
from sera.corpora import load_manifest
from sera.corpora.synth import synthesize
from sera.crossval import cross_validate
from sera.errors import SeraError
from sera.recipes import Recipe, load_recipe, recipe_sources
from sera.train import sample_weights, train

FAST = Recipe(model="logreg", features="stats", params={"C": 1.0}, balance="corpus")


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """Two synthetic corpora under other names; the second has no disgust (like nEMO)."""
    root = tmp_path_factory.mktemp("two")
    synthesize(root / "voices", num_speakers=6, per_emotion=2, seed=0)
    manifest = pd.read_csv(root / "voices" / "manifest.csv")
    parts = []
    for name, speakers in (("alpha", manifest["speaker"].unique()[:3]),
                           ("beta", manifest["speaker"].unique()[3:])):
        part = manifest[manifest["speaker"].isin(speakers)].copy()
        if name == "beta":
            part = part[part["emotion"] != "disgust"]
        part["corpus"] = name
        part["speaker"] = part["speaker"].str.replace("synthetic-", f"{name}-")
        part["path"] = [str(root / "voices" / p) for p in part["path"]]
        out = root / f"{name}.csv"
        part.to_csv(out, index=False)
        parts.append(out)
    return parts


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_manifests_of_several_corpora_join(two_corpora):
    manifest = load_manifest(two_corpora)
    assert sorted(manifest["corpus"].unique()) == ["alpha", "beta"]
    assert manifest["path"].is_unique
    assert "disgust" not in set(manifest.loc[manifest["corpus"] == "beta", "emotion"])
    with pytest.raises(SeraError):
        load_manifest([])


def test_corpus_balance_gives_each_corpus_the_same_weight():
    frame = pd.DataFrame({"corpus": ["a"] * 30 + ["b"] * 10})
    weights = sample_weights(frame, "corpus")
    assert weights[:30].sum() == pytest.approx(weights[30:].sum())
    assert weights.mean() == pytest.approx(1.0)
    assert sample_weights(frame, "none") is None
    with pytest.raises(SeraError):
        sample_weights(frame, "language")


def test_leave_one_corpus_out_both_ways_with_calibration(two_corpora, cache):
    result = cross_validate(two_corpora, FAST, split="corpus", cache_dir=cache)
    assert [f["fold"] for f in result.folds] == ["alpha", "beta"]
    by_corpus = result.metrics["by_corpus"]
    assert set(by_corpus) == {"alpha (held out)", "beta (held out)"}
    assert by_corpus["beta (held out)"]["n"] == (result.predictions["corpus"] == "beta").sum()
    for figures in by_corpus.values():
        assert {"uar_single_clip", "uar_adapted", "ece_single_clip", "ece_adapted"} <= set(figures)
    metrics = result.metrics
    assert set(metrics["single_clip"]) >= {"uar", "ece", "ece_uncalibrated"}
    assert set(metrics["reliability"]) == {"adapted, uncalibrated", "adapted, calibrated",
                                           "single clip, calibrated"}
    assert sum(metrics["reliability"]["adapted, calibrated"]["count"]) == metrics["n"]
    # The pooled adapted figure is the one the folds' predictions give.
    truth, predicted = result.predictions["emotion"], result.predictions["predicted"]
    assert metrics["accuracy"] == pytest.approx((truth == predicted).mean())


def test_multi_corpus_bundle_is_calibrated_on_every_path(two_corpora, cache, tmp_path):
    out = tmp_path / "model"
    result = train(two_corpora, FAST, split="none", out=out, cache_dir=cache)
    config = json.loads((out / "config.json").read_text())
    calibration = config["calibration"]
    assert calibration["method"] == "temperature"
    assert set(calibration["by_adapt"]) == {"none", "speaker"}
    assert all(t > 0 for t in calibration["by_adapt"].values())
    assert config["training"]["corpora"] == {"alpha": 42, "beta": 36}
    assert config["training"]["recipe"]["balance"] == "corpus"
    model = sera.load(out)
    manifest = load_manifest(two_corpora).iloc[::7]
    X = np.stack([model.features(*_read(p)) for p in manifest["path"]])
    raw = model.bundle.predict_proba(model.normalizer.transform(X, adapt="none"))
    expected = apply_temperature(raw, temperature_for(calibration, "none"))
    np.testing.assert_allclose(model.predict_proba(X, adapt="none"), expected, atol=1e-5)
    assert not np.allclose(expected, raw, atol=1e-3)  # the temperature did something
    # Model.predict goes through the same place: its scores are the calibrated ones.
    first = model.predict(manifest["path"].iloc[0])
    assert first.scores[first.label] == pytest.approx(float(expected[0].max()), abs=1e-5)
    assert result.fitted.calibration == calibration


def test_cli_cv_takes_several_corpora(two_corpora, cache):
    run = CliRunner().invoke(app, ["cv", *map(str, two_corpora), "--model", "logreg",
                                   "--features", "stats", "--split", "corpus", "--json",
                                   "--cache", str(cache)])
    assert run.exit_code == 0, run.output
    metrics = json.loads(run.stdout)
    assert set(metrics["by_corpus"]) == {"alpha (held out)", "beta (held out)"}
    assert "ece" in metrics


def test_recipe_file_round_trip(tmp_path, two_corpora):
    recipe_file = tmp_path / "small.toml"
    recipe_file.write_text(f"""
[data]
corpora = ["{two_corpora[0].name}", "{two_corpora[1]}"]
[features]
set = "stats"
[model]
name = "logreg"
params = {{ C = 0.5 }}
[adaptation]
mode = "speaker"
estimator = "median"
prior_weight = 20
reference = "neutral"
[training]
balance = "corpus"
[calibration]
method = "none"
""")
    # A relative corpus path is relative to the recipe file, wherever it runs from.
    (tmp_path / two_corpora[0].name).write_text(two_corpora[0].read_text())
    recipe = load_recipe(recipe_file)
    assert recipe.name == "small" and recipe.features == "stats"
    assert recipe.params == {"C": 0.5} and recipe.prior_weight == 20.0
    assert (recipe.estimator, recipe.reference, recipe.balance, recipe.calibration) == (
        "median", "neutral", "corpus", "none")
    assert recipe.data == (two_corpora[0].name, str(two_corpora[1]))
    assert recipe_sources(recipe, recipe_file) == [str(tmp_path / two_corpora[0].name),
                                                   str(two_corpora[1])]
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nnmae = 'logreg'\n")
    with pytest.raises(SeraError, match="unknown key 'nmae'"):
        load_recipe(bad)
    bad.write_text("[modle]\nname = 'logreg'\n")
    with pytest.raises(SeraError, match=r"unknown recipe table \[modle\]"):
        load_recipe(bad)


def test_shared_corpora_leave_one_corpus_out(ravdess_dir, nemo_dir, tmp_path):
    """A small real subset: two RAVDESS actors and two nEMO speakers, a few clips each."""
    frames = []
    for source, speakers in ((ravdess_dir, ["ravdess-01", "ravdess-02"]),
                             (nemo_dir, ["nemo-KD0", "nemo-WR0"])):
        manifest = load_manifest(source)
        part = manifest[manifest["speaker"].isin(speakers)]
        frames.append(part.groupby(["speaker", "emotion"]).head(3))
    subset = pd.concat(frames, ignore_index=True)
    result = cross_validate(subset, FAST, split="corpus", cache_dir=tmp_path)
    assert set(result.metrics["by_corpus"]) == {"nemo (held out)", "ravdess (held out)"}
    nemo = result.predictions[result.predictions["corpus"] == "nemo"]
    assert len(nemo) == 2 * 6 * 3 and "disgust" not in set(nemo["emotion"])
    assert result.metrics["per_class"]["disgust"]["support"] == 2 * 3


def _read(path):
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32")
    return y, sr




def test_combined_features_from_part_stores(two_corpora, cache):
    from sera.features.store import cached_features

    manifest = load_manifest(two_corpora).iloc[:4]
    both = cached_features(manifest, "stats+egemaps", cache_dir=cache)
    stats = cached_features(manifest, "stats", cache_dir=cache)
    assert both.X.shape == (4, 497 + 88)
    np.testing.assert_array_equal(both.X[:, :497], stats.X)
    assert both.feature_names[0].startswith("stats:")
    empty = cached_features(manifest.iloc[:0], "stats+egemaps", cache_dir=cache)
    assert empty.X.shape == (0, 497 + 88)


def test_neutral_reference_bundle_adapts_like_training(two_corpora, cache, tmp_path):
    """The run-time two-pass (neutral weights from a first pass) matches the training code's."""
    from dataclasses import replace

    recipe = replace(FAST, reference="neutral", calibration="none")
    out = tmp_path / "model"
    result = train(two_corpora, recipe, split="none", out=out, cache_dir=cache)
    model = sera.load(out)
    assert model.normalizer.reference == "neutral"
    manifest = load_manifest(two_corpora)
    test = manifest[manifest["speaker"] == manifest["speaker"].iloc[0]]
    X = np.stack([model.features(*_read(p)) for p in test["path"]])
    served = model.predict_proba(X, adapt="speaker", groups=test["speaker"].tolist())
    trained = result.fitted.predict_proba(X, test, adapt="speaker")
    np.testing.assert_allclose(served, trained, atol=1e-4)
    # A group with no neutral-sounding clip keeps the training location: as a single clip's.
    first = model.predict_proba(X, adapt="none")
    not_neutral = first.argmax(1) != list(model.labels).index("neutral")
    alone = model.predict_proba(X[not_neutral], adapt="speaker",
                                groups=["g"] * int(not_neutral.sum()))
    shift = model.normalizer.statistics(X[not_neutral], np.zeros(int(not_neutral.sum())))[0]
    np.testing.assert_allclose(shift, model.normalizer.mean, atol=1e-4)
    assert alone.shape == (int(not_neutral.sum()), 7)


def test_each_corpus_masks_only_the_labels_it_lacks():
    from sera.labels import LABELS
    from sera.train import label_mask

    frame = pd.DataFrame({"corpus": ["a", "a", "b", "b"],
                          "emotion": ["disgust", "sad", "sad", "angry"]})
    mask = label_mask(frame)
    allowed = [{LABELS[j] for j in np.flatnonzero(row)} for row in mask]
    unused = set(LABELS) - {"disgust", "sad", "angry"}
    assert allowed[0] == allowed[1] == {"disgust", "sad"} | unused
    assert allowed[2] == allowed[3] == {"sad", "angry"} | unused
    assert label_mask(frame[frame["corpus"] == "b"]).all()


def test_fit_hands_each_corpus_mask_to_the_model_and_warns_where_it_cannot():
    from sera.labels import LABELS
    from sera.models.classical import LogisticClassifier
    from sera.train import fit, label_mask

    rng = np.random.default_rng(0)
    emotion = np.array(["angry", "sad", "disgust"] * 20 + ["angry", "sad"] * 30)
    frame = pd.DataFrame({"corpus": ["a"] * 60 + ["b"] * 60, "emotion": emotion,
                          "speaker": ["a1"] * 60 + ["b1"] * 60})
    centres = {"angry": [0.0, 0.0], "sad": [2.0, 0.0], "disgust": [1.0, 1.7]}
    X = np.array([centres[e] for e in emotion]) + rng.standard_normal((120, 2))
    recipe = Recipe(model="logreg", adapt="none", calibration="none")
    fitted = fit((X, frame), recipe)
    Xn = fitted.normalizer.transform(X)
    y = np.array([LABELS.index(e) for e in emotion])
    masked = LogisticClassifier(seed=0).fit(Xn, y, label_mask=label_mask(frame))
    plain = LogisticClassifier(seed=0).fit(Xn, y)
    np.testing.assert_allclose(fitted.estimator.coef_, masked.coef_)
    assert not np.allclose(fitted.estimator.coef_, plain.coef_, atol=1e-3)
    with pytest.warns(UserWarning, match="cannot mask labels"):
        fit((X, frame), Recipe(model="hgb", adapt="none", calibration="none",
                               params={"max_iter": 5}))


def test_corpus_calibration_is_fitted_on_corpora_held_out_and_is_humbler():
    """``temperature-corpus`` fits on leave-one-corpus-out predictions: a corpus whose classes
    sit elsewhere in feature space than the other's is predicted worse held out, so its
    temperature is higher than the one of speaker folds, where every corpus was heard."""
    from sera.labels import LABELS
    from sera.train import out_of_fold_calibration

    rng = np.random.default_rng(0)
    rows, X = [], []
    for corpus, shift in (("a", 0.0), ("b", 1.5)):
        for speaker in range(4):
            for i, label in enumerate(LABELS[:4] * 10):
                centre = np.eye(8)[LABELS.index(label)] * 2.0 + shift * np.roll(
                    np.eye(8)[LABELS.index(label)], 3)
                X.append(centre + rng.standard_normal(8))
                rows.append({"path": f"{corpus}/{speaker}/{i}.wav", "corpus": corpus,
                             "speaker": f"{corpus}-{speaker}", "emotion": label,
                             "augment": "none"})
    X, frame = np.array(X, dtype=np.float32), pd.DataFrame(rows)
    recipe = Recipe(model="logreg", features="stats", adapt="none", params={"C": 1.0})
    by_speaker = out_of_fold_calibration((X, frame), recipe, by="speaker")
    by_corpus = out_of_fold_calibration((X, frame), recipe, by="corpus")
    assert by_corpus["fitted_on"] == "out-of-fold predictions of the 2 corpora, each held out once"
    assert "8 training speakers" in by_speaker["fitted_on"]
    assert by_corpus["temperature"] > 1.2 * by_speaker["temperature"]
    # One corpus has no other to hold out: speaker folds, as "temperature" does.
    one = frame["corpus"] == "a"
    single = out_of_fold_calibration((X[one.to_numpy()], frame[one]), recipe, by="corpus")
    assert "training speakers" in single["fitted_on"]
