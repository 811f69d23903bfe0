"""One operator's node: every role in one process (config, runtime, scheduler jobs)."""

from .config import NodeConfig
from .runtime import Node

__all__ = ["Node", "NodeConfig"]
