"""Chain client: one interface over the embedded eth-tester chain and any JSON-RPC node.

Every transaction is signed locally by a `Signer` and sent raw, so the same
code path runs on py-evm and on anvil. Reverts come back as `ChainError` with
the decoded custom error (name and arguments), never as raw bytes.
"""

from __future__ import annotations

import ast
import json
import time
from functools import cache
from importlib import resources
from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound

from .canonical import is_bytes32
from .errors import ChainError, NotFound
from .signer import Signer

try:  # what a dropped or refused HTTP connection raises under web3's HTTPProvider
    from requests.exceptions import ConnectionError as _RequestsConnectionError
    from requests.exceptions import Timeout as _RequestsTimeout

    _TRANSPORT_ERRORS: tuple = (_RequestsConnectionError, _RequestsTimeout, ConnectionError)
except ImportError:  # pragma: no cover
    _TRANSPORT_ERRORS = (ConnectionError,)

# eth-tester estimates gas about 8x slower than it executes: on the embedded
# chain we pass a fixed, generous limit (only gas used is charged).
EMBEDDED_CALL_GAS = 3_000_000
EMBEDDED_DEPLOY_GAS = 8_000_000
GAS_MARGIN = 1.25


@cache
def artifact(name: str) -> dict[str, Any]:
    """Compiled ABI + bytecode committed under oracle/contracts/."""
    try:
        text = resources.files("oracle").joinpath("contracts", f"{name}.json").read_text()
    except FileNotFoundError:
        raise NotFound(f"no compiled contract artifact named {name}") from None
    return json.loads(text)


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["string"], ["reason"]),
        bytes.fromhex("4e487b71"): ("Panic", ["uint256"], ["code"]),
    }
    contracts_dir = resources.files("oracle").joinpath("contracts")
    for entry in contracts_dir.iterdir():
        if not entry.name.endswith(".json"):
            continue
        for item in json.loads(entry.read_text()).get("abi", []):
            if item.get("type") != "error":
                continue
            types = [i["type"] for i in item["inputs"]]
            sig = f"{item['name']}({','.join(types)})"
            table[function_signature_to_4byte_selector(sig)] = (
                item["name"], types, [i["name"] for i in item["inputs"]],
            )
    return table


def revert_name(data: bytes) -> str | None:
    """The custom error's name (`AlreadyResolved`, `Error` for a string revert), None if unknown."""
    entry = _error_table().get(bytes(data[:4])) if len(data) >= 4 else None
    return entry[0] if entry else None


def decode_revert(data: bytes) -> str:
    """Human-readable revert: `Name(arg=value, ...)` for known custom errors."""
    if len(data) < 4:
        return "reverted without a reason"
    entry = _error_table().get(data[:4])
    if entry is None:
        return f"unknown error 0x{data[:4].hex()} (data 0x{data.hex()})"
    name, types, names = entry
    try:
        values = abi_decode(types, data[4:])
    except Exception:
        return f"{name}(<undecodable arguments>)"
    shown = []
    for n, t, v in zip(names, types, values):
        if isinstance(v, bytes):
            v = "0x" + v.hex()
        elif t == "address":
            v = Web3.to_checksum_address(v)
        shown.append(f"{n}={v}" if n else str(v))
    return f"{name}({', '.join(shown)})"


