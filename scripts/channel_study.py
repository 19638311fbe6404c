"""Does a recipe survive real microphones? Speaker folds, corpus folds and recording conditions.

    python scripts/channel_study.py recipes/study/four-corpora-clean.toml \
        recipes/default.toml --cache build/cache --out build/channel

Every recipe trains on the corpora of its ``[data]`` table (the four shared corpora). Features
come from one feature store per set, extracted once with every clip's clean original and its
``floor`` and ``channel`` copies (:mod:`sera.augment`); a recipe without augmentation uses the
originals only, a recipe with it the copies it names. For each recipe file:

``speaker folds``
    The speakers of every corpus dealt into ``--folds`` folds; each fold's model trains on
    every other speaker (of every corpus) and scores the held-out speakers' clean clips one
    clip at a time (``single``) and normalised by all of their clips (``adapted``).
``conditions``
    The held-out RAVDESS actors of each fold again, each clip under each recording condition
    of ``--conditions`` (:func:`sera.robustness.corrupt`; babble made of five other actors),
    scored the same two ways: what a user with a real microphone gets.
``corpus folds``
    Leave one corpus out: train on the other corpora, score the held-out corpus.
``calibration``
    Each speaker fold's probabilities are scaled by a temperature fitted on the *other* folds'
    predictions; each held-out corpus's by one fitted on the other held-out corpora (so a
    corpus it never heard gets a temperature that was never fitted on its labels). ECE per
    corpus, 10 bins.

Writes ``OUT/channel.json`` (every figure) and prints the table. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from sera.augment import crowd_of
from sera.calibration import (
    apply_temperature,
    cross_fitted_temperature,
    expected_calibration_error,
    fit_temperature,
)
from sera.corpora import load_manifest
from sera.features import get_feature_set
from sera.features.store import cached_features
from sera.labels import LABELS
from sera.metrics import evaluate_predictions
from sera.recipes import load_recipe, recipe_sources
from sera.robustness import corrupt, crowd_members
from sera.train import fit, recipe_augmenter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer_study import speaker_folds  # noqa: E402

#: The copies every clip's store row set holds besides the original.
POOL_KINDS = ("floor", "channel")

#: The conditions of the issue's table: faint to loud floors, babble, a room, a phone line.
DEFAULT_CONDITIONS = ("clean", "floor-white-60dbfs", "floor-white-50dbfs", "floor-white-40dbfs",
                      "floor-pink-50dbfs", "babble-10db", "room-0.5s", "phone-opus")


def condition_features(frame: pd.DataFrame, feature_set, conditions, cache: Path,
                       workers: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Features of every row's clip under each condition (cached as ``.npy`` per condition)."""
    members = crowd_members(frame["speaker"].to_numpy(), seed)
    crowd_paths = [list(frame["path"].iloc[members.get(i, [])]) for i in range(len(frame))]
    out = {}
    for condition in conditions:
        name = f"{feature_set.name}{_params_tag(feature_set)}-{condition}-{len(frame)}-{seed}.npy"
        if (cache / name).is_file():
            out[condition] = np.load(cache / name)
            continue
        jobs = [(feature_set.to_config(), path, condition, seed + i, crowd_paths[i])
                for i, path in enumerate(frame["path"])]
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_corrupted_features, jobs, chunksize=16))
        out[condition] = np.vstack(rows).astype(np.float32)
        np.save(cache / name, out[condition])
    return out


def _params_tag(feature_set) -> str:
    """A cache-name tag of a set's parameters where they are not the defaults (none for the
    shipped sets, whose cached files keep their names)."""
    parts = getattr(feature_set, "parts", None)
    if parts:
        return "".join(_params_tag(part) for part in parts)
    changed = {k: v for k, v in feature_set.params.items() if feature_set.defaults.get(k) != v}
    return "".join(f"-{k}={v}" for k, v in sorted(changed.items()))


def _corrupted_features(job) -> np.ndarray:
    from sera.audio import load

    config, path, condition, seed, crowd = job
    fs = get_feature_set(config)
    y = load(path, fs.sample_rate)
    voices = crowd_of([load(p, fs.sample_rate) for p in crowd], y.size, seed=seed) \
        if condition.startswith("babble") else None
    return fs.transform(fs.prepare(corrupt(y, fs.sample_rate, condition, seed=seed,
                                           crowd=voices)))


def scores(fitted, X, frame) -> dict[str, np.ndarray]:
    """Uncalibrated probabilities one clip at a time and adapted to each speaker."""
    return {"single": fitted.predict_proba(X, frame, adapt="none"),
            "adapted": fitted.predict_proba(X, frame, adapt="speaker")}


