"""``sera plot ...`` commands: PNG plots of a corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from sera.cli._app import err, plot_app

_PATH = typer.Argument(..., help="Corpus folder, Kaggle bundle root, or CSV manifest.")
_SEED = typer.Option(0, "--seed", help="Which clip of each emotion is shown.")


@plot_app.command("distribution")
def distribution_command(
    path: Path = _PATH,
    out: Path = typer.Option(Path("distribution.png"), "--out", help="PNG to write."),
) -> None:
    """Utterances per emotion and per speaker."""
    from sera.corpora import scan
    from sera.plots import plot_distribution

    _written(plot_distribution(scan(path).manifest, out))


@plot_app.command("waveforms")
def waveforms_command(
    path: Path = _PATH,
    out: Path = typer.Option(Path("waveforms.png"), "--out", help="PNG to write."),
    seed: int = _SEED,
) -> None:
    """One waveform per emotion."""
    from sera.corpora import scan
    from sera.plots import plot_waveforms

    _written(plot_waveforms(scan(path).manifest, out, seed=seed))


@plot_app.command("spectrograms")
def spectrograms_command(
    path: Path = _PATH,
    out: Path = typer.Option(Path("spectrograms.png"), "--out", help="PNG to write."),
    seed: int = _SEED,
) -> None:
    """One mel spectrogram per emotion."""
    from sera.corpora import scan
    from sera.plots import plot_spectrograms

    _written(plot_spectrograms(scan(path).manifest, out, seed=seed))


def _written(path: Path) -> None:
    """Tell the user where the plot went."""
    err.print(f"wrote {path}")
