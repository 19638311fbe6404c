"""Arousal and valence on real speech: do the circumplex places of the label scores
(``sera.labels.CIRCUMPLEX``) order unseen speakers' clips the way their labels and acted
intensity say they should?

The model is the tests' small real bundle (``helpers_infer.real_bundle``: logistic regression on
``stats`` of a third of the clips of RAVDESS actors 01-10). It is judged on RAVDESS actors 11-18
(never trained on) and on nEMO, EMOVO and ASED clips (other languages, never trained on). Each
test skips without its corpus. ``pytest -s`` prints the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers_infer import real_bundle

import sera
from sera.labels import CIRCUMPLEX

HIGH = ("angry", "fear", "happy", "surprise")
LOW = ("neutral", "sad")

#: Clips per corpus for the other languages (every n-th of the manifest, all emotions kept).
OTHER_CLIPS = 120


@pytest.fixture(scope="module")
def model(ravdess_dir, tmp_path_factory) -> sera.Model:
    return sera.load(real_bundle(ravdess_dir, tmp_path_factory.getbasetemp() / "infer-bundle"),
                     threads=1)


def affect_of(model, manifest) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Arousal and valence of each clip of a manifest (training statistics: one clip at a
    time, as ``sera predict`` does), and its true emotion."""
    predictions, failures = model.predict_many(manifest["path"].tolist(), workers=1)
    assert not failures, failures
    return (np.array([p.arousal for p in predictions]), np.array([p.valence for p in predictions]),
            manifest["emotion"].tolist())


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


def spearman_with_truth(arousal: np.ndarray, emotions: list[str]) -> float:
    from scipy.stats import spearmanr

    truth = [CIRCUMPLEX[emotion][1] for emotion in emotions]
    return float(spearmanr(arousal, truth).statistic)


def class_means(values: np.ndarray, emotions: list[str]) -> dict[str, float]:
    emotions = np.array(emotions)
    return {e: float(values[emotions == e].mean()) for e in sorted(set(emotions))}


@pytest.fixture(scope="module")
def held_out_ravdess(ravdess_dir):
    from sera.corpora import scan

    manifest = scan(ravdess_dir).manifest
    return manifest[~manifest["speaker"].isin([f"ravdess-{a:02d}" for a in range(1, 11)])
                    ].reset_index(drop=True)


def test_strong_intensity_gets_higher_arousal_than_normal_on_unseen_actors(model,
                                                                          held_out_ravdess):
    # Neutral (and calm, merged into it) has no strong intensity: the other emotions, each
    # clip paired with the one of the same actor, emotion, statement and repetition.
    acted = held_out_ravdess[held_out_ravdess["emotion"] != "neutral"].reset_index(drop=True)
    arousal, _, _ = affect_of(model, acted)
    strong = (acted["intensity"] == "strong").to_numpy()
    pair = acted["path"].map(lambda path: Path(path).name.split("-"))
    pair = pair.map(lambda fields: "-".join(fields[:3] + fields[4:])).to_numpy()
    normal_of = dict(zip(pair[~strong], arousal[~strong], strict=True))
    wins = np.mean([a > normal_of[key] for key, a in zip(pair[strong], arousal[strong],
                                                          strict=True)])
    found = auc(arousal[strong], arousal[~strong])
    print(f"\nRAVDESS 11-18, strong vs normal intensity ({strong.sum()} pairs): mean arousal "
          f"{arousal[strong].mean():.3f} vs {arousal[~strong].mean():.3f}, AUC {found:.3f}, "
          f"strong above its normal twin in {wins:.3f} of pairs")
    assert strong.sum() == (~strong).sum() == len(normal_of)
    # 192 pairs: 0.55 is about one standard error and a half above chance (a sign test).
    assert wins > 0.55 and found > 0.55


def check_classes(name, arousal, valence, emotions, valence_test: bool):
    emotions_array = np.array(emotions)
    high = arousal[np.isin(emotions_array, HIGH)]
    low = arousal[np.isin(emotions_array, LOW)]
    found = auc(high, low)
    rho = spearman_with_truth(arousal, emotions)
    a_means, v_means = class_means(arousal, emotions), class_means(valence, emotions)
    print(f"\n{name} ({len(emotions)} clips): high vs low arousal classes AUC {found:.3f}, "
          f"Spearman with the true class's arousal {rho:.3f}")
    print("  mean arousal " + ", ".join(f"{e} {m:.3f}" for e, m in a_means.items()))
    print("  mean valence " + ", ".join(f"{e} {m:.3f}" for e, m in v_means.items()))
    assert high.mean() > low.mean()
    assert found > 0.65
    if valence_test:
        assert v_means["happy"] > v_means["sad"] and v_means["happy"] > v_means["angry"]


def test_high_arousal_classes_get_higher_arousal_and_happy_the_highest_valence_on_unseen_actors(
        model, held_out_ravdess):
    # Every other clip: each actor, emotion and intensity is kept.
    arousal, valence, emotions = affect_of(model, held_out_ravdess.iloc[::2])
    check_classes("RAVDESS 11-18", arousal, valence, emotions, valence_test=True)


@pytest.mark.parametrize("corpus", ["nemo", "emovo", "ased"])
def test_high_arousal_classes_get_higher_arousal_in_other_languages(model, corpus, request):
    from sera.corpora import scan

    folder: Path = request.getfixturevalue(f"{corpus}_dir")
    manifest = scan(folder).manifest
    step = max(1, len(manifest) // OTHER_CLIPS)
    sample = manifest.iloc[::step].reset_index(drop=True)
    arousal, valence, emotions = affect_of(model, sample)
    check_classes(corpus, arousal, valence, emotions, valence_test=False)