def figures(frame: pd.DataFrame, proba: np.ndarray) -> dict:
    """UAR and ECE of calibrated probabilities."""
    y = np.array([LABELS.index(e) for e in frame["emotion"]])
    predicted = [LABELS[i] for i in proba.argmax(axis=1)]
    metrics = evaluate_predictions(frame["emotion"].tolist(), predicted)
    return {"n": int(len(frame)), "uar": round(metrics["uar"], 4),
            "ece": round(expected_calibration_error(proba, y), 4)}


def study(recipe_file: Path, pool_X, pool_frame, conditions, folds: int) -> dict:
    recipe = load_recipe(recipe_file)
    kinds = {"none", *recipe.augment}
    rows = pool_frame["augment"].isin(kinds).to_numpy()
    X_all, frame_all = pool_X[rows], pool_frame[rows].reset_index(drop=True)
    original = (frame_all["augment"] == "none").to_numpy()
    X, frame = X_all[original], frame_all[original].reset_index(drop=True)
    fold = speaker_folds(frame, folds, seed=recipe.seed)
    fold_of = dict(zip(frame["speaker"], fold, strict=True))
    all_fold = frame_all["speaker"].map(fold_of).to_numpy()
    ravdess = (frame["corpus"] == "ravdess").to_numpy()
    started = time.perf_counter()

    # Speaker folds: clean clips of every corpus, and RAVDESS under each condition.
    clean = {mode: np.zeros((len(frame), len(LABELS)), np.float32) for mode in ("single",
                                                                                 "adapted")}
    degraded = {c: {mode: np.zeros((ravdess.sum(), len(LABELS)), np.float32)
                    for mode in ("single", "adapted")} for c in conditions}
    ravdess_index = np.cumsum(ravdess) - 1
    for f in range(folds):
        fitted = fit((X_all[all_fold != f], frame_all[all_fold != f]), recipe)
        test = fold == f
        for mode, proba in scores(fitted, X[test], frame[test]).items():
            clean[mode][test] = proba
        held = test & ravdess
        for condition, Xc in conditions.items():
            for mode, proba in scores(fitted, Xc[ravdess_index[held]], frame[held]).items():
                degraded[condition][mode][ravdess_index[held]] = proba
        print(f"  {recipe_file.stem}: fold {f} done ({time.perf_counter() - started:.0f} s)",
              flush=True)
    y = np.array([LABELS.index(e) for e in frame["emotion"]])
    raw = {"folds_" + mode: clean[mode].copy() for mode in clean}
    raw.update({f"ravdess_{c}_{mode}": degraded[c][mode].copy() for c in conditions
                for mode in clean})
    by_fold = {}
    for mode in ("single", "adapted"):
        calibrated, temperatures = cross_fitted_temperature(clean[mode], y, fold)
        by_fold[mode] = temperatures
        clean[mode] = calibrated
    result = {"recipe": str(recipe_file), "folds": folds,
              "speaker_folds": {mode: {c: figures(frame[frame["corpus"] == c],
                                                  clean[mode][(frame["corpus"] == c).to_numpy()])
                                       for c in sorted(frame["corpus"].unique())}
                                for mode in ("single", "adapted")},
              "conditions": {}}
    r_fold, r_frame = fold[ravdess], frame[ravdess]
    for condition in conditions:
        result["conditions"][condition] = {}
        for mode in ("single", "adapted"):
            proba = degraded[condition][mode].copy()
            # Each fold's temperature, fitted on the other folds' clean predictions.
            for i, name in enumerate(np.unique(fold)):
                rows_f = r_fold == name
                proba[rows_f] = apply_temperature(proba[rows_f], by_fold[mode][i])
            result["conditions"][condition][mode] = figures(r_frame, proba)

    # Leave one corpus out.
    corpora = sorted(frame["corpus"].unique())
    loco = {mode: np.zeros((len(frame), len(LABELS)), np.float32) for mode in ("single",
                                                                                "adapted")}
    corpus = frame["corpus"].to_numpy()
    for name in corpora:
        fitted = fit((X_all[frame_all["corpus"] != name], frame_all[frame_all["corpus"] != name]),
                     recipe)
        test = corpus == name
        for mode, proba in scores(fitted, X[test], frame[test]).items():
            loco[mode][test] = proba
        print(f"  {recipe_file.stem}: corpus {name} held out "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    result["corpus_folds"] = {}
    for mode in ("single", "adapted"):
        calibrated, temperatures = cross_fitted_temperature(loco[mode], y, corpus)
        result["corpus_folds"][mode] = {c: figures(frame[corpus == c], calibrated[corpus == c])
                                        for c in corpora}
        result["corpus_folds"][mode]["temperatures"] = dict(zip(corpora, map(float, temperatures),
                                                                strict=True))
    result["seconds"] = round(time.perf_counter() - started)
    raw.update({"loco_" + mode: loco[mode] for mode in loco})
    return result, {**raw, "y": y, "fold": fold, "corpus": corpus.astype(str),
                    "speaker": frame["speaker"].to_numpy().astype(str)}


def calibration_trade(raw) -> dict:
    """What one temperature does to both kinds of unseen voice: fitted on speaker folds, or on
    corpora held out, and applied to the other (RAVDESS actors of the speaker folds, clean;
    each corpus held out).

    Parameters
    ----------
    raw : mapping
        A study's saved probabilities (``OUT/<recipe>.npz``).
    """
    y, corpus = raw["y"], np.asarray(raw["corpus"]).astype(str)
    ravdess = corpus == "ravdess"
    out = {}
    for mode in ("single", "adapted"):
        seen, held = raw[f"ravdess_clean_{mode}"], raw[f"loco_{mode}"]
        temperatures = {"speaker folds": fit_temperature(seen, y[ravdess]),
                        "corpora held out": fit_temperature(held, y)}
        out[mode] = {name: {"temperature": round(t, 3),
                            "ece_ravdess_speakers": round(expected_calibration_error(
                                apply_temperature(seen, t), y[ravdess]), 4),
                            "ece_corpora_held_out": {c: round(expected_calibration_error(
                                apply_temperature(held[corpus == c], t), y[corpus == c]), 4)
                                for c in sorted(set(corpus))}}
                     for name, t in temperatures.items()}
    return out


def table(results: list[dict]) -> str:
    """Markdown: one row per recipe, adapted UAR under each condition, per corpus in speaker
    folds and held out."""
    conditions = list(results[0]["conditions"])
    corpora = sorted(results[0]["speaker_folds"]["adapted"])
    lines = ["| recipe | " + " | ".join(conditions) + " | "
             + " | ".join(f"{c} (speakers)" for c in corpora) + " | "
             + " | ".join(f"{c} (held out)" for c in corpora) + " |",
             "|---" * (1 + len(conditions) + 2 * len(corpora)) + "|"]
    for r in results:
        c = r["conditions"]
        sf, cf = r["speaker_folds"]["adapted"], r["corpus_folds"]["adapted"]
        lines.append(f"| `{r['recipe']}` | "
                     + " | ".join(f"{c[k]['adapted']['uar']:.3f}" for k in conditions) + " | "
                     + " | ".join(f"{sf[k]['uar']:.3f}" for k in corpora) + " | "
                     + " | ".join(f"{cf[k]['uar']:.3f}" for k in corpora) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("build/cache"))
    parser.add_argument("--out", type=Path, default=Path("build/channel"))
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS))
    args = parser.parse_args()

    first = load_recipe(args.recipes[0])
    manifest = load_manifest(recipe_sources(first, args.recipes[0]))
    fs = first.feature_set
    # Every recipe's copies come from one pool: the first recipe's seed and babble.
    pool = cached_features(manifest, fs, cache_dir=args.cache, workers=args.workers,
                           augment=recipe_augmenter(replace(first, augment=POOL_KINDS), manifest))
    pool_X, pool_frame = pool.X, pool.frame.reset_index(drop=True)
    original = pool_frame[pool_frame["augment"] == "none"].reset_index(drop=True)
    ravdess = original[original["corpus"] == "ravdess"].reset_index(drop=True)
    conditions = condition_features(ravdess, fs, args.conditions.split(","), args.cache,
                                    args.workers)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for recipe_file in args.recipes:
        recipe = load_recipe(recipe_file)
        if recipe.feature_set.to_config() != fs.to_config() or recipe.babble != first.babble:
            raise SystemExit(f"{recipe_file}: every recipe of one run must share a feature set "
                             f"and a babble")
        result, raw = study(recipe_file, pool_X, pool_frame, conditions, args.folds)
        result["calibration_trade"] = calibration_trade(raw)
        results.append(result)
        # The uncalibrated probabilities of every fold, to study calibration choices.
        np.savez_compressed(args.out / f"{recipe_file.stem}.npz", **raw)
        (args.out / "channel.json").write_text(json.dumps({"rows": results}, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
