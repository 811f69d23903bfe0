"""Validators: check proofs and inputs, apply the market's rule, sign; aggregate votes.

Never imports torch or `provers`: a validator runs on a plain CPU box.
"""

import os as _os  # noqa: E402

# ezkl's Rust logger prints progress to stdout; keep stdout for the CLI's output.
_os.environ.setdefault("RUST_LOG", "error")
