"""The `oracle` command groups, one module each. A command parses its arguments, calls into the
packages, and renders the result through `commands.render`; `cli.py` only assembles the groups."""