def _revert_data(exc: BaseException) -> bytes | None:
    """Dig revert bytes out of whatever the backend raised."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 5:
        data = getattr(e, "data", None)
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        if isinstance(data, (bytes, bytearray)):
            return bytes(data)
        for arg in getattr(e, "args", ()):
            if isinstance(arg, (bytes, bytearray)):
                return bytes(arg)
            if isinstance(arg, str) and arg.startswith("execution reverted: b"):
                try:
                    return ast.literal_eval(arg[len("execution reverted: "):])
                except (ValueError, SyntaxError):
                    pass
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def _why_unreachable(e: BaseException) -> str:
    """What a failed first contact means, in words (not the HTTP library's internals)."""
    text = str(e)
    for marker, words in (("Connection refused", "connection refused"), ("Name or service not known", "unknown host"),
                          ("timed out", "timed out"), ("No route to host", "no route to host")):
        if marker in text:
            return words
    return type(e).__name__


class Chain:
    """A connected chain. `embedded()` for py-evm in-process, `rpc(url)` for a node."""

    def __init__(self, w3: Web3, *, label: str, explicit_gas: bool, poll_latency: float = 0.02,
                 retries: int = 0, backoff_s: float = 0.25,
                 on_retry: Callable[[str, int, str], None] = lambda what, attempt, error: None):
        """`on_retry(what, attempt, error)` hears every retried transport failure: an outage the
        retries ride out is still reported (a role logs it)."""
        self.on_retry = on_retry
        self.w3 = w3
        self.label = label
        self.explicit_gas = explicit_gas
        self.poll_latency = poll_latency
        self.retries = retries
        self.backoff_s = backoff_s
        self.chain_id = self._retry("chain id", lambda: w3.eth.chain_id)
        self._nonces: dict[str, int] = {}

    def _retry(self, what: str, fn):
        """Run `fn`, retrying with exponential backoff while the node is unreachable.

        Only transport failures are retried; a revert or a refusal is an answer."""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except _TRANSPORT_ERRORS as e:
                if attempt == self.retries:
                    raise ChainError(what, f"node at {self.label} unreachable after {attempt + 1} "
                                     f"attempt(s): {type(e).__name__}") from None
                self.on_retry(what, attempt + 1, type(e).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    @classmethod
    def embedded(cls, *, start: int | None = None) -> "Chain":
        """The in-process py-evm chain. `start` (unix seconds): a replay chain whose genesis is at
        that time and whose clock moves only by blocks (1 s each) and `advance_time`, so markets on
        historical data run through their life in order (register, close, the event, resolution)."""
        from web3 import EthereumTesterProvider

        if start is None:
            return cls(Web3(EthereumTesterProvider()), label="embedded", explicit_gas=True)
        from eth_tester import EthereumTester, PyEVMBackend

        params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": int(start)})
        tester = EthereumTester(backend=PyEVMBackend(genesis_parameters=params, vm_configuration=((0, _replay_vm()),)))
        return cls(Web3(EthereumTesterProvider(tester)), label="embedded-replay", explicit_gas=True)

    @classmethod
    def rpc(cls, url: str, *, timeout: float = 30.0, retries: int = 6, on_retry=None) -> "Chain":
        """A JSON-RPC node. The first contact fails fast; later calls retry dropped connections
        with exponential backoff (0.25 s doubling to 5 s, `retries` times)."""
        # web3's validation middleware asks the node for its chain id before every eth_call and
        # transaction (one extra round trip each, ~1.5 ms on a local node): a node's chain id does not
        # change under a connection, so that one answer is kept (and nothing else is cached)
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True,
                                    cacheable_requests={"eth_chainId"}))
        try:
            w3.eth.chain_id
        except Exception as e:
            raise ChainError("connect", f"no JSON-RPC node answers at {url} ({_why_unreachable(e)}); is it "
                             "running (`oracle chain up`)?") from None
        return cls(w3, label=url, explicit_gas=False, retries=retries,
                   **({"on_retry": on_retry} if on_retry else {}))

    # ------------------------------------------------------------ accounts
    def fund(self, address: str, wei: int) -> None:
        """Send `wei` from the node's first unlocked dev account (tests, demo, devnet)."""
        h = self._retry("fund", lambda: self.w3.eth.send_transaction(
            {"from": self.w3.eth.accounts[0], "to": address, "value": wei, "gas": 21_000}))
        self._retry("fund", lambda: self.w3.eth.wait_for_transaction_receipt(h, poll_latency=self.poll_latency))

    def balance(self, address: str) -> int:
        return self._retry("balance", lambda: self.w3.eth.get_balance(address))

    def block_number(self) -> int:
        return self._retry("block number", lambda: self.w3.eth.block_number)

    def code(self, address: str) -> bytes:
        """The runtime bytecode at `address` (empty when no contract is there)."""
        return bytes(self._retry("code", lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))))

    def receipt(self, tx_hash: str) -> Any:
        """The receipt of a mined transaction; NotFound when the node knows no such transaction."""
        return self._by_tx_hash("receipt", tx_hash, self.w3.eth.get_transaction_receipt)

    def transaction(self, tx_hash: str) -> Any:
        """A transaction as sent (to, input, ...); NotFound when the node knows no such transaction."""
        return self._by_tx_hash("transaction", tx_hash, self.w3.eth.get_transaction)

    def _by_tx_hash(self, what: str, tx_hash: str, get: Callable[[str], Any]) -> Any:
        if not is_bytes32(tx_hash):
            raise NotFound(f"{tx_hash!r} is not a transaction hash")
        try:
            return self._retry(f"{what} {tx_hash}", lambda: get(tx_hash))
        except TransactionNotFound:
            raise NotFound(f"no transaction {tx_hash} on chain {self.chain_id}") from None

    def _next_nonce(self, address: str) -> int:
        on_chain = self._retry("nonce", lambda: self.w3.eth.get_transaction_count(address, "pending"))
        n = max(on_chain, self._nonces.get(address, 0))
        self._nonces[address] = n + 1
        return n

    # ----------------------------------------------------------- contracts
    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(name)["abi"])

    def deploy(self, signer: Signer, name: str | dict, *args: Any, gas: int | None = None) -> Contract:
        """Deploy a committed contract by name, or any compiled artifact dict (abi + bytecode).

        `gas` overrides the embedded chain's fixed deploy limit (a node estimates it instead)."""
        art = artifact(name) if isinstance(name, str) else name
        name = art.get("contractName", "contract")
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self._send(signer, factory.constructor(*args), value=0,
                             gas=gas if self.explicit_gas else None, action=f"deploy {name}", deploy=True)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])

    def call(self, fn: Any, *, action: str = "", sender: str | None = None, value: int = 0,
             block: int | str | None = None) -> Any:
        """A contract read (eth_call): transport failures retried, a revert raised as ChainError with
        its decoded custom error. `block` reads the state as of that block instead of the latest."""
        params: dict[str, Any] = {"value": value} if value else {}
        if sender:
            params["from"] = sender
        at = {} if block is None else {"block_identifier": block}
        return self.read(action or fn.fn_name, lambda: fn.call(params, **at))

    def read(self, what: str, fn: Callable[[], Any]) -> Any:
        """Any node read: retried while the node is unreachable; every other failure is a ChainError
        (with the decoded revert when there is one)."""
        try:
            return self._retry(what, fn)
        except ChainError:
            raise
        except Exception as e:
            raise self._as_chain_error(what, e) from None

    def logs(self, event: Any, *, from_block: int, to_block: int | str = "latest",
             argument_filters: dict[str, Any] | None = None) -> list:
        """Decoded logs of one contract event (`contract.events.Name()`) in [from_block, to_block]."""
        return list(self.read(f"{event.event_name} logs", lambda: event.get_logs(
            from_block=from_block, to_block=to_block, argument_filters=argument_filters)))

    def transact(self, signer: Signer, fn: Any, *, value: int = 0, gas: int | None = None,
                 action: str = "") -> Any:
        """Sign, send and wait; raise ChainError with the decoded revert reason."""
        return self._send(signer, fn, value=value, gas=gas, action=action or fn.fn_name)

    def _send(self, signer: Signer, fn: Any, *, value: int, gas: int | None, action: str,
              deploy: bool = False) -> Any:
        base: dict[str, Any] = {"from": signer.address, "value": value}
        # Dry run first: a revert surfaces here with its reason, before any nonce is spent.
        try:
            if deploy:
                creation = {**base, "data": fn.data_in_transaction}
                if gas is None and not self.explicit_gas:
                    gas = int(self._retry(action, lambda: self.w3.eth.estimate_gas(creation)) * GAS_MARGIN)
                else:
                    self._retry(action, lambda: self.w3.eth.call(creation))
            elif gas is None and not self.explicit_gas:
                gas = int(self._retry(action, lambda: fn.estimate_gas(base)) * GAS_MARGIN)
            else:
                self._retry(action, lambda: fn.call(base))
        except ChainError:
            raise
        except Exception as e:
            raise self._as_chain_error(action, e) from None
        if gas is None:
            gas = EMBEDDED_DEPLOY_GAS if deploy else EMBEDDED_CALL_GAS
        tx = self._retry(action, lambda: fn.build_transaction(
            {**base, "gas": gas, "nonce": self._next_nonce(signer.address)}))
        raw = signer.sign_transaction(tx)
        tx_hash = keccak(raw)

        def send() -> None:
            try:
                self.w3.eth.send_raw_transaction(raw)
            except ValueError as e:  # a resend of a transaction the node already has is fine
                if "already known" not in str(e) and "known transaction" not in str(e):
                    raise

        try:
            self._retry(action, send)  # the same signed bytes: resending cannot double-spend
            receipt = self._retry(action, lambda: self.w3.eth.wait_for_transaction_receipt(
                tx_hash, poll_latency=self.poll_latency))
        except ChainError:
            self._nonces.pop(signer.address, None)
            raise
        except Exception as e:
            self._nonces.pop(signer.address, None)
            raise self._as_chain_error(action, e) from None
        if receipt["status"] != 1:
            raise ChainError(action, f"transaction {tx_hash.hex()} failed on-chain (status 0)")
        return receipt

    @staticmethod
    def _as_chain_error(action: str, e: Exception) -> ChainError:
        data = _revert_data(e)
        if data is not None:
            return ChainError(action, decode_revert(data), error=revert_name(data))
        return ChainError(action, str(e) or type(e).__name__)

    # --------------------------------------------------------------- time
    def advance_time(self, seconds: int) -> int:
        """Development chains only (the embedded chain, anvil): move the clock forward and mine a
        block. Returns the new latest block's timestamp."""
        provider = self.w3.provider
        tester = getattr(provider, "ethereum_tester", None)
        if tester is not None:
            tester.time_travel(self.timestamp() + int(seconds) + 1)  # it mines at (target - 1)
        else:
            self._retry("evm_increaseTime", lambda: provider.make_request("evm_increaseTime", [int(seconds)]))
            self._retry("evm_mine", lambda: provider.make_request("evm_mine", []))
        return self.timestamp()

    def timestamp(self) -> int:
        return self._retry("timestamp", lambda: self.w3.eth.get_block("latest")["timestamp"])


def _replay_vm():
    """py-evm's Prague VM with a clock of its own: each block 1 s after its parent (py-evm's default
    is the wall clock, which would jump a replay chain to today)."""
    from eth.vm.forks.prague import PragueVM

    class ReplayPragueVM(PragueVM):
        @classmethod
        def create_header_from_parent(cls, parent_header, **params):
            if parent_header is not None:
                params.setdefault("timestamp", parent_header.timestamp + 1)
            return super().create_header_from_parent(parent_header, **params)

    return ReplayPragueVM
