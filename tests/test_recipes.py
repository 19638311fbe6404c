"""Recipe files: every one loads, the default one is the code's default, and every figure of
the results page (docs/results.md) and the README's headline that names a recipe file or a
study is the figure its study JSON (or the shipped bundle) holds."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from sera.errors import FeatureError, InputError, SeraError, UnknownModelError
from sera.recipes import DEFAULT_RECIPE, Recipe, load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").rglob("*.toml"))
README = (ROOT / "README.md").read_text()
RESULTS = (ROOT / "docs" / "results.md").read_text()
DOCS = [README, *(path.read_text() for path in sorted((ROOT / "docs").rglob("*.md")))]
STUDY = ROOT / "docs" / "results" / "transfer.json"


def test_there_are_recipes_and_each_loads():
    assert (ROOT / "recipes" / "default.toml") in RECIPES
    for path in RECIPES:
        recipe = load_recipe(path)
        assert recipe.name == path.stem
        recipe.feature_set  # noqa: B018  the feature set exists


def test_default_recipe_file_is_the_default_recipe():
    recipe = load_recipe(ROOT / "recipes" / "default.toml")
    assert replace(recipe, data=()) == DEFAULT_RECIPE
    assert recipe.data  # it names its corpora


@pytest.mark.parametrize(("fields", "error", "problem"), [
    ({"adapt": "spekaer"}, InputError, "unknown adaptation 'spekaer'; choose one of none, "
                                       "recording, speaker, corpus"),
    ({"calibration": "tempreature"}, InputError, "unknown calibration 'tempreature'; choose "
                                                 "one of temperature, temperature-corpus, none"),
    ({"augment": ("noise", "nosie")}, InputError, "unknown augmentation 'nosie'; choose one of "
                                                  "noise, stretch"),
    ({"augment": "noise"}, InputError, "augment must be a list of augmentations, not 'noise'"),
    ({"prior_weight": -1}, InputError, "prior_weight must be a number of at least 0, not -1"),
    ({"prior_weight": "10"}, InputError, "prior_weight must be a number of at least 0"),
    ({"seed": "x"}, InputError, "seed must be int, not 'x'"),
    ({"seed": -1}, InputError, "seed must be a number from 0 to"),
    ({"seed": 1.5}, InputError, "seed must be int, not 1.5"),
    ({"model": "svn"}, UnknownModelError, "unknown model 'svn'; choose one of seed-cnn1d"),
    ({"features": "compare+stast"}, FeatureError, "unknown feature set 'stast'"),
    ({"estimator": "mode"}, InputError, "unknown estimator 'mode'; choose one of mean, median"),
    ({"reference": "calm"}, InputError, "unknown reference 'calm'; choose one of neutral"),
    ({"balance": "speaker"}, InputError, "unknown balance 'speaker'; choose one of none, corpus"),
    ({"skew": "yes"}, InputError, "skew must be bool, not 'yes'"),
    ({"babble": "crowd"}, InputError, "unknown babble 'crowd'; choose one of self, others"),
    ({"params": [("C", 1)]}, InputError, "params must be dict"),
    ({"data": "ravdess"}, InputError, "data must be tuple or list, not 'ravdess'"),
    ({"features": "stats", "feature_params": {"frames": "speach"}}, FeatureError,
     "unknown stats frames 'speach'; choose one of all, speech"),
    ({"features": "stats", "feature_params": {"n_ftt": 512}}, FeatureError,
     "feature set 'stats' has no parameter 'n_ftt'"),
])
def test_a_bad_recipe_field_fails_at_construction_naming_it(fields, error, problem):
    with pytest.raises(error, match=re.escape(problem)):
        Recipe(**fields)


def test_good_recipe_fields_are_kept_in_their_normal_form():
    recipe = Recipe(model="svm", features="hf:facebook/wav2vec2-base", adapt="recording",
                    augment=["noise", "floor"], prior_weight=0, seed=3, reference="neutral",
                    balance="corpus", calibration="none", data=["a", "b"])
    assert recipe.augment == ("noise", "floor") and recipe.data == ("a", "b")
    assert recipe.prior_weight == 0.0 and isinstance(recipe.prior_weight, float)
    assert replace(DEFAULT_RECIPE, augment=list(DEFAULT_RECIPE.augment)) == DEFAULT_RECIPE


def test_a_recipe_file_sets_feature_parameters(tmp_path):
    path = tmp_path / "speech.toml"
    path.write_text('[features]\nset = "stats"\nparams = { frames = "speech" }\n')
    recipe = load_recipe(path)
    assert recipe.feature_set.params["frames"] == "speech"
    assert recipe.feature_set != Recipe(features="stats").feature_set
    assert recipe.to_config()["feature_params"] == {"frames": "speech"}


def test_a_recipe_of_crowd_babble_gives_its_augmenter_the_training_speakers(tmp_path):
    """babble = "others": the augmenter's crowd is the manifest's utterances, each under its
    corpus and speaker (two corpora's speaker "01" are two speakers); "self": no crowd."""
    import pandas as pd

    from sera.train import recipe_augmenter

    path = tmp_path / "crowd.toml"
    path.write_text('[augmentation]\nkinds = ["floor", "channel"]\nbabble = "others"\n')
    recipe = load_recipe(path)
    manifest = pd.DataFrame({"path": ["a.wav", "b.wav", "c.wav"], "corpus": ["x", "y", "y"],
                             "speaker": ["01", "01", "02"]})
    augmenter = recipe_augmenter(recipe, manifest)
    assert recipe.babble == "others" and augmenter.kinds == ("floor", "channel")
    assert augmenter.crowd == {"a.wav": "x/01", "b.wav": "y/01", "c.wav": "y/02"}
    assert recipe_augmenter(replace(recipe, babble="self"), manifest).crowd is None
    assert recipe_augmenter(replace(recipe, augment=()), manifest) is None


def test_load_recipe_reports_a_bad_value_as_one_line_naming_the_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('[adaptation]\nmode = "spekaer"\n[training]\nseed = 1\n')
    with pytest.raises(SeraError) as caught:
        load_recipe(path)
    assert str(caught.value) == (f"{path}: unknown adaptation 'spekaer'; choose one of none, "
                                 f"recording, speaker, corpus")
    path.write_text("[adaptation]\nprior_weight = 5\n")
    assert load_recipe(path).prior_weight == 5.0


def test_every_recipe_file_the_docs_name_exists():
    named = {path for text in DOCS for path in re.findall(r"`(recipes/[\w/+.-]+\.toml)`", text)}
    assert len(named) >= 10, "the results page names no recipe file"
    for path in named:
        assert (ROOT / path).is_file(), path


#: Each committed study and the results page's paragraph its table follows.
STUDIES = {STUDY: "**What transfers: two corpora, two languages**",
           ROOT / "docs" / "results" / "transfer-masked.json": "**With label masks**"}


@pytest.mark.parametrize("study", STUDIES, ids=lambda path: path.name)
def test_results_study_rows_are_the_study_figures(study):
    document = json.loads(study.read_text())
    lines = RESULTS[RESULTS.index(STUDIES[study]):].splitlines()
    checked = 0
    for row in document["rows"]:
        line = next((line for line in lines if f"`{row['file']}`" in line), None)
        if line is None:
            continue
        folds = row["speaker_folds"]
        for condition in ("none", "balanced", "skew1", "skew3"):
            for corpus in ("ravdess", "nemo"):
                assert f"{folds[condition][f'uar_{corpus}']:.3f}" in line, (row["file"],
                                                                            condition, corpus)
        checked += 1
    assert checked >= 3
    if "nested" in document:
        # The nested figure the page quotes follows the paragraph's table.
        nested = document["nested"]["balanced"]
        text = "\n".join(lines)
        assert f"{nested['uar_ravdess']:.3f}" in text and f"{nested['uar_nemo']:.3f}" in text


def shipped_metrics() -> dict:
    from sera.infer import DEFAULT_MODEL

    config_path = DEFAULT_MODEL / "config.json"
    if not config_path.is_file():
        pytest.skip("the default model has not been built")
    return json.loads(config_path.read_text())["metrics"]


#: The corpora of the shipped model, as the pages name them.
CORPORA = {"ravdess": "RAVDESS", "nemo": "nEMO", "emovo": "EMOVO", "ased": "ASED"}


def test_readme_headline_figures_are_the_bundle_figures():
    """Each row of the README's results table is its corpus's adapted UAR in the bundle, on
    unseen speakers and with the corpus held out."""
    metrics = shipped_metrics()
    section = README[README.index("## Results"):]
    section = section[:section.index("\n## ", 1)]
    assert "`recipes/default.toml`" in section and "(docs/results.md)" in section
    for corpus, name in CORPORA.items():
        line = next(line for line in section.splitlines() if line.startswith(f"| {name} ("))
        speakers = metrics["by_corpus"][f"{corpus} (speaker folds)"]["uar_adapted"]
        held_out = metrics["leave_one_corpus_out"][f"{corpus} (held out)"]["uar_adapted"]
        assert line.endswith(f"| {speakers:.3f} | {held_out:.3f} |"), (corpus, line)


def test_results_shipped_model_figures_are_the_bundle_figures():
    metrics = shipped_metrics()
    section = RESULTS[RESULTS.index("## The shipped model"):RESULTS.index("## Measured results")]
    assert "`recipes/default.toml`" in section
    # Each corpus's rows of the section's table are that corpus's figures in the bundle.
    for table, protocol, label in (("by_corpus", "speaker folds", "unseen speakers"),
                                   ("leave_one_corpus_out", "held out", "corpus held out")):
        for corpus, name in CORPORA.items():
            figures = metrics[table][f"{corpus} ({protocol})"]
            line = next(line for line in section.splitlines()
                        if line.strip().startswith(f"| {name}, {label} |"))
            for field in ("uar_single_clip", "uar_adapted", "ece_single_clip", "ece_adapted"):
                assert f"{figures[field]:.3f}" in line, (corpus, protocol, field)
    for condition, figures in metrics["conditions"].items():
        line = next(line for line in section.splitlines()
                    if line.strip().startswith(f"| {condition} |"))
        assert f"{figures['uar_single_clip']:.3f} | {figures['uar_adapted']:.3f}" in line
    # The calibration trade quoted is the study's.
    study = json.loads((ROOT / "docs" / "results" / "channel.json").read_text())
    (row,) = [r for r in study["rows"] if r["recipe"] == metrics["study"]]
    trade = row["calibration_trade"]["adapted"]
    for name in ("corpora held out", "speaker folds"):
        held = trade[name]["ece_corpora_held_out"].values()
        for figure in (trade[name]["temperature"], trade[name]["ece_ravdess_speakers"],
                       min(held), max(held)):
            assert f"{figure:.3f}" in section, (name, figure)


@pytest.mark.parametrize("study", ["channel.json", "channel-speech.json", "channel-stats.json"])
def test_results_channel_study_rows_are_the_committed_figures(study):
    """Every row of the "Real microphones" tables is its recipe's row of a study."""
    study = json.loads((ROOT / "docs" / "results" / study).read_text())
    section = RESULTS[RESULTS.index("**Real microphones"):]
    section = section[:section.index("\n**", 10)]
    for row in study["rows"]:
        assert (ROOT / row["recipe"]).is_file()
        line = next(line for line in section.splitlines() if f"`{row['recipe']}`" in line)
        for figures in row["conditions"].values():
            assert f"{figures['adapted']['uar']:.3f}" in line, row["recipe"]
        for figures in row["corpus_folds"]["adapted"].values():
            if "uar" in figures:
                assert f"{figures['uar']:.3f}" in line, row["recipe"]


TWO_CORPUS = ROOT / "docs" / "results" / "two-corpus-loso.json"


def test_results_two_corpus_rows_are_the_committed_figures():
    result = json.loads(TWO_CORPUS.read_text())
    assert (ROOT / result["recipe"]).is_file()
    lines = RESULTS.splitlines()
    for name, key, table in (("RAVDESS (LOSO)", "ravdess (LOSO)", "by_corpus"),
                             ("nEMO (LOSO)", "nemo (LOSO)", "by_corpus"),
                             ("RAVDESS held out", "ravdess (held out)", "leave_one_corpus_out"),
                             ("nEMO held out", "nemo (held out)", "leave_one_corpus_out")):
        line = next(line for line in lines if line.startswith(f"| {name}"))
        figures = result[table][key]
        for field in ("uar_single_clip", "uar_adapted", "ece_single_clip", "ece_adapted"):
            assert f"{figures[field]:.3f}" in line, (name, field)


def test_results_two_corpus_compare_figures_are_the_committed_figures():
    result = json.loads((ROOT / "docs" / "results" / "two-corpus-loso-compare.json").read_text())
    assert (ROOT / result["recipe"]).is_file()
    paragraph = RESULTS[RESULTS.index("`docs/results/two-corpus-loso-compare.json`"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    for key in ("ravdess (LOSO)", "nemo (LOSO)"):
        for field in ("uar_adapted", "uar_single_clip"):
            assert f"{result['by_corpus'][key][field]:.3f}" in paragraph, (key, field)


def test_results_cnn_probe_figures_are_the_committed_figures():
    result = json.loads((ROOT / "docs" / "results" / "cnn-probe.json").read_text())
    paragraph = RESULTS[RESULTS.index("`docs/results/cnn-probe.json`"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    for row in result["rows"]:
        assert (ROOT / row["recipe"]).is_file()
        for corpus in ("ravdess", "nemo"):
            assert f"{row['by_corpus'][corpus]['uar']:.3f}" in paragraph, (row["recipe"], corpus)


DIALOGUE = ROOT / "docs" / "results" / "dialogue.json"


def test_results_dialogue_rows_are_the_bench_figures():
    """Every row of the dialogue table is the committed bench run's figure, every
    candidate on every mix, and the default it reports matches the selection."""
    result = json.loads(DIALOGUE.read_text())
    section = RESULTS[RESULTS.index("**Dialogues: speakers, emotions and adaptation**"):]
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("| | "))
    kinds = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert len(kinds) == 6 and all(kind in result for kind in kinds)

    def cells(start):
        line = next(line for line in lines if line.startswith(start))
        return [cell.strip() for cell in line.strip("|").split("|")][1:]

    assert cells("| speaker attribution |") == [
        f"{result[k]['speaker_attribution']:.3f}" for k in kinds]
    for candidate in result["candidates"]:
        assert cells(f"| UAR `{candidate}` |") == [
            f"{result[k]['uar'][candidate]:.3f}" for k in kinds], candidate
    assert cells("| UAR per true speaker") == [
        f"{result[k]['uar']['true speaker']:.3f}" for k in kinds]
    # No candidate met the rule, so analyze keeps adapting per speaker.
    chosen = {v["chosen"] for v in result["selection"].values() if isinstance(v, dict)}
    assert chosen == {"none"} and not result["selection"]["meeting_the_rule_on_all_pairs"]
    import inspect

    from sera.infer import Model

    assert inspect.signature(Model.analyze).parameters["adapt"].default == "speaker"


def test_results_second_dialogue_draw_is_its_json():
    result = json.loads((ROOT / "docs" / "results" / "dialogue-seed1.json").read_text())
    paragraph = RESULTS[RESULTS.index("`docs/results/dialogue-seed1.json`"):][:900]
    kinds = [k for k, v in result.items() if isinstance(v, dict) and "uar" in v]
    assert len(kinds) == 6
    for candidate in ("none", "speaker", "entropy shrinkage", "speaker, guarded"):
        figures = " / ".join(f"{result[k]['uar'][candidate]:.3f}" for k in kinds)
        assert f"`{candidate}` {figures}" in " ".join(paragraph.split()), candidate
    assert not result["selection"]["meeting_the_rule_on_all_pairs"]
    assert {v["chosen"] for v in result["selection"].values() if isinstance(v, dict)} == {"none"}


def test_results_conditions_bench_figures_are_the_committed_figures():
    result = json.loads((ROOT / "docs" / "results" / "bench-conditions.json").read_text())
    section = RESULTS[RESULTS.index("**Recording conditions, RAVDESS alone**"):]
    section = section[:section.index("\n**", 10)]
    assert result["recipe"]["augment"] == ["floor", "channel"]
    line = next(line for line in section.splitlines() if line.startswith("| UAR |"))
    assert line == "| UAR | " + " | ".join(f"{v:.3f}" for v in result["curve"].values()) + " |"


def test_results_diarization_floor_rows_are_the_study_figures():
    """The "Speakers under a noise floor" table is docs/results/diarization-floors.json, and
    its study ran with the noise subtraction sera ships."""
    from sera.speaker import encoder

    study = json.loads((ROOT / "docs" / "results" / "diarization-floors.json").read_text())
    assert study["noise_subtraction"] == {"quiet": encoder.NOISE_QUIET,
                                          "over": encoder.NOISE_OVER,
                                          "floor": encoder.NOISE_FLOOR}
    section = RESULTS[RESULTS.index("**Speakers under a noise floor**"):]
    lines = section[:section.index("\n\n", section.index("| front end"))].splitlines()
    for row, figures in study["rows"].items():
        found = next(line for line in lines if line.startswith(f"| {row}, count found |"))
        given = next(line for line in lines if line.startswith(f"| {row}, given two |"))
        for condition in figures.values():
            assert (f"{condition['attribution']:.3f} ({condition['count_right']}/"
                    f"{condition['dialogues']})") in found, row
            assert f"{condition['attribution_given_two']:.3f}" in given, row
