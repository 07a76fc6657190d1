"""What every CLI command shares: the console, error handling, progress bars, exit codes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ladderforge.errors import LadderforgeError

__all__ = [
    "EXIT_ERROR",
    "EXIT_PARTIAL",
    "console",
    "err_console",
    "fail",
    "guarded",
    "print_table",
    "progress_bar",
]

EXIT_ERROR = 1
"""Exit code when a command could not do its job."""
EXIT_PARTIAL = 3
"""Exit code when a batch finished but some titles failed."""

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def fail(exc: LadderforgeError, *, verbose: bool = False) -> typer.Exit:
    """Print a LadderforgeError without a traceback and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
    if verbose and (exc.command or exc.log_tail):
        err_console.print(exc.details().split("\n", 1)[1], highlight=False, soft_wrap=True)
    elif exc.log_tail and exc.log_tail.strip() not in exc.message:  # not said twice
        err_console.print("[dim]ffmpeg's last lines:[/]", highlight=False)
        err_console.print(exc.log_tail, highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(EXIT_ERROR)


def guarded(func: Callable[[], T], *, verbose: bool = False) -> T:
    """Run ``func``; a LadderforgeError becomes a one-line message and exit code 1."""
    try:
        return func()
    except LadderforgeError as exc:
        raise fail(exc, verbose=verbose) from None


@contextlib.contextmanager
def progress_bar(*, transient: bool = False, disable: bool = False) -> Iterator[Progress]:
    """A rich progress display on stderr (hidden when stderr is not a terminal, or disabled)."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=disable,
    )
    with progress:
        yield progress


def setup_logging(verbose: bool) -> None:
    """Configure logging for the CLI only (the library never configures logging)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def print_table(table: Table, *, to_stderr: bool = False) -> None:
    """A rich table on a terminal; plain tab-separated lines (header first, no markup, nothing
    cut) when the output is a pipe or a file, for scripts."""
    out = err_console if to_stderr else console
    if out.is_terminal:
        out.print(table)
        return
    columns = table.columns
    lines = ["\t".join(Text.from_markup(str(c.header)).plain for c in columns)]
    for row in zip(*(c.cells for c in columns), strict=True):
        lines.append("\t".join(Text.from_markup(str(cell)).plain for cell in row))
    typer.echo("\n".join(lines), err=to_stderr)
