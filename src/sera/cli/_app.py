"""The typer application and the small helpers every command module shares.

Command modules import only typer and rich at module level; anything heavy
(numpy, librosa, torch, onnxruntime) is imported inside the command, so that
``sera --help`` and ``sera predict`` start fast and never import torch.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from sera.formats import SURROGATE

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

#: Human output, progress bars and error lines go to stderr; stdout is for results. Markup and
#: emoji codes are off: file names are shown as they are (``[draft] a.wav``, ``x[/]a.wav``),
#: and a command that styles its own words says ``markup=True`` and escapes what it shows.
err = Console(stderr=True, highlight=False, markup=False, emoji=False)


def _escape_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xdc00:02x}" if 0xdc80 <= code <= 0xdcff else f"\\u{code:04x}"


def utf8_text(text: object) -> str:
    r"""``text`` with each undecodable byte of a file name written ``\xNN`` (the file
    ``b'\xff.wav'`` is ``\xff.wav``): what CSV and human output show, always valid UTF-8.

    >>> utf8_text("caf\udce9.wav")
    'caf\\xe9.wav'
    """
    return SURROGATE.sub(_escape_surrogate, str(text))


def shown(text: object) -> str:
    r"""User-controlled text (a path, a message naming one) as one printable line: undecodable
    bytes as ``\xNN`` and control characters such as a newline as ``\n``, so one error stays
    one line.

    >>> shown("a\nb.wav")
    'a\\nb.wav'
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1]
                   for char in utf8_text(text))


#: Exit statuses (DESIGN.md: an error exits non-zero): 1 when an input or the run failed, 2 when
#: the command line cannot run (as click's own usage errors), 130 on Ctrl-C.
FAILED, USAGE, INTERRUPTED = 1, 2, 130


def print_error(message: object) -> None:
    """``error: <message>`` on stderr, on one line, the message shown as plain text: every
    error line of the CLI, whether it ends the command (:func:`fail`) or lists one bad file of
    a batch that goes on (:func:`report_failures`)."""
    err.print(Text.assemble(("error", "red"), ": ", shown(message)), soft_wrap=True)


def fail(message: object, status: int = FAILED) -> NoReturn:
    """End the command: ``error: <message>`` on stderr (:func:`print_error`), exit ``status``.

    The one way a command stops on an error; :func:`sera.cli.main` ends this way on a
    :class:`sera.errors.SeraError` that reaches it and on a missing extra. It raises
    ``SystemExit``, so it works inside a command and outside the typer app alike.
    """
    print_error(message)
    raise SystemExit(status)


def print_json(obj) -> None:
    """Write a JSON document to stdout (:func:`sera.formats.json_text`: valid UTF-8 whatever
    the file names)."""
    from sera.formats import json_text

    sys.stdout.write(json_text(obj))


def report_failures(failures: Iterable[tuple[str, str]]) -> int:
    """Print one line per failed file and return how many there were."""
    count = 0
    for path, problem in failures:
        print_error(f"{path}: {problem}")
        count += 1
    if count:
        err.print(f"{count} file(s) failed", style="bold red")
    return count


#: ``sera evaluate`` and ``sera robustness``: an optional bundle, then a labelled corpus.
MODEL_AND_CORPUS = typer.Argument(..., metavar="[MODEL] PATH",
                                  help="Optional bundle directory (default: the shipped model), "
                                  "then a labelled corpus folder or CSV manifest.")


#: ``--labels`` of every command that runs a model.
LABELS_HELP = ("Answer among these classes only (comma-separated, e.g. angry,happy,neutral,sad): "
               "the calibrated scores of the others are dropped and the rest renormalised.")


def load_model(path, labels: str | None = None):
    """The model of a ``--model`` option (``None``: the shipped one), restricted to the
    comma-separated ``--labels`` when given."""
    import sera
    from sera.errors import SeraError

    model = sera.load(path)
    if labels is None:
        return model
    try:
        return model.with_labels([label for label in labels.split(",") if label.strip()])
    except SeraError as error:
        raise typer.BadParameter(str(error), param_hint="--labels") from None


def load_model_and_corpus(paths: list, labels: str | None = None):
    """The model (a bundle, or the shipped one) and the corpus of a ``[MODEL] PATH`` argument."""
    if len(paths) > 2:
        raise typer.BadParameter("give at most a model and a corpus")
    return load_model(paths[0] if len(paths) == 2 else None, labels), paths[-1]


def recipe_from_options(model, features, adapt, seed, augment=None, epochs=None):
    """:func:`sera.recipes.recipe_from_options` of the CLI's options; ``augment`` is the
    ``--augment`` text (``None``: the recipe's own, ``"none"``: none)."""
    from sera.recipes import recipe_from_options as from_options

    kinds = None if augment is None else tuple(k.strip() for k in augment.split(",")
                                               if k.strip() and k.strip() != "none")
    return from_options(model, features, adapt, seed, kinds, epochs)
