"""The role apps a network process serves: `prover`, `validator` and `aggregator`, each a
`build_app(home)` over the transport in `network.transport`. Each role's behaviour can be changed
only at the points `RoleHooks` names, by a plugin its role.json names (the tests' adversaries)."""

from .hooks import RoleHooks, load_hooks

__all__ = ["RoleHooks", "load_hooks"]
