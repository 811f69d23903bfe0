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


def _flag_type(display_type_rich: Callable) -> Callable:
    """A flag takes no value: typer >= 0.2x prints `<bool>` beside every one (`--json <bool>`); show
    nothing there, as for any flag."""

    def shown(self, ctx):
        return None if self.is_flag and not self.count else display_type_rich(self, ctx)

    return shown


typer.core.TyperOption.display_type_rich = _flag_type(typer.core.TyperOption.display_type_rich)


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
    time elapsed); piped, each step one plain line on stderr (`title: step`); `quiet` (`--json`): nothing."""
    if quiet:
        yield lambda message: None
        return
    if not err.is_terminal:
        def line(message: str) -> None:
            err.print(f"{title}: {message}", highlight=False, soft_wrap=True)

        yield line
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
            err.print(f"[red]error:[/red] {_line(e)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def outcome_text(outcomes: Any, index: Any, probability_ppm: Any = None) -> str:
    """An outcome as people read it: `YES 0.867` (the name, then the probability), `INVALID`, or the
    index when the outcome names are not known here."""
    if index is None:
        return "-"
    names = list(outcomes or [])
    name = names[index] if isinstance(index, int) and 0 <= index < len(names) else \
        ("INVALID" if names else f"outcome {index}")
    return name if probability_ppm is None or name == "INVALID" else f"{name} {probability_ppm / 1e6:.3f}"


def _line(e: OracleError) -> str:
    """The error as one line: a chain that cannot be reached says so (not "connect reverted")."""
    from oracle.errors import ChainError

    if isinstance(e, ChainError) and e.action == "connect":
        return e.reason
    return " ".join(str(e).split())


def srs_label(kind: str) -> str:
    """How an SRS kind reads to a user (a dev SRS says it is not for production)."""
    from oracle.models import srs_label as label  # deferred: `oracle --help` needs none of it

    return label(kind)
