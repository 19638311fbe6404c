"""Build the shipped default model: `make model` (or `python scripts/build_model.py`).

1. The default recipe (``recipes/default.toml``) trained on every speaker of every corpus it
   names (the four shared corpora), its temperature fitted on out-of-fold predictions of the
   training speakers, written as a bundle into ``src/sera/default_model/`` (committed;
   `sera.load()` and `sera predict` use it).
2. Its card and ``metrics`` take the recipe's figures from the channel study
   (``scripts/channel_study.py``, ``docs/results/channel.json``): speaker folds per corpus,
   each corpus held out whole, held-out RAVDESS actors under recording conditions, and the
   study's rows it was chosen among. (Leave-one-speaker-out over 81 speakers, 81 fits of a
   20,000-row model, does not fit on two cores; three speaker folds per corpus do.)

Deterministic: the same data and recipe give the same bundle.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sera.recipes import load_recipe, recipe_sources
from sera.train import train, write_bundle

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sera" / "default_model"
RECIPE = ROOT / "recipes" / "default.toml"

CITATIONS = {
    "ravdess": "RAVDESS speech of actors 01-18 (1,080 utterances; 18 professional North "
               "American actors, 9 female and 9 male; calm merged into neutral): Livingstone & "
               "Russo (2018), *The Ryerson Audio-Visual Database of Emotional Speech and Song "
               "(RAVDESS)*, PLoS ONE 13(5): e0196391, Zenodo record 1188976. CC BY-NC-SA 4.0.",
    "nemo": "nEMO, 7 of its 9 actors (3,403 utterances of Polish; 3 female, 4 male; six "
            "emotions, no disgust): Christop (2024), *nEMO: Dataset of Emotional Speech in "
            "Polish*, LREC-COLING 2024, github.com/amu-cai/nEMO. CC BY-NC-SA 4.0.",
    "emovo": "EMOVO, all 6 actors (588 utterances of Italian; 3 female, 3 male; all seven "
             "emotions; stored as Ogg Opus): Costantini et al. (2014), *EMOVO Corpus: an "
             "Italian Emotional Speech Database*, LREC 2014, Fondazione Ugo Bordoni. Released "
             "for research use; no open licence.",
    "ased": "ASED v1, speakers 01-50 of 65 (1,724 utterances of Amharic; 23 female, 27 male; "
            "five emotions, no disgust, no surprise; non-professional speakers on home "
            "microphones; stored as Ogg Opus): Retta et al. (2023), *A New Amharic Speech "
            "Emotion Dataset and Classification Benchmark*, ACM TALLIP, "
            "github.com/wgwangang/ASED_V1. No licence stated; research use with citation.",
}

#: Corpora under CC BY-NC-SA 4.0; the others of :data:`CITATIONS` are for research only.
SHARE_ALIKE = ("ravdess", "nemo")


def data_section(corpora: list[str]) -> str:
    """The card's data and licence paragraph."""
    items = "\n".join(f"- {CITATIONS.get(c, c)}" for c in corpora)
    research = [c for c in corpora if c not in SHARE_ALIKE]
    terms = ("Every corpus above is licensed CC BY-NC-SA 4.0: **this model is for "
             "non-commercial use only**, with attribution, and models derived from it must carry "
             "the same terms." if not research else
             f"RAVDESS and nEMO are licensed CC BY-NC-SA 4.0 (non-commercial, attribution, "
             f"share-alike); {' and '.join(c.upper() for c in research)} "
             f"{'is' if len(research) == 1 else 'are'} for research use only (no open licence, "
             f"or none stated). **This model is for non-commercial research only**, with "
             f"attribution of every corpus, and models derived from it carry the same terms.")
    return f"## Data\n\n{items}\n\n{terms}\n"


