"""Where the oracle keeps its files: one home per user, never the directory a command runs from.

- `home()`: state, keys, artifact store, deployments, logs. `ORACLE_HOME`, else `~/.oracle`.
- `cache_dir()`: prover-side compiled circuits, proving keys and the dev SRS (large: each proving key
  is 9-315 MB; the demo's models and resolvers take ~2 GB). `ORACLE_CACHE`, else `~/.oracle/cache`:
  shared by every home of the user, so a command run from another directory, or for another
  `ORACLE_HOME`, never compiles again. Safe to delete (it is rebuilt, slowly); never committed.
"""

from __future__ import annotations

import os
from pathlib import Path


def _user_home() -> Path:
    return Path(os.path.expanduser("~")) / ".oracle"


def home() -> Path:
    root = Path(os.environ.get("ORACLE_HOME") or _user_home())
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Prover-side cache (proving keys, compiled circuits, dev SRS). Never committed."""
    root = Path(os.environ.get("ORACLE_CACHE") or _user_home() / "cache")
    root.mkdir(parents=True, exist_ok=True)
    return root
