"""The error types sera raises for bad input. Each message is one line for a user."""

from __future__ import annotations

import os


class SeraError(Exception):
    """Base class: a problem with the user's input, reported as one line, never a traceback."""


class InputError(SeraError, ValueError):
    """A bad argument: an unknown name, a setting out of range, lengths that do not match."""


class AudioError(SeraError, ValueError):
    """Unusable audio. ``str(err)`` is one line: ``"<source>: <problem>"``."""

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class CorpusError(SeraError):
    """A folder or manifest that sera cannot turn into a corpus."""


class BundleError(SeraError):
    """A model bundle that is missing, corrupt or does not match this version of sera."""


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
