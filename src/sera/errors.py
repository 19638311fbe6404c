"""The error types sera raises, and the checks of arguments that raise them.

Every error a user can cause is a :class:`SeraError` whose message is one line: the CLI prints
it as ``error: <message>``, the server answers it as a 4xx. The checks (:func:`check_choice`,
:func:`check_positive`, :func:`check_range`, :func:`check_type`) are the one way sera validates
an argument, so every message about a bad value reads alike::

    unknown adaptation 'spekaer'; choose one of none, recording, speaker, corpus
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from numbers import Real
from typing import TypeVar

#: The type of a checked value, returned unchanged.
T = TypeVar("T")


class SeraError(Exception):
    """Base class: a problem with the user's input, reported as one line, never a traceback."""


class InputError(SeraError, ValueError):
    """A bad argument: an unknown name, a setting out of range, lengths that do not match."""


class AudioError(SeraError, ValueError):
    """Unusable audio. ``str(err)`` is one line: ``"<source>: <problem>"``."""

    def __init__(self, source: str | os.PathLike[str], problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class CorpusError(SeraError):
    """A folder or manifest that sera cannot turn into a corpus."""


class BundleError(SeraError):
    """A model bundle that is missing, corrupt or does not match this version of sera."""


class FeatureError(InputError):
    """An unknown feature set or parameter, a configuration from another version, or a file
    that is not a sera feature store."""


class UnknownModelError(InputError):
    """A model name that is not in the registry (:data:`sera.models.MODELS`)."""


class SplitError(InputError):
    """A manifest that cannot be split the way that was asked."""


class LeakageError(SplitError):
    """The same speaker or source utterance on both sides of a split."""


class OpenSmileError(SeraError, RuntimeError):
    """openSMILE is missing or failed on a signal."""


class DaskError(SeraError):
    """An unreachable scheduler, a cluster without workers, or a task the cluster lost."""


def check_choice(name: str, value: object, choices: Iterable[T], *,
                 error: type[SeraError] = InputError) -> T:
    """The one of ``choices`` that ``value`` equals, else an error naming them all.

    Parameters
    ----------
    name : str
        What the value is, as the message names it (``"adaptation"``, ``"--split"``).
    value
        The value given.
    choices : iterable
        The allowed values, in the order the message lists them (an option's tuple of
        :mod:`sera.options`).
    error : type, optional
        The :class:`SeraError` raised (default :class:`InputError`).

    Examples
    --------
    >>> check_choice("balance", "corpus", ("none", "corpus"))
    'corpus'
    >>> check_choice("balance", "corpse", ("none", "corpus"))
    Traceback (most recent call last):
    ...
    sera.errors.InputError: unknown balance 'corpse'; choose one of none, corpus
    """
    allowed = tuple(choices)
    if value in allowed:
        # The choice itself, typed as the choices are (a Literal), not the value given.
        return allowed[allowed.index(value)]
    raise error(f"unknown {name} {value!r}; choose one of {', '.join(map(str, allowed))}")


def check_positive(name: str, value: T, *, error: type[SeraError] = InputError) -> T:
    """``value`` if it is a finite number above zero (``True`` is not a number here).

    >>> check_positive("n_fft", 0)
    Traceback (most recent call last):
    ...
    sera.errors.InputError: n_fft must be a positive number, not 0
    """
    number = _finite(value)
    if number is not None and number > 0:
        return value
    raise error(f"{name} must be a positive number, not {value!r}")


def check_range(name: str, value: T, low: float, high: float = math.inf, *,
                error: type[SeraError] = InputError) -> T:
    """``value`` if it is a finite number with ``low <= value <= high``.

    >>> check_range("prior_weight", -1.0, 0)
    Traceback (most recent call last):
    ...
    sera.errors.InputError: prior_weight must be a number of at least 0, not -1.0
    >>> check_range("threshold", 2, 0, 1)
    Traceback (most recent call last):
    ...
    sera.errors.InputError: threshold must be a number from 0 to 1, not 2
    """
    number = _finite(value)
    if number is not None and low <= number <= high:
        return value
    bounds = f"of at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
    raise error(f"{name} must be a number {bounds}, not {value!r}")


def check_type(name: str, value: T, *types: type) -> T:
    """``value`` if it is an instance of one of ``types`` (a ``bool`` is no ``int`` here).

    >>> check_type("seed", "x", int)
    Traceback (most recent call last):
    ...
    sera.errors.InputError: seed must be int, not 'x'
    """
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
        return value
    raise InputError(f"{name} must be {' or '.join(t.__name__ for t in types)}, not {value!r}")


def _finite(value: object) -> float | None:
    """``value`` as a float if it is a finite number, else ``None``. numpy's numbers are
    :class:`numbers.Real` too; a ``bool`` is not a number in a setting."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def os_problem(err: OSError) -> str:
    """What the system said about a failed file operation, with its errno's name, short
    enough for a one-line error.

    >>> os_problem(OSError(28, "No space left on device"))
    'No space left on device (ENOSPC)'
    """
    import errno

    name = errno.errorcode.get(err.errno) if err.errno else None
    text = err.strerror or str(err) or type(err).__name__
    return f"{text} ({name})" if name else text


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none.

    >>> first_line(RuntimeError("bad header\\nat byte 12"))
    'bad header'
    """
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def problem_of(err: BaseException) -> str:
    """What went wrong with one item of a batch, in one line: an :class:`AudioError`'s
    problem, another :class:`SeraError`'s message, or ``"<Type>: <first line>"`` for whatever
    a bad file makes a library raise.

    >>> problem_of(AudioError("a.wav", "empty file"))
    'empty file'
    >>> problem_of(ZeroDivisionError("division by zero"))
    'ZeroDivisionError: division by zero'
    """
    if isinstance(err, SeraError):
        return getattr(err, "problem", None) or str(err)
    return f"{type(err).__name__}: {first_line(err)}"
