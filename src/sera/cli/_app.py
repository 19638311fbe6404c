"""The typer application and the small helpers every command module shares.

Command modules import only typer and rich at module level; anything heavy
(numpy, librosa, torch, onnxruntime) is imported inside the command, so that
``sera --help`` and ``sera predict`` start fast and never import torch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import typer
from rich.console import Console

app = typer.Typer(
    name="sera",
    help="Speech emotion recognition: scan corpora, extract features, train, evaluate, "
    "predict, analyze conversations, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
corpus_app = typer.Typer(help="Scan corpora into manifests, or write the synthetic corpus.",
                         no_args_is_help=True)
plot_app = typer.Typer(help="Plots of a corpus: class distribution, waveforms, spectrograms.",
                       no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(plot_app, name="plot")

#: Human output, progress bars and error lines go to stderr; stdout is for results.
err = Console(stderr=True, highlight=False)


def print_json(obj) -> None:
    """Write a JSON document to stdout."""
    from sera.formats import json_text

    sys.stdout.write(json_text(obj))


def report_failures(failures: Iterable[tuple[str, str]]) -> int:
    """Print one line per failed file and return how many there were."""
    count = 0
    for path, problem in failures:
        err.print(f"[red]error[/red]: {path}: {problem}", markup=True, soft_wrap=True)
        count += 1
    if count:
        err.print(f"{count} file(s) failed", style="bold red")
    return count


#: ``sera evaluate`` and ``sera robustness``: an optional bundle, then a labelled corpus.
MODEL_AND_CORPUS = typer.Argument(..., metavar="[MODEL] PATH",
                                  help="Optional bundle directory (default: the shipped model), "
                                  "then a labelled corpus folder or CSV manifest.")


def load_model_and_corpus(paths: list):
    """The model (a bundle, or the shipped one) and the corpus of a ``[MODEL] PATH`` argument."""
    if len(paths) > 2:
        raise typer.BadParameter("give at most a model and a corpus")
    import sera

    return sera.load(paths[0] if len(paths) == 2 else None), paths[-1]


def recipe_from_options(model, features, adapt, seed, augment=None, epochs=None):
    """The default recipe, or the named model with its own features and parameters.

    ``augment`` is the ``--augment`` text (``None``: the recipe's own, ``"none"``: none).
    """
    from dataclasses import replace

    from sera.train import DEFAULT_RECIPE, Recipe

    kinds = None if augment is None else tuple(k.strip() for k in augment.split(",")
                                               if k.strip() and k.strip() != "none")
    if model is None:
        recipe = replace(DEFAULT_RECIPE, adapt=adapt, seed=seed)
        if kinds is not None:
            recipe = replace(recipe, augment=kinds)
        return recipe if features is None else replace(recipe, features=features)
    params = {"max_epochs": epochs} if epochs else {}
    return Recipe(model=model, features=features, adapt=adapt, augment=kinds or (),
                  params=params, seed=seed)
