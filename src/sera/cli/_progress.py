"""Progress bars: the one place sera draws them. The library only reports
(:data:`sera.progress.ProgressReport`); a command opens :func:`progress_bars` and passes its
reporter down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sera.cli._app import err
from sera.progress import ProgressReport


@contextmanager
def progress_bars() -> Iterator[ProgressReport | None]:
    """A reporter that draws one rich bar per description on stderr, for a ``with`` block.

    Yields ``None`` (report nothing) when stderr is not a terminal, so that logs and pipes get
    no bar frames; stdout is never touched. The bars are cleared when the block ends.
    """
    if not err.is_terminal:
        yield None
        return
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
    tasks: dict[str, int] = {}

    def report(description: str, done: int, total: int | None) -> None:
        if description not in tasks:
            tasks[description] = bars.add_task(description, total=total)
        bars.update(tasks[description], completed=done, total=total)

    with bars:
        yield report
