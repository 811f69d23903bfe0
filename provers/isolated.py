"""`python -m provers.isolated WITNESS COMPILED PK PROOF SRS`: one ezkl prove, in its own process.

ezkl's prove holds the GIL and can spin forever on a bad witness; running it
in a child process lets the caller stay responsive and kill it on a deadline.
Imports only ezkl (no torch), so it starts fast.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import ezkl

    witness, compiled, pk, proof, srs = argv
    try:
        ezkl.prove(witness, compiled, pk, proof, srs)
    except BaseException as e:  # Rust panics arrive as PanicException (a BaseException)
        print(f"prove failed: {e}", file=sys.stderr)
        return 2
    import json

    print(json.dumps({"max_rss_mb": peak_rss_mb()}))
    return 0


def peak_rss_mb() -> float | None:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across
    fork and exec, so a child of a large process would report its parent's peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
