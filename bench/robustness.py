"""Robustness curves (and, optionally, a cross-corpus matrix) on the shared RAVDESS.

    .venv/bin/python bench/robustness.py /work/shared/data/ravdess16k [--features stats]
        [--out build/robustness] [--synthetic-speakers 0]

A fixed speaker split: a fresh bundle of the default recipe (``DEFAULT_RECIPE``, or its model
with ``--features``) is trained on actors 01-14 and scored on actors 15-18, whom it never heard,
under every condition of :data:`sera.robustness.CONDITIONS` (or ``--conditions``), with
``adapt="none"`` and with
``adapt="speaker"``. Writes ``robustness.json``, ``robustness.png`` and ``report.html`` (with the
cross-corpus matrix of RAVDESS against a synthetic corpus when ``--synthetic-speakers`` > 0) to
``--out`` and prints the table. The figures are speaker-independent but depend on the split.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

TRAIN_ACTORS = range(1, 15)
TEST_ACTORS = range(15, 19)


#: The conditions of ``make bench``'s ``conditions`` part: faint to loud floors, babble of other
#: actors, a room and phone lines (the full suite is ``sera.robustness.CONDITIONS``).
BENCH_CONDITIONS = ("clean", "floor-white-60dbfs", "floor-white-50dbfs", "floor-white-40dbfs",
                    "floor-pink-50dbfs", "babble-10db", "room-0.5s", "8khz", "phone-opus")


def run(ravdess: Path, *, conditions=None, adapts=("none", "speaker"), recipe=None,
        out: Path = Path("build/robustness"), cache: Path = Path("build/cache"),
        workers: int = 2) -> dict:
    """Train ``recipe`` (the default) on actors 01-14 and score actors 15-18 under each
    condition (default: all of :data:`sera.robustness.CONDITIONS`), once per adaptation.

    Returns
    -------
    dict
        ``{"recipe", "train_actors", "test_actors", "test_utterances", "train_seconds",
        "curve_seconds", "curves": {"adapt <mode>": {condition: {"uar", ...}}}}``; the
        bundle is in ``out/model``.
    """
    import sera
    from sera.corpora import scan
    from sera.recipes import DEFAULT_RECIPE
    from sera.robustness import CONDITIONS, robustness_curve
    from sera.train import train

    recipe = recipe or DEFAULT_RECIPE
    manifest = scan(ravdess).manifest
    actor = manifest["speaker"].str.removeprefix("ravdess-").astype(int)
    train_rows = manifest[actor.isin(TRAIN_ACTORS)].reset_index(drop=True)
    test_rows = manifest[actor.isin(TEST_ACTORS)].reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train(train_rows, recipe, split="none", out=out / "model", cache_dir=cache,
          workers=workers)
    trained = time.perf_counter() - started
    model = sera.load(out / "model")
    curves, seconds = {}, {}
    for adapt in adapts:
        started = time.perf_counter()
        curves[f"adapt {adapt}"] = robustness_curve(model, test_rows, conditions or CONDITIONS,
                                                    adapt=adapt)
        seconds[adapt] = round(time.perf_counter() - started, 1)
    return {"recipe": recipe.to_config(), "train_actors": "01-14", "test_actors": "15-18",
            "test_utterances": len(test_rows), "train_seconds": round(trained, 1),
            "curve_seconds": seconds, "test_rows": test_rows, "model": model,
            "curves": curves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ravdess", type=Path)
    parser.add_argument("--features", default=None, help="Feature set (default: the default "
                        "recipe's).")
    parser.add_argument("--out", type=Path, default=Path("build/robustness"))
    parser.add_argument("--cache", type=Path, default=Path("build/cache"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--synthetic-speakers", type=int, default=0)
    parser.add_argument("--augment", default=None, help="Comma-separated training "
                        "augmentations (e.g. floor,channel; 'none': none) instead of the "
                        "recipe's, to measure their effect.")
    parser.add_argument("--conditions", default=None, help="Comma-separated conditions "
                        "(default: every one of sera.robustness.CONDITIONS).")
    args = parser.parse_args()

    import pandas as pd

    from sera.corpora import scan
    from sera.evaluate import evaluate
    from sera.recipes import DEFAULT_RECIPE
    from sera.report import write_report
    from sera.robustness import plot_robustness

    recipe = (DEFAULT_RECIPE if args.features is None
              else replace(DEFAULT_RECIPE, features=args.features))
    if args.augment is not None:
        recipe = replace(recipe, augment=tuple(k for k in args.augment.split(",")
                                               if k and k != "none"))
    result = run(args.ravdess, recipe=recipe, out=args.out, cache=args.cache,
                 workers=args.workers,
                 conditions=args.conditions.split(",") if args.conditions else None)
    curves, model, test_rows = result.pop("curves"), result.pop("model"), result.pop("test_rows")
    trained, seconds = result["train_seconds"], result["curve_seconds"]
    plot_robustness(curves, args.out / "robustness.png")

    matrix = None
    if args.synthetic_speakers:
        from sera.corpora.synth import synthesize
        from sera.crosscorpus import cross_corpus_matrix

        synthesize(args.out / "synthetic", num_speakers=args.synthetic_speakers)
        manifest = scan(args.ravdess).manifest
        both = pd.concat([manifest, scan(args.out / "synthetic").manifest], ignore_index=True)
        matrix = cross_corpus_matrix(both, recipe, cache_dir=args.cache, workers=args.workers)

    summary = {**result,
               "curves": {name: {c: {k: f[k] for k in ("uar", "accuracy", "macro_f1", "n")}
                                 for c, f in curve.items()} for name, curve in curves.items()},
               "cross_corpus": matrix}
    (args.out / "robustness.json").write_text(json.dumps(summary, indent=2))
    clean = curves["adapt speaker"]["clean"]
    write_report(args.out / "report.html", metrics=evaluate(model, test_rows, adapt="speaker"),
                 robustness=curves, cross_corpus=matrix,
                 title="sera robustness: RAVDESS actors 15-18",
                 subtitle=f"{recipe.model} on {recipe.feature_set.name}, trained on actors "
                 f"01-14; clean UAR (adapt speaker) {clean['uar']:.3f}")

    print(f"recipe: {recipe.model} on {recipe.feature_set.name}; trained in {trained:.0f} s; "
          f"curves in {seconds} s")
    print(f"{'condition':>20}  {'adapt none':>10}  {'adapt speaker':>13}  n")
    for condition in curves["adapt none"]:
        none, speaker = curves["adapt none"][condition], curves["adapt speaker"][condition]
        print(f"{condition:>20}  {none['uar']:>10.3f}  {speaker['uar']:>13.3f}  {none['n']}")
    if matrix:
        print("cross-corpus UAR (rows: trained on; columns: tested on)", matrix["corpora"])
        for corpus, row in zip(matrix["corpora"], matrix["uar"], strict=True):
            print(f"{corpus:>12}  " + "  ".join("-" if u is None else f"{u:.3f}" for u in row))


if __name__ == "__main__":
    main()
