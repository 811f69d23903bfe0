"""Dropped RPC connections: calls and transactions retry with backoff and complete once the node is back;
a node that stays away gives one clear error."""

from __future__ import annotations

import threading
import time

import pytest

from oracle.anvil import free_port, start_anvil
from oracle.chain import Chain
from oracle.errors import ChainError
from oracle.signer import LocalSigner

pytestmark = pytest.mark.slow
# anvil's first well-known dev key: funded at genesis on every fresh anvil
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_transaction_survives_a_node_restart(tmp_path):
    port = free_port()
    node = start_anvil(port=port, log_dir=tmp_path)
    chain = Chain.rpc(node.url, retries=8)
    signer = LocalSigner.from_key(DEV_KEY)
    node.stop()
    restarted = {}

    def bring_back():
        time.sleep(1.5)
        restarted["node"] = start_anvil(port=port, log_dir=tmp_path)

    t = threading.Thread(target=bring_back)
    t.start()
    try:
        started = time.monotonic()
        feed = chain.deploy(signer, "PriceFeed", "BTC-USD", 8)  # dry run, estimate, send, receipt: all retried
        assert time.monotonic() - started >= 1.0
        assert feed.functions.decimals().call() == 8
        assert chain.block_number() >= 1
    finally:
        t.join()
        restarted["node"].stop()


def test_node_that_stays_down_is_one_clear_error(tmp_path):
    node = start_anvil(log_dir=tmp_path)
    chain = Chain.rpc(node.url, retries=2)
    node.stop()
    with pytest.raises(ChainError, match=r"unreachable after 3 attempt\(s\)"):
        chain.balance("0x" + "11" * 20)
