"""How every command talks to its user: the two consoles, the one `--json` option, the one way
a result is printed (JSON or a human rendering), and one readable line for a product error."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from typing import Any, Callable, Iterator

import typer
from rich.console import Console

from oracle.errors import OracleError

# Wide enough for the results table when stdout is not a terminal (CI logs, pipes).
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

JsonOption: Any = typer.Option(False, "--json", help="Print one JSON document instead of text or tables.")


def emit(obj: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """Print `obj` as indented JSON on stdout (`--json`), or hand it to `human` to render."""
    if as_json:
        sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    else:
        human(obj)


def say(line: str) -> Callable[[Any], None]:
    """A human rendering that is one plain line (no markup guessing)."""
    return lambda _obj: out.print(line, highlight=False)


@contextlib.contextmanager
def progress(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Long work shows progress: yields the `log` callback to hand to training, compilation, key
    generation, proving. On a terminal, a spinner on stderr whose text is the latest step (with the
    time elapsed); piped, each step one plain line on stderr; `quiet` (`--json`): nothing."""
    if quiet:
        yield lambda message: None
        return
    if not err.is_terminal:
        err.print(title, highlight=False, soft_wrap=True)
        yield lambda message: err.print(f"  {message}", highlight=False, soft_wrap=True)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(title, total=None)
        yield lambda message: bar.update(task, description=f"{title}: {message}")


def handles_errors(fn: Callable) -> Callable:
    """Every error the product raises on purpose becomes one line on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OracleError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def srs_label(kind: str) -> str:
    """How an SRS kind reads to a user (a dev SRS says it is not for production)."""
    from oracle.models import srs_label as label  # deferred: `oracle --help` needs none of it

    return label(kind)
