"""``sera evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import (
    LABELS_HELP,
    MODEL_AND_CORPUS,
    app,
    err,
    load_model_and_corpus,
    print_json,
    report_failures,
)
from sera.cli._progress import progress_bars


@app.command("evaluate")
def evaluate_command(
    paths: list[Path] = MODEL_AND_CORPUS,
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    report: Path = typer.Option(None, "--report", help="Write a self-contained HTML report."),
    adapt: str = typer.Option(None, "--adapt", help="Feature normalisation: none, recording, "
                              "speaker or corpus (default: speaker when the corpus names its "
                              "speakers, else none)."),
    include_training_speakers: bool = typer.Option(
        False, "--include-training-speakers",
        help="Keep utterances of speakers the model was trained on (optimistic)."),
    workers: int = typer.Option(None, "--workers", "-j", help="Feature-extraction processes."),
    labels: str | None = typer.Option(None, "--labels", help=LABELS_HELP),
) -> None:
    """Score a model on a labelled corpus: UAR, accuracy, macro-F1, per class, confusion."""
    from sera.evaluate import evaluate

    model, corpus = load_model_and_corpus(paths, labels)
    with progress_bars() as progress:
        metrics = evaluate(model, corpus, adapt=adapt, workers=workers, progress=progress,
                           include_training_speakers=include_training_speakers)
    if metrics["excluded_training_speakers"]:
        err.print(f"left out {len(metrics['excluded_training_speakers'])} speaker(s) the model "
                  "was trained on")
    failed = report_failures((f["path"], f["error"]) for f in metrics["failures"])
    err.print(f"[bold]UAR {metrics['uar']:.3f}[/bold]  accuracy {metrics['accuracy']:.3f}  "
              f"macro-F1 {metrics['macro_f1']:.3f}  n={metrics['n']}  (adapt: {metrics['adapt']})",
              markup=True)
    if json_out:
        print_json(metrics)
    if report is not None:
        from sera.report import write_report

        history = model.config.get("training", {}).get("history")
        write_report(report, metrics=metrics, history=history, card=model.card,
                     breakdowns=metrics["breakdown"],
                     title=f"sera: {model.config['model']['name']} on {corpus.name}",
                     subtitle=f"{metrics['n']} utterances, adaptation: {metrics['adapt']}")
        err.print(f"report: {report}")
    if failed:
        raise typer.Exit(1)
