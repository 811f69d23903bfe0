"""Where the oracle keeps its files. One root, overridable by ORACLE_HOME."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    root = Path(os.environ.get("ORACLE_HOME", Path.cwd() / ".oracle"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Prover-side cache (proving keys, compiled circuits, dev SRS). Never committed.

    Shared across homes by default so a second demo or test run does not recompile.
    """
    root = Path(os.environ.get("ORACLE_CACHE", Path.cwd() / ".oracle-cache"))
    root.mkdir(parents=True, exist_ok=True)
    return root
