"""``sera corpus ...`` commands."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from sera.cli._app import corpus_app, err, print_json, shown

#: Skipped files listed one by one in human output; ``--json`` lists them all.
SKIPPED_SHOWN = 10


@corpus_app.command("scan")
def scan_command(
    path: Path = typer.Argument(..., help="Corpus folder, Kaggle bundle root, or CSV manifest."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON on stdout."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Write the manifest as CSV."),
) -> None:
    """Detect a corpus's layout and count its utterances per emotion, speaker, gender, corpus."""
    from sera.corpora import scan, write_manifest

    result = scan(path)
    summary = result.summary()
    if manifest is not None:
        write_manifest(result.manifest, manifest)
        err.print(f"manifest: {len(result.manifest)} rows written to {shown(manifest)}")
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict) -> None:
    """Human-readable counts on stderr."""
    n = summary["n"]
    table = Table(title=f"{n} utterances, {len(summary['by_speaker'])} speakers",
                  title_justify="left")
    table.add_column("group")
    table.add_column("value")
    table.add_column("utterances", justify="right")
    table.add_column("share", justify="right")
    for group in ("emotion", "gender", "corpus"):
        for value, count in summary[f"by_{group}"].items():
            table.add_row(group, value, str(count), f"{count / n:.1%}" if n else "-")
        table.add_section()
    err.print(table)
    skipped = summary["skipped"]
    if skipped:
        err.print(f"[yellow]{len(skipped)} file(s) skipped[/yellow]:", markup=True)
        for reason, count in Counter(item["reason"] for item in skipped).most_common():
            if count > 1:
                err.print(f"  {count} × {reason}", markup=False, soft_wrap=True)
        for item in skipped[:SKIPPED_SHOWN]:
            err.print(f"  {shown(item['path'])}: {shown(item['reason'])}", soft_wrap=True)
        if len(skipped) > SKIPPED_SHOWN:
            err.print(f"  ... and {len(skipped) - SKIPPED_SHOWN} more (--json lists them all)")
