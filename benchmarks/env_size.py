"""Installed size of a validator environment (`pip install .[validator]`, no torch) next to the
prover's (`.[prover]`, with torch). Prints JSON (and writes benchmarks/results/env_size.json).

    .venv/bin/python -m benchmarks.env_size
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20, 1)


def build(extra: str, where: Path) -> dict:
    venv.EnvBuilder(with_pip=True).create(where)
    py = where / "bin" / "python"
    if extra == "prover":  # the pinned CPU wheel first, as scripts/setup.sh does
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True, capture_output=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"{ROOT}[{extra}]"], check=True, capture_output=True)
    names = {p["name"].lower() for p in json.loads(subprocess.run(
        [str(py), "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True).stdout)}
    return {"installed_mb": size_mb(where), "packages": len(names), "has_torch": "torch" in names}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = {"benchmark": "env_size",
                  "validator": build("validator", Path(tmp) / "validator"),
                  "prover": build("prover", Path(tmp) / "prover")}
    result["validator_over_prover"] = round(result["validator"]["installed_mb"] / result["prover"]["installed_mb"], 3)
    out = ROOT / "benchmarks" / "results" / "env_size.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
