"""How long-running library functions report their progress: a callback, never a drawing.

A function that works through many items takes ``progress: ProgressReport | None = None`` and
calls it as ``progress(description, done, total)`` once before the first item and after each
one. The library draws nothing;
the ``sera`` command passes a reporter that draws bars on stderr (:mod:`sera.cli._progress`),
and a caller of its own can log, count or ignore the calls.

>>> calls = []
>>> list(track("abc", lambda *call: calls.append(call), "letters"))
['a', 'b', 'c']
>>> calls
[('letters', 0, 3), ('letters', 1, 3), ('letters', 2, 3), ('letters', 3, 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

#: ``report(description, done, total)``: ``done`` items of ``description`` are finished, of
#: ``total`` (``None`` when the total is not known in advance).
ProgressReport = Callable[[str, int, int | None], None]

T = TypeVar("T")


def track(items: Iterable[T], report: ProgressReport | None, description: str,
          total: int | None = None) -> Iterator[T]:
    """Yield ``items``, calling ``report(description, done, total)`` before the first (``done``
    0, so a bar shows from the start) and after each one.

    Parameters
    ----------
    items : iterable
        What to go through.
    report : ProgressReport or None
        Called after each item; ``None`` reports nothing.
    description : str
        What the items are, e.g. ``"features"``: one bar per description.
    total : int, optional
        How many items there are (default: ``len(items)`` when it has one).
    """
    if report is None:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    report(description, 0, total)
    for done, item in enumerate(items, start=1):
        yield item
        report(description, done, total)
