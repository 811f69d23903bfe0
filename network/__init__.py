"""Network mode: the scheduler process (coordinator) and the local devnet that runs every role
as its own process. Composition, like `node.py`: it may import every layer."""
