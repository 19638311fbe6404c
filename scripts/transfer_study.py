"""What transfers across speakers, corpora and languages: every recipe of a grid, measured.

    python scripts/transfer_study.py recipes/study/*.toml --cache /work/cache/issue11 \
        --out build/transfer

Reads features from Parquet stores ``CACHE/{corpus}-{set}.parquet`` (``sera features CORPUS
--set SET --out ...``; a combined set ``a+b`` is the columns of ``a`` then ``b``, as
:class:`sera.features.sets.CombinedFeatures` computes them). For each recipe file:

``speaker folds``
    Speakers of every corpus dealt into ``--folds`` folds (each fold holds out about a fifth of
    each corpus's speakers); the fold's model trains on every other speaker of every corpus.
    Each held-out speaker is scored four ways: one clip at a time (``none``), normalised by
    all their clips (``balanced``), and on *skewed* groups, where a speaker's clips are split
    into groups that each hold one emotion only (``skew1``) or neutral and two emotions
    (``skew3``), each group normalised by its own statistics (a one-sided call).
``corpus folds``
    Leave one corpus out, in both directions: train on one corpus, test on the other.
``calibration``
    The temperature of each fold is fitted on the out-of-fold predictions of the *other*
    folds' speakers (never on the fold's own labels); ECE (10 bins) before and after.
``nested``
    With ``--nested``, the recipes given are the candidates of a selection: in each outer
    speaker fold an inner 2-fold CV over the training speakers picks the recipe with the best
    mean per-corpus UAR (balanced adaptation), which is then fitted on the outer training
    speakers and scored on the outer test speakers. The figure estimates the whole
    procedure, selection included, and is the one a card may quote.

Writes ``OUT/transfer.json`` (every row) and ``OUT/transfer.md`` (the tables).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from sera.calibration import cross_fitted_temperature, expected_calibration_error
from sera.corpora import GROUP_COLUMNS
from sera.features import read_features
from sera.labels import LABELS
from sera.metrics import evaluate_predictions
from sera.recipes import load_recipe
from sera.train import fit

CORPORA = ("ravdess", "nemo")
CONDITIONS = ("none", "balanced", "skew1", "skew3")


def load_features(cache: Path, feature_set: str,
                  corpora=CORPORA) -> tuple[np.ndarray, pd.DataFrame]:
    """Raw features and rows of every corpus, from the per-corpus, per-set stores."""
    blocks, frames = [], []
    for corpus in corpora:
        parts = [read_features(cache / f"{corpus}-{name}.parquet") for name in
                 feature_set.split("+")]
        paths = parts[0].frame["path"]
        for part in parts[1:]:
            if not part.frame["path"].equals(paths):
                raise SystemExit(f"{corpus}: stores of {feature_set} list different files")
        blocks.append(np.hstack([part.X.reshape(len(part.frame), -1) for part in parts]))
        frames.append(parts[0].frame[["path", "corpus", "speaker", "gender", "emotion"]])
    return np.vstack(blocks).astype(np.float32), pd.concat(frames, ignore_index=True)


def speaker_folds(frame: pd.DataFrame, k: int, seed: int = 0) -> np.ndarray:
    """Fold id per row: each corpus's speakers dealt round-robin (shuffled) into ``k`` folds."""
    rng = np.random.default_rng(seed)
    fold_of = {}
    for corpus in sorted(frame["corpus"].unique()):
        speakers = sorted(frame.loc[frame["corpus"] == corpus, "speaker"].unique())
        for i, speaker in enumerate(rng.permutation(speakers)):
            fold_of[speaker] = i % k
    return frame["speaker"].map(fold_of).to_numpy()


