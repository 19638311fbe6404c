"""``sera robustness`` and ``sera crosscorpus``."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import (
    MODEL_AND_CORPUS,
    app,
    err,
    load_model_and_corpus,
    print_json,
    recipe_from_options,
    report_failures,
)
from sera.cli._progress import progress_bars


@app.command("robustness")
def robustness_command(
    paths: list[Path] = MODEL_AND_CORPUS,
    json_out: bool = typer.Option(False, "--json", help="Print the curve as JSON."),
    plot: Path = typer.Option(None, "--plot", help="Write the curve as a PNG."),
    adapt: str = typer.Option("none", "--adapt", help="Feature normalisation: none, recording, "
                              "speaker or corpus."),
    conditions: str = typer.Option(None, "--conditions", help="Comma-separated conditions "
                                   "(default: all of them)."),
    limit: int = typer.Option(None, "--limit", help="Score only this many utterances, spread "
                              "over the corpus."),
    include_training_speakers: bool = typer.Option(
        False, "--include-training-speakers",
        help="Keep utterances of speakers the model was trained on (optimistic)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the noise."),
) -> None:
    """UAR of a model under noise, telephone band, low-bitrate MP3 and ±20 dB gain."""
    from sera.robustness import CONDITIONS, plot_robustness, robustness_curve

    model, corpus = load_model_and_corpus(paths)
    chosen = (tuple(c.strip() for c in conditions.split(",") if c.strip()) if conditions
              else CONDITIONS)
    with progress_bars() as progress:
        curve = robustness_curve(model, corpus, chosen, adapt=adapt, limit=limit,
                                 include_training_speakers=include_training_speakers, seed=seed,
                                 progress=progress)
    failures = {(f["path"], f["error"]) for figures in curve.values()
                for f in figures["failures"]}
    failed = report_failures(sorted(failures))
    for condition, figures in curve.items():
        err.print(f"{condition:>12}  UAR {figures['uar']:.3f}  n={figures['n']}")
    if json_out:
        print_json({"model": str(model.path), "adapt": adapt, "conditions": curve})
    if plot is not None:
        plot_robustness({f"adapt {adapt}": curve}, plot)
        err.print(f"plot: {plot}")
    if failed:
        raise typer.Exit(1)


@app.command("crosscorpus")
def crosscorpus_command(
    path: Path = typer.Argument(..., help="A corpus folder or CSV manifest holding two corpora "
                                "or more."),
    json_out: bool = typer.Option(False, "--json", help="Print the matrix as JSON."),
    report: Path = typer.Option(None, "--report", help="Write a self-contained HTML report."),
    model: str = typer.Option(None, "--model", help="Model name (default: the default recipe)."),
    features: str = typer.Option(None, "--features", help="Feature set (default: the model's "
                                 "own, or the default recipe's)."),
    adapt: str = typer.Option("speaker", "--adapt", help="Normalisation of training and test "
                              "features: speaker, corpus or none."),
    seed: int = typer.Option(0, "--seed", help="Seeds the splits and models."),
    workers: int = typer.Option(1, "--workers", "-j", help="Feature-extraction processes."),
    cache: Path = typer.Option(Path("build/cache"), "--cache",
                               help="Feature stores kept between runs."),
) -> None:
    """Train on each corpus alone and test on every corpus: a train × test UAR matrix."""
    from sera.crosscorpus import cross_corpus_matrix

    recipe = recipe_from_options(model, features, adapt, seed)
    with progress_bars() as progress:
        matrix = cross_corpus_matrix(path, recipe, adapt=adapt, cache_dir=cache, workers=workers,
                                     progress=progress)
    failed = report_failures((f["path"], f["error"]) for f in matrix["failures"])
    corner = "train \\ test"
    width = max(len(corner), *(len(c) for c in matrix["corpora"]))
    err.print(f"{corner:>{width}}  " + "  ".join(f"{c:>{width}}" for c in matrix["corpora"]))
    for corpus, row in zip(matrix["corpora"], matrix["uar"], strict=True):
        err.print(f"{corpus:>{width}}  " + "  ".join(
            f"{'-' if uar is None else f'{uar:.3f}':>{width}}" for uar in row))
    if json_out:
        print_json(matrix)
    if report is not None:
        from sera.report import write_report

        write_report(report, metrics=matrix["pooled"], cross_corpus=matrix,
                     title=f"sera: cross-corpus evaluation of {path.name}",
                     subtitle=f"{recipe.model} on {recipe.feature_set.name} features; headline: "
                     f"every cross-corpus prediction pooled; adaptation: {adapt}")
        err.print(f"report: {report}")
    if failed:
        raise typer.Exit(1)
