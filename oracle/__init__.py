"""Core shared by every role: domain types, EIP-712, chain client, artifact store.

`oracle` imports none of `markets`, `provers` or `validators`.
"""

__version__ = "0.1.0"