def condition_groups(frame: pd.DataFrame, condition: str, seed: int = 0) -> np.ndarray | None:
    """Adaptation group per row for a scoring condition (``None``: one clip at a time)."""
    if condition == "none":
        return None
    speaker = frame["speaker"].astype(str).to_numpy()
    emotion = frame["emotion"].to_numpy()
    if condition == "balanced":
        return speaker
    if condition == "skew1":
        return np.char.add(np.char.add(speaker, "|"), emotion.astype(str))
    # skew3: the speaker's non-neutral emotions paired in a fixed shuffled order, each pair
    # with its share of the speaker's neutral clips.
    rng = np.random.default_rng(seed)
    groups = np.empty(len(frame), dtype=object)
    for spk in np.unique(speaker):
        rows = np.flatnonzero(speaker == spk)
        others = sorted(set(emotion[rows]) - {"neutral"})
        others = list(rng.permutation(others))
        pairs = [others[i:i + 2] for i in range(0, len(others), 2)]
        for p, pair in enumerate(pairs):
            groups[rows[np.isin(emotion[rows], pair)]] = f"{spk}|{p}"
        neutral = rows[emotion[rows] == "neutral"]
        for j, row in enumerate(rng.permutation(neutral)):
            groups[row] = f"{spk}|{j % max(len(pairs), 1)}"
    return groups.astype(str)


def fold_probabilities(recipe, X, frame, train_rows, test_rows, conditions=CONDITIONS):
    """Fit on ``train_rows``; probabilities of ``test_rows`` per scoring condition."""
    fitted = fit((X[train_rows], frame.iloc[train_rows]), recipe)
    test = frame.iloc[test_rows]
    out = {}
    for condition in conditions:
        groups = condition_groups(test, condition)
        adapt = "none" if groups is None or recipe.adapt == "none" else recipe.adapt
        # The fold's model adapts to the condition's groups as `predict --adapt speaker` would.
        grouped = test.assign(**{GROUP_COLUMNS[adapt]: groups}) if adapt != "none" else test
        out[condition] = fitted.predict_proba(X[test_rows], grouped, adapt=adapt)
    return out


def scores(frame: pd.DataFrame, proba: np.ndarray, fold: np.ndarray | None) -> dict:
    """UAR per corpus and ECE before/after a cross-fitted temperature."""
    y = np.array([LABELS.index(e) for e in frame["emotion"]])
    out = {}
    predicted = proba.argmax(axis=1)
    for corpus in sorted(frame["corpus"].unique()):
        rows = (frame["corpus"] == corpus).to_numpy()
        out[f"uar_{corpus}"] = evaluate_predictions(y[rows], predicted[rows])["uar"]
    out["ece"] = expected_calibration_error(proba, y)
    if fold is not None:
        calibrated, temperatures = cross_fitted_temperature(proba, y, fold)
        out["ece_calibrated"] = expected_calibration_error(calibrated, y)
        out["temperature"] = float(np.median(temperatures))
    return out


def speaker_cv(recipe, X, frame, fold) -> dict:
    probas = {c: np.zeros((len(frame), len(LABELS)), dtype=np.float32) for c in CONDITIONS}
    for f in np.unique(fold):
        test = np.flatnonzero(fold == f)
        train = np.flatnonzero(fold != f)
        for condition, p in fold_probabilities(recipe, X, frame, train, test).items():
            probas[condition][test] = p
    return {c: scores(frame, probas[c], fold) for c in CONDITIONS}


def corpus_cv(recipe, X, frame) -> dict:
    out = {}
    for test_corpus in sorted(frame["corpus"].unique()):
        train = np.flatnonzero(frame["corpus"] != test_corpus)
        test = np.flatnonzero(frame["corpus"] == test_corpus)
        probas = fold_probabilities(recipe, X, frame, train, test, ("none", "balanced"))
        for condition, p in probas.items():
            out[f"to_{test_corpus}_{condition}"] = scores(frame.iloc[test], p, None)[
                f"uar_{test_corpus}"]
    return out


def nested(candidates, features, fold, frame, inner_k: int = 2) -> dict:
    """Nested selection over ``candidates`` (recipes); the outer figure of the winner."""
    probas = {c: np.zeros((len(frame), len(LABELS)), dtype=np.float32) for c in CONDITIONS}
    chosen = {}
    for f in np.unique(fold):
        outer_train = np.flatnonzero(fold != f)
        inner_frame = frame.iloc[outer_train].reset_index(drop=True)
        inner_fold = speaker_folds(inner_frame, inner_k, seed=int(f) + 1)
        best, best_score = None, -1.0
        for recipe in candidates:
            X = features[recipe.features][outer_train]
            p = np.zeros((len(inner_frame), len(LABELS)), dtype=np.float32)
            for g in np.unique(inner_fold):
                te, tr = np.flatnonzero(inner_fold == g), np.flatnonzero(inner_fold != g)
                p[te] = fold_probabilities(recipe, X, inner_frame, tr, te, ("balanced",))[
                    "balanced"]
            s = scores(inner_frame, p, None)
            score = float(np.mean([v for k, v in s.items() if k.startswith("uar_")]))
            if score > best_score:
                best, best_score = recipe, score
        chosen[int(f)] = best.name
        X = features[best.features]
        test = np.flatnonzero(fold == f)
        for condition, p in fold_probabilities(best, X, frame, outer_train, test).items():
            probas[condition][test] = p
    return {"chosen": chosen, **{c: scores(frame, probas[c], fold) for c in CONDITIONS}}


