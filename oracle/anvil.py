"""anvil (Foundry's JSON-RPC node, from the pinned npm package) started and stopped by the project.

The npm launcher spawns the real binary as a child; killing the launcher
leaves anvil running. So we start the binary itself, in its own process
group, and stop exactly that group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ChainError, NotFound

ROOT = Path(__file__).resolve().parent.parent


def anvil_binary() -> Path:
    env = os.environ.get("ORACLE_ANVIL")
    candidates = [Path(env)] if env else []
    candidates += [
        ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil",
        ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-arm64" / "bin" / "anvil",
        ROOT / "node_modules" / "@foundry-rs" / "anvil-darwin-arm64" / "bin" / "anvil",
    ]
    for c in candidates:
        if c.exists():
            return c
    raise NotFound("anvil binary not found: run `npm ci` (package @foundry-rs/anvil) or set ORACLE_ANVIL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AnvilNode:
    pid: int
    port: int
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        # a zombie child still answers kill(0): check the process state
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().split()[2]
            return state != "Z"
        except OSError:
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process group we started (SIGTERM, then SIGKILL)."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if self.proc is not None:  # we started it: reap it through its Popen
            try:
                self.proc.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return
            except ChildProcessError:
                if not self.alive():
                    return
            time.sleep(0.05)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def to_json(self) -> dict:
        return {"pid": self.pid, "port": self.port, "log": str(self.log)}


def start_anvil(*, port: int | None = None, log_dir: Path, block_time: float | None = None,
                state_file: Path | None = None, timeout: float = 20.0, timestamp: int | None = None,
                steps_tracing: bool = False) -> AnvilNode:
    """Start anvil on 127.0.0.1 and wait until it answers JSON-RPC. `timestamp`: the genesis block's
    time (a replay chain for markets on historical data; the clock runs on from there). `steps_tracing`:
    record every opcode, so that `debug_traceTransaction` returns them (the gas benchmark's profiles)."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"anvil-{port}.log"
    cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--silent",
           "--accounts", "4", "--balance", "1000000"]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    if state_file:
        cmd += ["--state", str(state_file)]
    if timestamp is not None:
        cmd += ["--timestamp", str(int(timestamp))]
    if steps_tracing:
        cmd += ["--steps-tracing"]
    with open(log, "ab") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    node = AnvilNode(proc.pid, port, log, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ChainError("anvil", f"exited with {proc.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
            if _rpc_ready(node.url):
                return node
        except OSError:
            pass
        time.sleep(0.05)
    node.stop()
    raise ChainError("anvil", f"did not answer on {node.url} within {timeout} s")


def _rpc_ready(url: str) -> bool:
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=1) as r:
            return "result" in json.loads(r.read())
    except OSError:
        return False
