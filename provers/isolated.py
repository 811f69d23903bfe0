"""`python -m provers.isolated WITNESS COMPILED PK PROOF SRS`: one ezkl prove, in its own process.
`python -m provers.isolated --serve`: the same, one job per line on stdin, for a long-lived worker.

ezkl's prove holds the GIL and can spin forever on a bad witness; running it
in a child process lets the caller stay responsive and kill it on a deadline.
Imports only ezkl (no torch), so it starts fast; a serving worker skips even that
start (and finds its proving key in the page cache) at every proof after the first.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        return serve()
    import ezkl

    witness, compiled, pk, proof, srs = argv
    try:
        ezkl.prove(witness, compiled, pk, proof, srs)
    except BaseException as e:  # Rust panics arrive as PanicException (a BaseException)
        print(f"prove failed: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"max_rss_mb": peak_rss_mb()}))
    return 0


def serve() -> int:
    """Jobs {"witness", "compiled", "pk", "proof", "srs"} one JSON line each on stdin; one JSON line
    back per job on the original stdout ({"ok": true, "max_rss_mb"} or {"ok": false, "error"})."""
    import ezkl

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever ezkl prints goes to stderr, never into the replies
    for line in sys.stdin:
        try:
            job = json.loads(line)
            ezkl.prove(job["witness"], job["compiled"], job["pk"], job["proof"], job["srs"])
            reply = {"ok": True, "max_rss_mb": peak_rss_mb()}
        except BaseException as e:  # PanicException too; a bad line is this job's error
            if isinstance(e, KeyboardInterrupt):
                return 1
            reply = {"ok": False, "error": str(e) or type(e).__name__}
        replies.write(json.dumps(reply) + "\n")
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