def table(rows: list[dict]) -> str:
    head = ("| recipe | features | model | adaptation | balance | R none | R adapted | R skew1 |"
            " R skew3 | N none | N adapted | N skew1 | N skew3 | R→N | N→R | ECE none → cal |"
            " ECE adapted → cal | s |\n|" + "---|" * 18)
    lines = [head]
    for r in rows:
        s, c = r["speaker_folds"], r["corpus_folds"]
        lines.append(
            f"| `{r['file']}` | {r['features']} | {r['model']} | {r['adaptation']} | "
            f"{r['balance']} | "
            + " | ".join(f"{s[k]['uar_ravdess']:.3f}" for k in CONDITIONS) + " | "
            + " | ".join(f"{s[k]['uar_nemo']:.3f}" for k in CONDITIONS) + " | "
            f"{c['to_nemo_balanced']:.3f} | {c['to_ravdess_balanced']:.3f} | "
            f"{s['none']['ece']:.3f} → {s['none']['ece_calibrated']:.3f} | "
            f"{s['balanced']['ece']:.3f} → {s['balanced']['ece_calibrated']:.3f} | "
            f"{r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/issue11"))
    parser.add_argument("--out", type=Path, default=Path("build/transfer"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--nested", action="store_true",
                        help="Also run the nested selection over the recipes given.")
    parser.add_argument("--no-corpus", action="store_true", help="Skip leave-one-corpus-out.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "transfer.json"
    done = json.loads(results_path.read_text()) if results_path.exists() else {"rows": []}
    features, frame = {}, None
    recipes = [load_recipe(p) for p in args.recipes]
    for path, recipe in zip(args.recipes, recipes, strict=True):
        if recipe.features not in features:
            features[recipe.features], frame = load_features(args.cache, recipe.features)
        fold = speaker_folds(frame, args.folds)
        key = str(path)
        if any(r["file"] == key for r in done["rows"]):
            continue
        started = time.perf_counter()
        row = {"file": key, "features": recipe.features, "model": recipe.model,
               "params": recipe.params,
               "adaptation": f"{recipe.adapt}/{recipe.estimator}/k={recipe.prior_weight:g}"
                             + (f"/ref={recipe.reference}" if recipe.reference else "")
                             + ("/skew" if recipe.skew else ""),
               "balance": recipe.balance,
               "speaker_folds": speaker_cv(recipe, features[recipe.features], frame, fold),
               "corpus_folds": ({} if args.no_corpus else
                                corpus_cv(recipe, features[recipe.features], frame))}
        row["seconds"] = time.perf_counter() - started
        done["rows"].append(row)
        results_path.write_text(json.dumps(done, indent=1))
        print(key, json.dumps({k: round(v["uar_ravdess"], 3) for k, v in
                               row["speaker_folds"].items()}),
              json.dumps({k: round(v["uar_nemo"], 3) for k, v in row["speaker_folds"].items()}),
              f"{row['seconds']:.0f}s", flush=True)
    if args.nested:
        fold = speaker_folds(frame, args.folds)
        candidates = [replace(r, name=str(p)) for p, r in zip(args.recipes, recipes, strict=True)]
        done["nested"] = nested(candidates, features, fold, frame)
        results_path.write_text(json.dumps(done, indent=1))
    rows = [r for r in done["rows"] if r["corpus_folds"]]
    (args.out / "transfer.md").write_text(table(rows))
    print(f"{results_path}")


if __name__ == "__main__":
    main()
