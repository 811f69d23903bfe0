"""Network mode: `oracle prover serve`, `oracle validator serve`, `oracle aggregator serve` (and the
scheduler's `--role-home`), each role its own process serving its app from its own home."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import typer

from .home import password
from .render import handles_errors

prover_app = typer.Typer(no_args_is_help=True, help="Network mode: the prover as its own process.")
validator_app = typer.Typer(no_args_is_help=True, help="Network mode: a validator as its own process.")
aggregator_app = typer.Typer(no_args_is_help=True, help="Network mode: an aggregator as its own process.")


def serve_role(role_home: Path, build: Callable) -> None:
    """Open the role's home and serve `build(home)` on its configured port until stopped."""
    from network.home import RoleHome
    from network.transport import serve

    home = RoleHome(role_home, password=password())
    serve(build(home), home.cfg["port"], home.log, role=home.role, address=home.key.address)


@prover_app.command("serve")
@handles_errors
def prover_serve(role_home: Path = typer.Option(..., "--role-home", help="This prover's home (role.json).")) -> None:
    """Prove rounds for a trusted scheduler over HTTP; serve bundles by hash."""
    from network.roles.prover import build_app

    serve_role(role_home, build_app)


@validator_app.command("serve")
@handles_errors
def validator_serve(role_home: Path = typer.Option(..., "--role-home", help="This validator's home.")) -> None:
    """Review bundles handed over by a trusted scheduler; sign and send votes to the aggregators."""
    from network.roles.validator import build_app

    serve_role(role_home, build_app)


@aggregator_app.command("serve")
@handles_errors
def aggregator_serve(role_home: Path = typer.Option(..., "--role-home", help="This aggregator's home.")) -> None:
    """Collect signed votes; settle once at quorum; keep equivocation evidence."""
    from network.roles.aggregator import build_app

    serve_role(role_home, build_app)
