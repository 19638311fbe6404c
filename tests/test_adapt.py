"""Adaptive normalisation: group statistics, shrinkage toward the training statistics."""

from __future__ import annotations

import numpy as np
import pytest

from sera.adapt import Normalizer, subsample_statistics_augment


def _speakers(seed=0, n_speakers=4, per_speaker=50, dim=3):
    """Rows whose speaker shifts every feature by an offset far larger than the noise."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 10, size=(n_speakers, dim))
    X = np.concatenate([offsets[s] + rng.normal(0, 1, size=(per_speaker, dim))
                        for s in range(n_speakers)])
    groups = np.repeat([f"s{s}" for s in range(n_speakers)], per_speaker)
    return X, groups, offsets


def test_speaker_mode_std_is_the_pooled_within_speaker_spread():
    X, groups, _ = _speakers()
    normalizer = Normalizer.fit(X, groups, mode="speaker")
    assert np.allclose(normalizer.std, 1.0, atol=0.15)  # the noise, not the speaker offsets
    assert np.all(Normalizer.fit(X, mode="none").std > 3)  # global spread includes offsets


def test_large_groups_are_normalised_by_their_own_statistics():
    X, groups, _ = _speakers()
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=0.0)
    Z = normalizer.transform(X, groups)
    for g in np.unique(groups):
        assert np.allclose(Z[groups == g].mean(axis=0), 0, atol=1e-5)
        assert np.allclose(Z[groups == g].std(axis=0), 1, atol=1e-4)


def test_one_clip_is_shrunk_almost_to_the_training_statistics():
    X, groups, _ = _speakers()
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=10.0)
    clip = X[:1] + 5.0
    alone = normalizer.transform(clip, groups=["new"])
    global_only = normalizer.transform(clip, adapt="none")
    # n=1, k=10: the group mean moves 1/11 of the way toward the clip
    expected_mean = (clip[0] + 10 * normalizer.mean) / 11
    assert np.allclose(normalizer.statistics(clip)[0], expected_mean, rtol=1e-6)
    assert np.allclose(alone, global_only * (10 / 11) / np.sqrt(10 / 11), rtol=1e-4)


def test_shrinkage_weight_grows_with_the_group():
    X, groups, offsets = _speakers()
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=10.0)
    shifted = offsets[0] + 30.0 + np.random.default_rng(1).normal(0, 1, size=(40, 3))
    distances = [np.abs(normalizer.statistics(shifted[:n])[0] - shifted[:n].mean(axis=0)).max()
                 for n in (1, 5, 40)]
    assert distances[0] > distances[1] > distances[2]


def test_transform_keeps_row_order_and_dtype():
    X, groups, _ = _speakers()
    order = np.random.default_rng(3).permutation(len(X))
    normalizer = Normalizer.fit(X, groups, mode="speaker")
    Z = normalizer.transform(X, groups)
    Z_shuffled = normalizer.transform(X[order], groups[order])
    assert Z_shuffled.dtype == np.float32
    assert np.allclose(Z_shuffled, Z[order], atol=1e-5)


def test_config_round_trip():
    X, groups, _ = _speakers()
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=4.0)
    again = Normalizer.from_config(normalizer.to_config())
    assert again.mode == "speaker" and again.prior_weight == 4.0
    assert np.array_equal(again.transform(X, groups), normalizer.transform(X, groups))


def test_bad_modes_and_groups_are_refused():
    X, groups, _ = _speakers()
    with pytest.raises(ValueError, match="unknown adaptation"):
        Normalizer.fit(X, groups, mode="person")
    with pytest.raises(ValueError, match="needs a group"):
        Normalizer.fit(X, mode="speaker")
    normalizer = Normalizer.fit(X, groups, mode="speaker")
    with pytest.raises(ValueError, match="group ids"):
        normalizer.transform(X, groups[:-1])


def test_subsample_augment_is_seeded_and_lies_between_group_and_global():
    X, groups, _ = _speakers()
    y = np.arange(len(X)) % 7
    normalizer = Normalizer.fit(X, groups, mode="speaker")
    a, ya = subsample_statistics_augment(X, y, groups, normalizer, seed=0)
    b, _ = subsample_statistics_augment(X, y, groups, normalizer, seed=0)
    assert np.array_equal(a, b) and np.array_equal(ya, y)
    full = normalizer.transform(X, groups)
    glob = normalizer.transform(X, adapt="none")
    # statistics from a few clips are noisier than the group's own but closer than none
    err_sub = np.abs(a - full).mean()
    err_glob = np.abs(glob - full).mean()
    assert 0 < err_sub < err_glob


def test_median_estimator_ignores_an_outlier_clip():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (40, 3))
    groups = np.array(["a"] * 20 + ["b"] * 20)
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=0.0,
                                estimator="median")
    spoiled = X[:20].copy()
    spoiled[0] = 1000.0
    mean_stats = Normalizer.fit(X, groups, mode="speaker", prior_weight=0.0).statistics(spoiled)
    median_stats = normalizer.statistics(spoiled)
    assert np.abs(median_stats[0]).max() < 1.0 < np.abs(mean_stats[0]).min()
    assert Normalizer.from_config(normalizer.to_config()).estimator == "median"


def test_neutral_reference_keeps_a_one_sided_group():
    # Two training speakers: neutral clips at their own level, angry clips 3 above it.
    rng = np.random.default_rng(1)
    level = {"a": 0.0, "b": 5.0}
    X, groups, is_neutral = [], [], []
    for speaker, base in level.items():
        for neutral in (True, False):
            X.append(base + (0 if neutral else 3) + rng.normal(0, 0.1, (10, 2)))
            groups += [speaker] * 10
            is_neutral += [1.0 if neutral else 0.0] * 10
    X, groups, weights = np.vstack(X), np.array(groups), np.array(is_neutral)
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=2.0,
                                reference="neutral", weights=weights)
    assert normalizer.reference == "neutral"
    # A new speaker with neutral clips: normalised by the neutral baseline, angry stays high.
    new = np.vstack([10 + rng.normal(0, 0.1, (10, 2)), 13 + rng.normal(0, 0.1, (10, 2))])
    w = np.r_[np.ones(10), np.zeros(10)]
    out = normalizer.transform(new, np.array(["c"] * 20), weights=w)
    assert abs(out[:10].mean()) < 1.0 < out[10:].mean()
    # A group that is angry throughout has no neutral weight: the training location, as for
    # one clip, so the anger is kept.
    angry = new[10:]
    location, _ = normalizer.statistics(angry, np.zeros(10))
    np.testing.assert_allclose(location, normalizer.mean, atol=1e-5)
    assert normalizer.transform(angry, np.array(["c"] * 10), weights=np.zeros(10)).mean() > 1.0
    # Without the reference, the same group's own mean would erase the anger.
    plain = Normalizer.fit(X, groups, mode="speaker", prior_weight=0.0)
    assert abs(plain.transform(angry, np.array(["c"] * 10)).mean()) < 0.5
    assert Normalizer.from_config(normalizer.to_config()).reference == "neutral"


def test_skewed_subsets_use_the_rows_own_label():
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1, (40, 2))
    y = np.repeat([0, 1], 20)
    X[y == 1] += 4.0
    groups = np.array(["a"] * 40)
    normalizer = Normalizer.fit(X, groups, mode="speaker", prior_weight=0.0)
    plain, _ = subsample_statistics_augment(X, y, groups, normalizer, sizes=(8,), seed=0)
    skewed, _ = subsample_statistics_augment(X, y, groups, normalizer, sizes=(8,), seed=0,
                                             skew=True)
    # Rows normalised by their own label's clips sit near 0; mixed subsets keep a gap.
    gap_plain = plain[y == 1].mean() - plain[y == 0].mean()
    gap_skewed = skewed[y == 1].mean() - skewed[y == 0].mean()
    assert gap_skewed < 0.75 * gap_plain


# --- candidates of the dialogue bench -------------------------------------------------------


def _posteriors_with_priors(priors, n=4000, c=4, seed=0):
    """Calibrated posteriors of a classifier trained under uniform priors, for rows drawn under
    ``priors``: each row's label drawn, a likelihood vector around it, posterior = normalised
    likelihood (the uniform-prior Bayes posterior)."""
    from sera.adapt import prior_adjust

    rng = np.random.default_rng(seed)
    labels = rng.choice(c, n, p=priors)
    means = np.eye(c) * 2.0
    x = means[labels] + rng.normal(size=(n, c))
    loglik = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(axis=2)
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    return prior_adjust(lik, np.full(c, 1 / c)), labels


def test_em_recovers_known_priors_from_calibrated_posteriors():
    from sera.adapt import em_priors

    truth = np.array([0.7, 0.1, 0.1, 0.1])
    proba, _ = _posteriors_with_priors(truth)
    estimate = em_priors(proba)
    assert np.abs(estimate - truth).max() < 0.03
    # The mean posterior alone is pulled toward uniform; EM corrects that.
    assert abs(proba.mean(axis=0)[0] - 0.7) > abs(estimate[0] - 0.7)


def test_em_keeps_uniform_priors_and_prior_shift_reweights_per_group():
    from sera.adapt import em_priors, prior_shift

    proba, labels = _posteriors_with_priors(np.full(4, 0.25), seed=1)
    assert np.abs(em_priors(proba) - 0.25).max() < 0.03
    skewed, skew_labels = _posteriors_with_priors(np.array([0.85, 0.05, 0.05, 0.05]), seed=2)
    X = np.concatenate([proba, skewed])
    groups = ["even"] * len(proba) + ["skewed"] * len(skewed)
    out = prior_shift(X, groups)
    assert out.shape == X.shape and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    # The even group is (nearly) left alone; the skewed group's accuracy goes up.
    assert np.abs(out[:len(proba)] - proba).max() < 0.1
    before = (skewed.argmax(axis=1) == skew_labels).mean()
    after = (out[len(proba):].argmax(axis=1) == skew_labels).mean()
    assert after > before


def test_label_entropy_and_entropy_prior_weight():
    from sera.adapt import entropy_prior_weight, label_entropy

    even = np.eye(4)[np.arange(40) % 4]
    one = np.eye(4)[np.zeros(40, int)]
    assert label_entropy(even) == pytest.approx(1.0)
    assert label_entropy(one) == 0.0
    assert entropy_prior_weight(even, 10.0) == pytest.approx(10.0)
    assert entropy_prior_weight(one, 10.0) == float("inf")
    half = np.eye(4)[np.arange(40) % 2]      # two classes of four: h = 0.5
    assert entropy_prior_weight(half, 10.0) == pytest.approx(10.0 + 40)


def test_transform_with_prior_weights_spans_group_and_training_statistics():
    from sera.adapt import Normalizer, transform_with_prior_weights

    rng = np.random.default_rng(0)
    norm = Normalizer.fit(rng.normal(size=(200, 3)), rng.integers(0, 5, 200), mode="speaker")
    X = rng.normal(5.0, 1.0, size=(50, 3))
    groups = ["a"] * 25 + ["b"] * 25
    out = transform_with_prior_weights(norm, X, groups, {"a": float("inf"), "b": 0.0})
    assert np.allclose(out[:25], norm.transform(X[:25], adapt="none"), atol=1e-5)
    assert np.allclose(out[25:].mean(axis=0), 0.0, atol=1e-5)


def test_guard_returns_the_unadapted_answer_when_a_group_collapses_or_moves_far():
    from sera.adapt import collapsed, guarded, posterior_distance

    rng = np.random.default_rng(0)
    unadapted = rng.dirichlet(np.ones(4), size=30).astype(np.float32)
    adapted = unadapted.copy()
    adapted[:10] = np.eye(4, dtype=np.float32)[2] * 0.9 + 0.025     # group a collapses on 2
    adapted[10:20] = np.roll(unadapted[10:20], 1, axis=1)             # group b moves far
    adapted[20:] = 0.9 * unadapted[20:] + 0.1 * 0.25                  # group c moves a little
    groups = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    assert collapsed(adapted[:10]) and not collapsed(unadapted[:10])
    assert posterior_distance(adapted[20:], unadapted[20:]) < 0.1
    out, back = guarded(adapted, unadapted, groups, threshold=0.2)
    assert back == ["a", "b"]
    assert np.array_equal(out[:20], unadapted[:20])
    assert np.array_equal(out[20:], adapted[20:])
    # A group already one-sided before adaptation keeps its adapted answers.
    same = np.tile(np.eye(4, dtype=np.float32)[1], (10, 1))
    out, back = guarded(same, same, ["x"] * 10, threshold=0.2)
    assert back == []


def test_a_group_one_sided_before_adaptation_keeps_its_unadapted_answers():
    """unless_one_sided: a group whose unadapted answers all fall on one or two classes (a held
    mood) keeps them; a group whose answers spread over every class gets the adapted ones."""
    from sera.adapt import label_entropy, unless_one_sided

    eye = np.eye(7, dtype=np.float32) * 0.6 + 0.4 / 7
    spread = eye[np.arange(14) % 7]                  # every class twice: entropy 1
    moody = eye[[3] * 5 + [4]]                       # one class, and one other once
    adapted = np.roll(np.concatenate([spread, moody]), 2, axis=1)
    unadapted = np.concatenate([spread, moody])
    groups = ["even"] * 14 + ["moody"] * 6
    assert label_entropy(moody) < 0.4 < label_entropy(spread)
    out, left = unless_one_sided(adapted, unadapted, groups, threshold=0.6)
    assert left == ["moody"]
    assert np.array_equal(out[:14], adapted[:14]) and np.array_equal(out[14:], unadapted[14:])
    out, left = unless_one_sided(adapted, unadapted, groups, threshold=0.0)
    assert left == [] and np.array_equal(out, adapted)
    # Thresholds by group size: the 6-row group is judged by threshold[6] (its entropy is
    # 0.23), the 14-row group (past the table's end) by the last one.
    assert label_entropy(moody) == pytest.approx(0.232, abs=0.001)
    assert unless_one_sided(adapted, unadapted, groups, [0.0] * 6 + [0.2, 1.01])[1] == ["even"]
    assert unless_one_sided(adapted, unadapted, groups, [0.0] * 6 + [0.5, 0.9])[1] == ["moody"]
