"""``sera corpus synth``: write the built-in synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import corpus_app, err, print_json
from sera.cli._progress import progress_bars


@corpus_app.command("synth")
def synth_command(
    out_dir: Path = typer.Argument(..., help="Folder to write the synthetic corpus into."),
    speakers: int = typer.Option(8, "--speakers", min=1,
                                 help="Synthetic speakers, alternately female and male."),
    per_emotion: int = typer.Option(6, "--per-emotion", min=1,
                                    help="Clips per speaker and emotion."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed; the same seed gives the same "
                             "files, byte for byte."),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as JSON on stdout."),
) -> None:
    """Write a small SYNTHETIC corpus of speech-like audio with acted-emotion prosody.

    Seven emotions per speaker, 16-bit mono WAV at 16 kHz, a manifest.csv and a README.txt.

    Machine-made, not recordings of people: for trying and testing sera, not for judging it.
    """
    from sera.corpora.synth import synthesize
    from sera.corpora.voice import CORPUS

    with progress_bars() as progress:
        manifest = synthesize(out_dir, num_speakers=speakers, per_emotion=per_emotion, seed=seed,
                              progress=progress)
    summary = {
        "out_dir": str(out_dir.resolve()),
        "manifest": str((out_dir / "manifest.csv").resolve()),
        "corpus": CORPUS,
        "n": len(manifest),
        "speakers": sorted(manifest["speaker"].unique()),
        "by_emotion": manifest["emotion"].value_counts(sort=False).to_dict(),
        "seed": seed,
    }
    if as_json:
        print_json(summary)
    else:
        err.print(f"wrote {summary['n']} synthetic clips ({speakers} speakers x "
                  f"{len(summary['by_emotion'])} emotions x {per_emotion}) to {out_dir}")
        err.print(f"manifest: {summary['manifest']}")
