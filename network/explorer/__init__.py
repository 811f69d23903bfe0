"""`oracle explorer`: a read-only web page over a node or a devnet (markets, evidence, proofs,
votes, payouts, models, validators), served with aiohttp, updating live. See `data` (what is shown)
and `app` (pages, JSON API, server)."""

from .app import ExplorerServer, make_explorer_app
from .data import ExplorerData, market_state

__all__ = ["ExplorerData", "ExplorerServer", "make_explorer_app", "market_state"]
