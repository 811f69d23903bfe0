"""Provers: torch models, ONNX export, ezkl circuits and keys, proofs.

The only package that imports torch.
"""

import os as _os  # noqa: E402

# ezkl's Rust logger prints progress to stdout; keep stdout for the CLI's output.
_os.environ.setdefault("RUST_LOG", "error")
