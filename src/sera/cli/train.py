"""``sera train`` and ``sera cv``."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import USAGE, app, err, fail, print_json, recipe_from_options, report_failures
from sera.cli._progress import progress_bars

_MODEL = typer.Option(None, "--model", "-m", help="Model name (see `sera models`); default: "
                      "the recipe of the shipped model.")
_FEATURES = typer.Option(None, "--features", help="Feature set (seed, stats, egemaps, "
                         "compare, logmel); default: the model's own.")
_ADAPT = typer.Option("speaker", "--adapt", help="Normalise training features per speaker, "
                      "per corpus, or globally (none).")
_AUGMENT = typer.Option(None, "--augment", help="Comma-separated waveform augmentations of "
                        "training utterances: the seed's noise,stretch,shift,pitch and the "
                        "channel kinds bandlimit,codec,gain,snr,room; 'none' for none "
                        "(default: the default recipe's, or none with --model).")
_SEED = typer.Option(0, "--seed", help="Seeds the split, augmentation and model.")
_WORKERS = typer.Option(1, "--workers", "-j", help="Feature-extraction processes.")
_CACHE = typer.Option(Path("build/cache"), "--cache", help="Feature stores kept between runs.")
_EPOCHS = typer.Option(None, "--epochs", help="Maximum epochs (torch models).")


_PATHS = typer.Argument(None, help="Corpus folders or CSV manifests (several: one multi-corpus "
                        "run); default: the recipe's [data] corpora.")
_RECIPE = typer.Option(None, "--recipe", "-r", help="A recipe file (recipes/*.toml): data, "
                       "features, model, adaptation, augmentation, balance, calibration. "
                       "Other options are ignored with it.")


def _recipe_and_sources(recipe_file, paths, model, features, adapt, seed, augment, epochs):
    """The recipe (from its file, or from the options) and the corpora it runs on."""
    sources = [str(p) for p in paths or []]
    if recipe_file is not None:
        from sera.recipes import load_recipe, recipe_sources

        recipe = load_recipe(recipe_file)
        sources = sources or recipe_sources(recipe, recipe_file)
    else:
        recipe = recipe_from_options(model, features, adapt, seed, augment, epochs)
    if not sources:
        fail("name a corpus (PATH...) or a --recipe with [data] corpora", USAGE)
    return recipe, sources


@app.command("train")
def train_command(
    paths: list[Path] = _PATHS,
    recipe_file: Path = _RECIPE,
    model: str = _MODEL,
    features: str = _FEATURES,
    split: str = typer.Option("speaker", "--split", help="speaker (honest, default), corpus, "
                              "random (the seed's leaky protocol), or none (train on all)."),
    test_corpus: str = typer.Option(None, "--test-corpus", help="Held-out corpus for "
                                    "--split corpus."),
    adapt: str = _ADAPT,
    augment: str = _AUGMENT,
    out: Path = typer.Option(Path("build/model"), "--out", "-o", help="Bundle directory."),
    report: Path = typer.Option(None, "--report", help="Also write an HTML report."),
    seed: int = _SEED,
    epochs: int = _EPOCHS,
    workers: int = _WORKERS,
    cache: Path = _CACHE,
    resume: bool = typer.Option(False, "--resume", help="Continue a torch model from its last "
                                "checkpoint: last.pt in the hidden folder .NAME-checkpoints "
                                "beside the --out folder NAME (build/.model-checkpoints by "
                                "default)."),
    json_out: bool = typer.Option(False, "--json", help="Print the test metrics as JSON."),
) -> None:
    """Train a model on a speaker-independent split and write its bundle.

    Several corpora train one model together (`sera train ravdess16k nemo16k`).
    """
    from sera.train import train

    recipe, sources = _recipe_and_sources(recipe_file, paths, model, features, adapt, seed,
                                          augment, epochs)
    if split == "random":
        err.print("[yellow]warning[/yellow]: --split random mixes speakers and augmented copies "
                  "of the same clips between training and test; its figure is inflated by "
                  "leakage.", markup=True)
    with progress_bars() as progress:
        result = train(sources, recipe, split=split, test_corpus=test_corpus, out=out,
                       cache_dir=cache, workers=workers, progress=progress,
                       checkpoint_dir=out.parent / f".{out.name}-checkpoints", resume=resume)
    if result.metrics is not None:
        _summary(result.metrics, f"{split} split, test speakers unseen"
                 if split != "random" else "random split (LEAKY)")
        if json_out:
            print_json(result.metrics)
    if report is not None and result.metrics is not None:
        from sera.report import write_report

        write_report(report, metrics=result.metrics, history=result.history,
                     card=(out / "card.md").read_text(), title=f"sera: {recipe.model}")
        err.print(f"report: {report}")
    err.print(f"bundle: {out}")
    if report_failures(result.failures):
        raise typer.Exit(1)


@app.command("cv")
def cv_command(
    paths: list[Path] = _PATHS,
    recipe_file: Path = _RECIPE,
    model: str = _MODEL,
    features: str = _FEATURES,
    split: str = typer.Option("loso", "--split", help="loso (leave one speaker out) or corpus "
                              "(leave one corpus out)."),
    adapt: str = _ADAPT,
    augment: str = _AUGMENT,
    seed: int = _SEED,
    epochs: int = _EPOCHS,
    workers: int = _WORKERS,
    cache: Path = _CACHE,
    json_out: bool = typer.Option(False, "--json", help="Print the pooled metrics as JSON."),
    report: Path = typer.Option(None, "--report", help="Also write an HTML report."),
) -> None:
    """Cross-validate a recipe: every speaker (or corpus) is held out once.

    With several corpora, figures come per corpus too (`by_corpus` in the JSON).
    """
    from sera.crossval import cross_validate

    recipe, sources = _recipe_and_sources(recipe_file, paths, model, features, adapt, seed,
                                          augment, epochs)

    def on_fold(name, metrics):
        err.print(f"  {name:>16}: UAR {metrics['uar']:.3f}  accuracy {metrics['accuracy']:.3f}")

    with progress_bars() as progress:
        result = cross_validate(sources, recipe, split=split, cache_dir=cache, workers=workers,
                                progress=progress, on_fold=on_fold)
    result.metrics["folds"] = result.folds
    _summary(result.metrics, f"{split}, {len(result.folds)} folds")
    single = result.metrics["single_clip"]
    err.print(f"single clip: UAR {single['uar']:.3f}  ECE {single['ece']:.3f}; adapted ECE "
              f"{result.metrics['ece']:.3f} "
              f"(uncalibrated {result.metrics['ece_uncalibrated']:.3f})")
    for name, figures in result.metrics["by_corpus"].items():
        err.print(f"  {name}: UAR single clip {figures['uar_single_clip']:.3f}, adapted "
                  f"{figures['uar_adapted']:.3f}", markup=False)
    if json_out:
        print_json(result.metrics)
    if report is not None:
        from sera.report import write_report

        write_report(report, metrics=result.metrics,
                     title=f"sera cv: {recipe.name or recipe.model}")
        err.print(f"report: {report}")
    if report_failures(result.failures):
        raise typer.Exit(1)


@app.command("models")
def models_command() -> None:
    """List the models `sera train --model` can build."""
    from sera.models import MODELS

    for spec in MODELS.values():
        err.print(f"{spec.name:<14} {spec.features:<8} {spec.description}")


def _summary(metrics: dict, protocol: str) -> None:
    err.print(f"[bold]UAR {metrics['uar']:.3f}[/bold]  accuracy {metrics['accuracy']:.3f}  "
              f"macro-F1 {metrics['macro_f1']:.3f}  n={metrics['n']}  ({protocol})", markup=True)
