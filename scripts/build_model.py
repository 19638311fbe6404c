"""Build the shipped default model: `make model` (or `python scripts/build_model.py DATA`).

1. Leave-one-speaker-out cross-validation of the default recipe on DATA (the shared RAVDESS,
   actors 01-18), for the figures on the model card.
2. The same recipe trained on every speaker, written as a bundle into
   ``src/sera/default_model/`` (committed; `sera.load()` and `sera predict` use it).

Deterministic: the same data and recipe give the same bundle.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sera.train import DEFAULT_RECIPE, cross_validate, train, write_bundle

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sera" / "default_model"

CITATION = """\
## Data

RAVDESS speech of actors 01-18 (1,080 utterances; 18 professional North American actors,
9 female and 9 male; calm merged into neutral): Livingstone & Russo (2018), *The Ryerson
Audio-Visual Database of Emotional Speech and Song (RAVDESS)*, PLoS ONE 13(5): e0196391,
Zenodo record 1188976. Licence CC BY-NC-SA 4.0: **this model is for non-commercial use
only**, with attribution, and models derived from it must carry the same terms.
"""

def loso_table(metrics: dict, folds: list[dict], seconds: float) -> str:
    """Markdown for the card: pooled LOSO figures and per-speaker UAR."""
    rows = "\n".join(f"| {f['fold']} | {f['n']} | {f['uar']:.3f} | {f['accuracy']:.3f} |"
                     for f in folds)
    per_class = ", ".join(f"{label} {v['recall']:.2f}" for label, v in
                          metrics["per_class"].items() if v["support"])
    return (f"## Leave-one-speaker-out figures (RAVDESS actors 01-18)\n\n"
            f"Each actor held out once; the model of each fold never heard the test actor, "
            f"whose features are normalised by that actor's own statistics (`--adapt speaker`, "
            f"no labels used).\n\n"
            f"- **UAR {metrics['uar']:.3f}**, accuracy {metrics['accuracy']:.3f}, macro-F1 "
            f"{metrics['macro_f1']:.3f} over {metrics['n']} utterances (chance: 0.143)\n"
            f"- Recall per class: {per_class}\n"
            f"- Cross-validation took {seconds:.0f} s on this machine\n\n"
            f"| held-out speaker | n | UAR | accuracy |\n|---|---|---|---|\n{rows}\n")


def robustness_table(path: Path) -> str:
    """Markdown for the card from ``bench/robustness.py``'s JSON (UAR per condition)."""
    bench = json.loads(path.read_text())
    curves = bench["curves"]
    names = list(curves)
    rows = "\n".join(f"| {condition} | " + " | ".join(f"{curves[n][condition]['uar']:.3f}"
                                                     for n in names) + " |"
                     for condition in curves[names[0]])
    return (f"## Robustness (UAR under recording conditions)\n\n"
            f"The same recipe trained on actors {bench['train_actors']} and tested on actors "
            f"{bench['test_actors']} ({bench['test_utterances']} utterances it never heard), "
            f"each test clip corrupted as named (`bench/robustness.py`). Babble is made from "
            f"the clip's own voice, so it is gentler than a real crowd.\n\n"
            f"| condition | {' | '.join(names)} |\n|---|{'---|' * len(names)}\n{rows}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="RAVDESS folder (actors 01-18)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "cache")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--robustness", type=Path,
                        default=ROOT / "build" / "robustness-default" / "robustness.json",
                        help="bench/robustness.py output to put on the card, if present")
    args = parser.parse_args()

    recipe = DEFAULT_RECIPE
    started = time.perf_counter()
    cv = cross_validate(args.data, recipe, split="loso", cache_dir=args.cache,
                        workers=args.workers, progress=True)
    cv_seconds = time.perf_counter() - started
    print(f"LOSO UAR {cv.metrics['uar']:.3f} accuracy {cv.metrics['accuracy']:.3f} "
          f"macro-F1 {cv.metrics['macro_f1']:.3f} ({cv_seconds:.0f} s)")

    started = time.perf_counter()
    result = train(args.data, recipe, split="none", cache_dir=args.cache, workers=args.workers)
    seconds = time.perf_counter() - started
    metrics = {"protocol": "leave-one-speaker-out, RAVDESS actors 01-18, adapt=speaker",
               **{k: cv.metrics[k] for k in ("n", "accuracy", "uar", "macro_f1", "per_class",
                                             "confusion")},
               "folds": cv.folds}
    write_bundle(args.out, result.fitted, training={**result.training, "fit_seconds":
                                                    round(seconds, 1)},
                 metrics=metrics,
                 evaluation="leave-one-speaker-out cross-validation over RAVDESS actors 01-18, "
                            "each held-out actor normalised by their own statistics "
                            "(adapt=speaker, no labels used)",
                 card_extra="\n".join([loso_table(cv.metrics, cv.folds, cv_seconds),
                                        robustness_table(args.robustness)
                                        if args.robustness.is_file() else "", CITATION]))
    print(f"trained on {result.training['utterances']} utterances in {seconds:.0f} s "
          f"-> {args.out}")

if __name__ == "__main__":
    main()
