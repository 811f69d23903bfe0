"""`oracle keys ...`: operator keys in encrypted keystore files."""

from __future__ import annotations

from typing import Any

import typer

from .home import keys, password
from .render import JsonOption, emit, handles_errors, out, progress

app = typer.Typer(no_args_is_help=True, help="Operator keys (encrypted keystore files).")


@app.command("new")
@handles_errors
def new(
    name: str = typer.Argument(..., help="Key name, e.g. validator-0."),
    bls: bool = typer.Option(False, "--bls", help="Also a BLS12-381 key (validators: aggregate signatures)."),
) -> None:
    """Create a key in an encrypted keystore file (password: ORACLE_KEYSTORE_PASSWORD or prompt)."""
    pw = password(confirm=True)
    ks = keys()
    with progress(f"keys new: encrypting {name}"):  # scrypt makes a keystore slow to write, on purpose
        signer = ks.load(name, pw) if bls and name in ks.names() else ks.create(name, pw)
        bls_key = ks.create_bls(name, pw) if bls else None
    out.print(f"{name}: {signer.address}", highlight=False)
    if bls_key is not None:
        out.print(f"{name} BLS: 0x{bls_key.public_key.hex()}", highlight=False)


@app.command("list")
@handles_errors
def list_(as_json: bool = JsonOption) -> None:
    """Key names and addresses (no password needed)."""
    ks = keys()
    rows = [{"name": n, "address": ks.address(n), "bls_public_key": ks.bls_public_key(n)} for n in ks.names()]
    emit(rows, as_json, _render)


def _render(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        bls = f"  BLS 0x{r['bls_public_key'][:16]}…" if r["bls_public_key"] else ""
        out.print(f"{r['name']}: {r['address']}{bls}", highlight=False)
