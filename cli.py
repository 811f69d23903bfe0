"""`oracle`: the operator's command line. Assembles the command groups in `commands/`; each one
parses, calls into the packages, and renders (`commands.render`).

Every error the product raises on purpose becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import typer

from commands import chain, devnet, keys, market, model, node, roles, scheduler
from commands.demo import demo
from commands.evaluate import evaluate
from commands.explorer import explorer
from commands.verify import verify

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A verifiable AI oracle for prediction markets.")
app.add_typer(market.app, name="market")
app.add_typer(model.app, name="model")
app.add_typer(keys.app, name="keys")
app.add_typer(chain.app, name="chain")
app.add_typer(node.app, name="node")
app.add_typer(scheduler.app, name="scheduler")
app.add_typer(roles.prover_app, name="prover")
app.add_typer(roles.validator_app, name="validator")
app.add_typer(roles.aggregator_app, name="aggregator")
app.add_typer(devnet.app, name="devnet")
app.command()(demo)
app.command()(evaluate)
app.command()(verify)
app.command()(explorer)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