def per_corpus_table(row: dict) -> str:
    """Markdown: each corpus's speaker-fold and leave-one-corpus-out figures (the study row)."""
    lines = []
    for protocol, key in (("speaker folds", "speaker_folds"), ("held out", "corpus_folds")):
        single, adapted = row[key]["single"], row[key]["adapted"]
        for corpus in sorted(c for c in adapted if c != "temperatures"):
            lines.append(f"| {corpus} ({protocol}) | {adapted[corpus]['n']} | "
                         f"{single[corpus]['uar']:.3f} | {adapted[corpus]['uar']:.3f} | "
                         f"{single[corpus]['ece']:.3f} | {adapted[corpus]['ece']:.3f} |")
    return (f"## Figures per corpus\n\n`speaker folds`: the speakers of every corpus dealt into "
            f"{row['folds']} folds, each fold's model trained on every other speaker (of every "
            f"corpus). `held out`: the whole corpus held out, the model trained on the other "
            f"corpora only (leave one corpus out). `single clip`: `--adapt none`; `adapted`: "
            f"each held-out speaker normalised by their own unlabelled clips (`--adapt "
            f"speaker`). ECE: expected calibration error (10 bins) of calibrated scores, each "
            f"fold's temperature fitted on the other folds (held-out corpora: on the other "
            f"held-out corpora).\n\n| test set | n | UAR single clip | UAR adapted | ECE single "
            f"clip | ECE adapted |\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(lines) + "\n")


def conditions_table(row: dict) -> str:
    """Markdown: UAR of held-out RAVDESS actors under each recording condition."""
    conditions = row["conditions"]
    clean = conditions["clean"]["adapted"]["uar"]
    lines = [f"| {name} | {c['single']['uar']:.3f} | {c['adapted']['uar']:.3f} | "
             f"{c['adapted']['uar'] - clean:+.3f} |" for name, c in conditions.items()]
    return ("## Recording conditions\n\nThe held-out RAVDESS actors of each speaker fold, "
            "every clip corrupted as named (`sera.robustness.corrupt`: `floor-<colour>-<N>dbfs` "
            "a noise floor at -N dBFS, about N - 30 dB under RAVDESS speech; babble of five "
            "other actors at 10 dB SNR; a room of RT60 0.5 s; a narrowband phone line with "
            "low-bitrate Opus). `change`: adapted UAR against clean.\n\n| condition | UAR "
            "single clip | UAR adapted | change |\n|---|---:|---:|---:|\n" + "\n".join(lines)
            + "\n")


def calibration_section(calibration: dict) -> str:
    """Markdown: the temperatures and what they were fitted on."""
    before, after = calibration.get("ece_before", {}), calibration.get("ece_after", {})
    modes = ", ".join(f"{mode} {before[mode]:.3f} → {after[mode]:.3f}" for mode in before
                      if mode in after)
    return (f"## Calibration\n\nScores are temperature-scaled (T = "
            f"{calibration['by_adapt'].get('none', 1):.3f} for a single clip, "
            f"{calibration['temperature']:.3f} adapted), fitted on {calibration['fitted_on']}. "
            f"ECE of those out-of-fold predictions before → after: {modes}. The ECE of each "
            f"corpus, seen and held out, is in the table above.\n")


def selection_section(recipe_file: Path, study: Path, document: dict) -> str:
    """Markdown: how the recipe was chosen, from the channel study's rows."""
    where = study.relative_to(ROOT) if study.is_relative_to(ROOT) else study
    rows = []
    for row in document["rows"]:
        conditions = row["conditions"]
        worst = min(conditions, key=lambda c: conditions[c]["adapted"]["uar"])
        held = row["corpus_folds"]["adapted"]
        rows.append(f"| `{row['recipe']}` | {conditions['clean']['adapted']['uar']:.3f} | "
                    + " | ".join(f"{conditions[c]['adapted']['uar']:.3f}"
                                 for c in conditions if c != "clean")
                    + f" | {worst} | "
                    + f"{np.mean([v['uar'] for k, v in held.items() if k != 'temperatures']):.3f}"
                    + " |")
    names = [c for c in document["rows"][0]["conditions"] if c != "clean"]
    return (f"## How this recipe was chosen\n\nThe recipe is `recipes/{recipe_file.name}`, "
            f"chosen among the rows of the channel study (`scripts/channel_study.py`, "
            f"`{where}`) by what deployment looks like: held-out RAVDESS actors clean and under "
            f"each recording condition, and the mean UAR of corpora held out whole. Not "
            f"nested: the rows are few and the choice is between clean-only and multi-condition "
            f"training, not a search over many settings.\n\n| recipe | clean | "
            + " | ".join(names) + " | worst | held-out corpora |\n|---"
            + "|---:" * (len(names) + 1) + "|---|---:|\n" + "\n".join(rows) + "\n")


def same_recipe(a: Path, b: Path) -> bool:
    """Whether two recipe files train the same thing on the same data (their names aside)."""
    def content(path: Path) -> tuple:
        recipe = load_recipe(path)
        # The study calibrates its folds itself (by speaker and by corpus), whatever the file
        # says: the calibration method is not part of what it measured.
        config = {k: v for k, v in recipe.to_config().items()
                  if k not in ("name", "data", "calibration")}
        return json.dumps(config, sort_keys=True), recipe_sources(recipe, path)

    return content(a) == content(b)


def study_row(document: dict, recipe_file: Path) -> dict:
    """The study row of a recipe file: the row whose recipe trains the same thing."""
    for row in document["rows"]:
        if same_recipe(ROOT / row["recipe"], recipe_file):
            return row
    raise SystemExit(f"{recipe_file}: no row of the channel study trains this recipe; run "
                     f"scripts/channel_study.py with it first")


def bundle_metrics(row: dict, corpora: list[str]) -> dict:
    """The study row's figures in the bundle's ``metrics`` entry."""
    def per_corpus(key: str, protocol: str) -> dict:
        single, adapted = row[key]["single"], row[key]["adapted"]
        return {f"{c} ({protocol})": {
            "n": adapted[c]["n"], "uar_single_clip": single[c]["uar"],
            "uar_adapted": adapted[c]["uar"], "ece_single_clip": single[c]["ece"],
            "ece_adapted": adapted[c]["ece"]} for c in sorted(adapted) if c != "temperatures"}

    return {"protocol": f"{row['folds']} speaker folds per corpus over {', '.join(corpora)}, "
                        f"adapt=speaker; leave one corpus out; recording conditions of held-out "
                        f"RAVDESS actors",
            "study": row["recipe"], "folds": row["folds"],
            "by_corpus": per_corpus("speaker_folds", "speaker folds"),
            "leave_one_corpus_out": per_corpus("corpus_folds", "held out"),
            "conditions": {name: {"uar_single_clip": c["single"]["uar"],
                                  "uar_adapted": c["adapted"]["uar"],
                                  "ece_adapted": c["adapted"]["ece"]}
                           for name, c in row["conditions"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=RECIPE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "cache")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--study", type=Path,
                        default=ROOT / "docs" / "results" / "channel.json",
                        help="the channel study (scripts/channel_study.py) holding the recipe's "
                             "figures and the rows it was chosen among")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe)
    sources = recipe_sources(recipe, args.recipe)
    document = json.loads(args.study.read_text())
    row = study_row(document, args.recipe)
    started = time.perf_counter()
    result = train(sources, recipe, split="none", cache_dir=args.cache, workers=args.workers)
    seconds = time.perf_counter() - started
    corpora = sorted(result.training["corpora"])
    metrics = bundle_metrics(row, corpora)
    write_bundle(args.out, result.fitted, training={**result.training, "fit_seconds":
                                                    round(seconds, 1)},
                 metrics=metrics,
                 evaluation=f"{row['folds']} speaker folds per corpus over {', '.join(corpora)} "
                            f"(held-out speakers normalised by their own unlabelled clips), "
                            f"each corpus held out whole, and held-out RAVDESS actors under "
                            f"recording conditions (`{args.study.name}`)",
                 card_extra="\n".join([
                     per_corpus_table(row), conditions_table(row),
                     calibration_section(result.fitted.calibration),
                     selection_section(args.recipe, args.study.resolve(), document),
                     data_section(corpora)]))
    print(f"trained on {result.training['utterances']} utterances in {seconds:.0f} s "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
