"""``sera features PATH --set NAME``: extract a corpus's features into a Parquet store."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import app, err, report_failures, shown
from sera.cli._progress import progress_bars


@app.command("features")
def features(
    path: Path = typer.Argument(..., help="Corpus folder or CSV manifest."),
    set_name: str = typer.Option(..., "--set",
                                 help="Feature set: seed, stats, egemaps, compare, logmel, or "
                                      "hf:<model id or local path> (a pretrained encoder)."),
    out: Path | None = typer.Option(None, "--out",
                                    help="Parquet store to write and reuse "
                                         "[default: features-<set>.parquet]."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes to extract with."),
    dask: str | None = typer.Option(None, "--dask", metavar="ADDRESS",
                                    help="Extract on a Dask cluster instead of local processes: "
                                         "a scheduler address (tcp://host:port) or 'local' "
                                         "(a LocalCluster of 2 workers). Every worker needs "
                                         "sera and the files at the same paths."),
) -> None:
    """Extract features of every utterance into a Parquet store.

    A second run reuses the rows of unchanged files; an interrupted run resumes.
    """
    from sera.corpora import scan
    from sera.features import extract_features, get_feature_set

    feature_set = get_feature_set(set_name)
    out = out or Path(f"features-{feature_set.name}.parquet")
    result = scan(path)
    if result.skipped:
        err.print(f"{len(result.skipped)} file(s) skipped by the scan "
                  f"(`sera corpus scan {shown(path)}` lists them)", markup=False, soft_wrap=True)
    with progress_bars() as progress:
        table = extract_features(result.manifest, feature_set, out=out, workers=workers,
                                 dask=dask, progress=progress)
    dims = "x".join(map(str, table.shape))
    err.print(f"{shown(out)}: {len(table.frame)} rows x {dims} features '{feature_set.name}' "
              f"({table.computed} computed, {table.reused} reused)", markup=False, soft_wrap=True)
    if report_failures(table.failures):
        raise typer.Exit(1)
