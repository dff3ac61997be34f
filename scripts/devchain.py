#!/usr/bin/env python3
"""Local EVM dev chain for licen-broker: eth-tester (py-evm) behind a loopback JSON-RPC server,
with the Vyper DataPolicy and Flow contracts deployed.

Run it through `scripts/devchain`, which creates `.venv-devchain` with the pinned packages first:

    scripts/devchain up [--port N] [--state-dir DIR] [--price-per-sector WEI]
    scripts/devchain down [--state-dir DIR]
    scripts/devchain status [--state-dir DIR]
    scripts/devchain test [PYTEST ARGS...]

`up` prints one JSON object on stdout: rpcUrl, chainId, dataPolicy, flow and funded dev keys.
Everything else (progress, errors) goes to stderr. `serve` is internal: the server process itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTRACTS = REPO / "contracts"
DEFAULT_STATE_DIR = REPO / ".devchain"

PID_FILE = "devchain.pid"
LOG_FILE = "devchain.log"
SERVER_FILE = "server.json"  # written by the server once it listens: {"pid", "port"}
INFO_FILE = "devchain.json"  # what `up` printed

DEFAULT_PRICE_PER_SECTOR = 10**9  # wei per 256-byte sector for the Flow stand-in
PRIORITY_FEE = 10**9  # the tip eth_maxPriorityFeePerGas suggests

# Roles over eth-tester's ten default funded accounts (private keys 1..10).
ROLE_BACKEND, ROLE_OWNER, ROLE_REQUESTER = 0, 1, 2


def log(msg: str) -> None:
    print(f"devchain: {msg}", file=sys.stderr, flush=True)


# ======================================================================================================
# JSON-RPC server over eth-tester
# ======================================================================================================


class RPCError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def _q(n: int) -> str:
    return hex(int(n))


def _parse_int(v, what: str = "quantity") -> int:
    if isinstance(v, bool):
        raise RPCError(-32602, f"invalid {what}: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 16) if v.lower().startswith("0x") else int(v, 10)
        except ValueError:
            pass
    raise RPCError(-32602, f"invalid {what}: {v!r}")


def _parse_bytes(v, what: str = "data") -> bytes:
    if v is None:
        return b""
    if not isinstance(v, str) or not v.startswith(("0x", "0X")):
        raise RPCError(-32602, f"invalid {what}: {v!r}")
    h = v[2:]
    if len(h) % 2:
        h = "0" + h
    try:
        return bytes.fromhex(h)
    except ValueError:
        raise RPCError(-32602, f"invalid {what}: {v!r}") from None


def _parse_address(v, what: str = "address") -> bytes:
    b = _parse_bytes(v, what)
    if len(b) != 20:
        raise RPCError(-32602, f"invalid {what}: {v!r}")
    return b


def _hex_addr(b: bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(b)


class DevChain:
    """eth-tester chain with geth-shaped JSON-RPC results. Each transaction is mined in its own block."""

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        self.backend = PyEVMBackend()
        self.tester = EthereumTester(self.backend, auto_mine_transactions=True)
        self.lock = threading.RLock()
        self.time_offset = 0  # seconds added to the wall clock (evm_increaseTime)
        self.pinned_timestamp: int | None = None  # evm_setNextBlockTimestamp
        self._logs_cache: dict[int, list[dict]] = {}
        self._call_memo: dict[tuple[bytes, str], object] = {}  # see call()
        self.methods = {
            "web3_clientVersion": lambda: "licen-devchain/eth-tester-py-evm",
            "eth_chainId": lambda: _q(self.chain_id),
            "net_version": lambda: str(self.chain_id),
            "net_listening": lambda: True,
            "eth_syncing": lambda: False,
            "eth_accounts": lambda: [],
            "eth_blockNumber": lambda: _q(self._latest_number()),
            "eth_getBalance": self.get_balance,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": lambda: _q(PRIORITY_FEE),
            "eth_feeHistory": self.fee_history,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getLogs": self.get_logs,
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "evm_increaseTime": self.increase_time,
            "evm_setNextBlockTimestamp": self.set_next_block_timestamp,
            "evm_mine": self.mine,
        }

    # --- plumbing ----------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        return self.backend.chain.chain_id

    def _latest_number(self) -> int:
        return self.backend.chain.get_canonical_head().block_number

    def _block_id(self, tag) -> int | str:
        """A block parameter as eth-tester takes it: an int or latest/earliest/pending/safe/finalized."""
        if tag is None:
            return "latest"
        if isinstance(tag, dict):  # EIP-1898
            if "blockHash" in tag:
                blk = self._block_by_hash_or_none(tag["blockHash"])
                if blk is None:
                    raise RPCError(-32000, "header not found")
                return blk["number"]
            if "blockNumber" in tag:
                return self._block_id(tag["blockNumber"])
            raise RPCError(-32602, "invalid block parameter")
        if isinstance(tag, str) and tag in ("latest", "earliest", "pending", "safe", "finalized"):
            return "latest" if tag in ("safe", "finalized") else tag
        n = _parse_int(tag, "block number")
        if n > self._latest_number():
            raise RPCError(-32000, "header not found")
        return n

    def _refresh_pending_timestamp(self) -> None:
        """The pending block gets max(wall clock + offset, parent + 1) (or the pinned timestamp)."""
        chain = self.backend.chain
        parent_ts = chain.get_canonical_head().timestamp
        if self.pinned_timestamp is not None:
            want = max(self.pinned_timestamp, parent_ts + 1)
        else:
            want = max(int(time.time()) + self.time_offset, parent_ts + 1)
        if chain.header.timestamp != want and (self.pinned_timestamp is not None or chain.header.timestamp < want):
            chain.header = chain.header.copy(timestamp=want)

    def _after_mining(self) -> None:
        self.pinned_timestamp = None

    # --- accounts ------------------------------------------------------------------------------------
    def _account_query(self, fn, address, tag):
        addr = _hex_addr(_parse_address(address))
        block = self._block_id(tag)
        if block == "pending":
            self._refresh_pending_timestamp()
        try:
            return fn(addr, block)
        except Exception as e:  # BlockNotFound and friends
            raise RPCError(-32000, str(e) or "header not found") from None

    def get_balance(self, address, tag="latest"):
        return _q(self._account_query(self.tester.get_balance, address, tag))

    def get_code(self, address, tag="latest"):
        return self._account_query(self.tester.get_code, address, tag)

    def get_storage_at(self, address, slot, tag="latest"):
        s = _parse_int(slot, "storage slot")
        val = self._account_query(lambda a, b: self.tester.get_storage_at(a, hex(s), b), address, tag)
        raw = _parse_bytes(val) if isinstance(val, str) else bytes(val)
        return "0x" + raw.rjust(32, b"\0").hex()

    def get_transaction_count(self, address, tag="latest"):
        # Every transaction is mined at once, so the pending nonce is the nonce in the pending block's
        # state: it already counts every transaction this node has accepted.
        return _q(self._account_query(self.tester.get_nonce, address, tag))

    # --- execution -----------------------------------------------------------------------------------
    def _execute(self, tx: dict, tag, gas: int | None = None):
        """Run a call on a copy of the state; fees are zero (base fee 0 in the execution header, as
        geth's eth_call does), so any `from` may call. Returns the py-evm computation."""
        from eth.vm.spoof import SpoofTransaction
        from eth_utils import ValidationError

        if not isinstance(tx, dict):
            raise RPCError(-32602, "invalid transaction object")
        chain = self.backend.chain
        header = self._header(tag).copy(base_fee_per_gas=0)
        sender = _parse_address(tx["from"], "from") if tx.get("from") else b"\0" * 20
        to = _parse_address(tx["to"], "to") if tx.get("to") else b""
        data = tx.get("input", tx.get("data"))
        cap = header.gas_limit
        raw = {
            "from": sender,
            "to": to,
            "gas": gas if gas is not None else (_parse_int(tx["gas"], "gas") if tx.get("gas") else cap),
            "value": _parse_int(tx.get("value") or 0, "value"),
            "data": _parse_bytes(data),
            "max_fee_per_gas": 0,
            "max_priority_fee_per_gas": 0,
        }
        vm = chain.get_vm(at_header=header)
        state = vm.state
        raw["nonce"] = state.get_nonce(sender)
        unsigned = self.backend._create_type_aware_unsigned_transaction(
            self.backend._normalize_transaction(raw)  # adds chain id and an empty access list
        )
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(SpoofTransaction(unsigned, from_=sender))
        except ValidationError as e:
            msg = str(e)
            if "afford" in msg or "balance" in msg:
                msg = "insufficient funds for gas * price + value"
            elif "intrinsic" in msg.lower() or "gas cannot be negative" in msg.lower():
                msg = "intrinsic gas too low"
            raise RPCError(-32000, msg) from None
        finally:
            state.revert(snapshot)
        return computation

    @staticmethod
    def _raise_for_error(computation) -> None:
        from eth.exceptions import Revert

        if not computation.is_error:
            return
        err = computation._error
        if isinstance(err, Revert):
            data = err.args[0] if err.args and isinstance(err.args[0], (bytes, bytearray)) else b""
            if not data:
                raise RPCError(-32000, "execution reverted")
            message = "execution reverted"
            if data[:4] == bytes.fromhex("08c379a0"):
                try:
                    from eth_abi import decode

                    message += ": " + decode(["string"], data[4:])[0]
                except Exception:
                    pass
            raise RPCError(3, message, "0x" + bytes(data).hex())
        text = str(err) or type(err).__name__
        if type(err).__name__ == "OutOfGas":
            text = "out of gas"
        raise RPCError(-32000, text)

    def _header(self, tag):
        """The header a block parameter names; the pending one with its timestamp brought up to date."""
        chain = self.backend.chain
        block = self._block_id(tag)
        if block == "pending":
            self._refresh_pending_timestamp()
            return chain.header
        if block == "earliest":
            return chain.get_canonical_block_header_by_number(0)
        if block == "latest":
            return chain.get_canonical_head()
        return chain.get_canonical_block_header_by_number(block)

    def call(self, tx, tag="latest"):
        # The state of a mined block never changes, so a call against one is answered from a memo
        # keyed by (block hash, call object), the way a node's state cache would serve it: py-evm
        # takes ~4 ms to run even a one-SLOAD view call, which would otherwise dominate every
        # key-release benchmark. A call against the pending block (its timestamp follows the wall
        # clock) always runs.
        key = None
        if self._block_id(tag) != "pending" and isinstance(tx, dict):
            key = (bytes(self._header(tag).hash), json.dumps(tx, sort_keys=True))
            hit = self._call_memo.get(key)
            if hit is not None:
                self._raise_for_error(hit)
                return "0x" + bytes(hit.output).hex()
        computation = self._execute(tx, tag)
        if key is not None:
            if len(self._call_memo) >= 4096:
                self._call_memo.clear()
            self._call_memo[key] = computation
        self._raise_for_error(computation)
        return "0x" + bytes(computation.output).hex()

    def estimate_gas(self, tx, tag="latest"):
        """geth's method: fail with the revert at the cap, else binary-search the lowest gas limit that
        succeeds (stopping within 1.5%, always answering a limit that was seen to succeed)."""
        cap = _parse_int(tx["gas"], "gas") if isinstance(tx, dict) and tx.get("gas") else None
        first = self._execute(tx, tag, gas=cap)
        self._raise_for_error(first)
        hi = cap if cap is not None else self.backend.chain.get_canonical_head().gas_limit
        used = hi - first.get_gas_remaining()  # gas consumed before refunds, intrinsic included
        lo = max(used - 1, 20999)
        guess = min(hi, (used + 2300) * 64 // 63)

        def ok(g: int) -> bool:
            try:
                return not self._execute(tx, tag, gas=g).is_error
            except RPCError:
                return False

        if guess < hi and ok(guess):
            hi = guess
        while hi - lo > 1 and (hi - lo) * 1000 > hi * 15:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return _q(hi)

    def _pending_base_fee(self) -> int:
        return self.backend.chain.header.base_fee_per_gas

    def gas_price(self):
        return _q(self._pending_base_fee() + PRIORITY_FEE)

    def fee_history(self, block_count, newest="latest", percentiles=None):
        count = _parse_int(block_count, "block count")
        if count < 1:
            raise RPCError(-32602, "invalid block count")
        count = min(count, 1024)
        newest_id = self._block_id(newest)
        newest_n = self._latest_number() if newest_id in ("latest", "pending") else (
            0 if newest_id == "earliest" else newest_id)
        oldest = max(0, newest_n - count + 1)
        chain = self.backend.chain
        base_fees, ratios, rewards = [], [], []
        for n in range(oldest, newest_n + 1):
            header = chain.get_canonical_block_header_by_number(n)
            base_fees.append(_q(header.base_fee_per_gas or 0))
            ratios.append(header.gas_used / header.gas_limit if header.gas_limit else 0.0)
            if percentiles:
                rewards.append([_q(x) for x in self._block_rewards(n, header, percentiles)])
        if newest_n == self._latest_number():
            base_fees.append(_q(self._pending_base_fee()))
        else:
            base_fees.append(_q(chain.get_canonical_block_header_by_number(newest_n + 1).base_fee_per_gas or 0))
        result = {"oldestBlock": _q(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
        if percentiles:
            result["reward"] = rewards
        return result

    def _block_rewards(self, n, header, percentiles):
        block = self.backend.chain.get_canonical_block_by_number(n)
        base = header.base_fee_per_gas or 0
        receipts = block.get_receipts(self.backend.chain.chaindb)
        tips, prev = [], 0
        for tx, rc in zip(block.transactions, receipts):
            used = rc.gas_used - prev
            prev = rc.gas_used
            if hasattr(tx, "max_priority_fee_per_gas"):
                tip = min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base)
            else:
                tip = tx.gas_price - base
            tips.append((max(tip, 0), used))
        if not tips:
            return [0 for _ in percentiles]
        tips.sort()
        total = sum(u for _, u in tips)
        out = []
        for p in percentiles:
            threshold = total * float(p) / 100.0
            acc, pick = 0, tips[-1][0]
            for tip, used in tips:
                acc += used
                if acc >= threshold:
                    pick = tip
                    break
            out.append(pick)
        return out

    # --- transactions --------------------------------------------------------------------------------
    def send_raw_transaction(self, raw_hex):
        from eth_utils import ValidationError

        raw = _parse_bytes(raw_hex, "raw transaction")
        if not raw:
            raise RPCError(-32602, "empty raw transaction")
        self._check_chain_id(raw)
        self._refresh_pending_timestamp()
        try:
            tx_hash = self.tester.send_raw_transaction("0x" + raw.hex())
        except ValidationError as e:
            raise RPCError(-32000, self._geth_send_error(str(e))) from None
        except Exception as e:
            # Undecodable RLP, bad signature, unsupported type
            raise RPCError(-32000, f"invalid transaction: {e}") from None
        self._after_mining()
        try:
            rc = self.tester.get_transaction_receipt(tx_hash)
            print(f"{time.strftime('%H:%M:%S')} tx {tx_hash} block {rc['block_number']} status {rc['status']} "
                  f"gas {rc['gas_used']} to {rc['to'] or rc['contract_address']}", file=sys.stderr, flush=True)
        except Exception:
            pass
        return tx_hash

    def _check_chain_id(self, raw: bytes) -> None:
        """py-evm does not check a typed transaction's chain id: do it here, as geth does. Like geth's
        default, refuse transactions without replay protection (legacy without EIP-155)."""
        import rlp

        try:
            if raw[0] >= 0xC0:  # legacy: [nonce, gasPrice, gas, to, value, data, v, r, s]
                v = int.from_bytes(rlp.decode(raw)[6], "big")
                if v in (27, 28):
                    raise RPCError(-32000, "only replay-protected (EIP-155) transactions allowed over RPC")
                chain_id = (v - 35) // 2
            else:  # typed (EIP-2718): type byte ‖ rlp([chainId, ...])
                chain_id = int.from_bytes(rlp.decode(raw[1:])[0], "big")
        except RPCError:
            raise
        except Exception as e:
            raise RPCError(-32000, f"invalid transaction: {e}") from None
        if chain_id != self.chain_id:
            raise RPCError(-32000, f"invalid chain id for signer: have {chain_id} want {self.chain_id}")

    @staticmethod
    def _geth_send_error(msg: str) -> str:
        low = msg.lower()
        if "nonce" in low:
            if "expected" in low or "invalid" in low:
                return f"invalid nonce: {msg}"
        if "afford" in low or "insufficient" in low or "enough balance" in low:
            return f"insufficient funds for gas * price + value: {msg}"
        if "intrinsic" in low or "gas cannot be negative" in low:
            return f"intrinsic gas too low: {msg}"
        if "base fee" in low or "base_fee" in low:
            return f"max fee per gas less than block base fee: {msg}"
        if "chain" in low and "id" in low:
            return f"invalid chain id: {msg}"
        return msg

    def _tx_json(self, tx: dict, base_fee: int | None) -> dict:
        out = {
            "hash": tx["hash"],
            "nonce": _q(tx["nonce"]),
            "blockHash": tx.get("block_hash"),
            "blockNumber": _q(tx["block_number"]) if tx.get("block_number") is not None else None,
            "transactionIndex": _q(tx["transaction_index"]) if tx.get("transaction_index") is not None else None,
            "from": tx["from"],
            "to": tx["to"] or None,
            "value": _q(tx["value"]),
            "gas": _q(tx["gas"]),
            "input": tx["data"],
            "v": _q(tx["v"]),
            "r": _q(tx["r"]),
            "s": _q(tx["s"]),
            "type": tx.get("type", "0x0"),
        }
        if "max_fee_per_gas" in tx:
            out["maxFeePerGas"] = _q(tx["max_fee_per_gas"])
            out["maxPriorityFeePerGas"] = _q(tx["max_priority_fee_per_gas"])
            price = tx["max_fee_per_gas"]
            if base_fee is not None:
                price = min(tx["max_fee_per_gas"], base_fee + tx["max_priority_fee_per_gas"])
            out["gasPrice"] = _q(price)
        else:
            out["gasPrice"] = _q(tx["gas_price"])
        if "chain_id" in tx:
            out["chainId"] = _q(tx["chain_id"])
        elif tx["v"] >= 35:
            out["chainId"] = _q((tx["v"] - 35) // 2)
        if "access_list" in tx:
            out["accessList"] = [
                {"address": a["address"], "storageKeys": list(a["storage_keys"])} for a in tx["access_list"]
            ]
        if "y_parity" in tx:
            out["yParity"] = _q(tx["y_parity"])
        return out

    def get_transaction_by_hash(self, tx_hash):
        from eth_tester.exceptions import TransactionNotFound

        h = _parse_bytes(tx_hash, "transaction hash")
        if len(h) != 32:
            raise RPCError(-32602, "invalid transaction hash")
        try:
            tx = self.tester.get_transaction_by_hash("0x" + h.hex())
        except TransactionNotFound:
            return None
        base_fee = None
        if tx.get("block_number") is not None:
            base_fee = self.backend.chain.get_canonical_block_header_by_number(tx["block_number"]).base_fee_per_gas
        return self._tx_json(tx, base_fee)

    @staticmethod
    def _log_json(entry: dict, block_hash: str, block_number: int, tx_hash: str, tx_index: int, log_index: int) -> dict:
        return {
            "address": entry["address"],
            "topics": list(entry["topics"]),
            "data": entry["data"],
            "blockNumber": _q(block_number),
            "blockHash": block_hash,
            "transactionHash": tx_hash,
            "transactionIndex": _q(tx_index),
            "logIndex": _q(log_index),
            "removed": False,
        }

    @staticmethod
    def _bloom(logs: list[dict]) -> str:
        from eth_bloom import BloomFilter

        bloom = BloomFilter()
        for entry in logs:
            bloom.add(_parse_bytes(entry["address"]))
            for topic in entry["topics"]:
                bloom.add(_parse_bytes(topic))
        return "0x" + int(bloom).to_bytes(256, "big").hex()

    def _receipt_json(self, rc: dict) -> dict:
        block_number = rc["block_number"]
        # logIndex is block-wide: count the logs of the transactions before this one in the block.
        first_log = 0
        if rc["transaction_index"]:
            blk = self.tester.get_block_by_number(block_number)
            for h in blk["transactions"][: rc["transaction_index"]]:
                first_log += len(self.tester.get_transaction_receipt(h)["logs"])
        logs = [
            self._log_json(e, rc["block_hash"], block_number, rc["transaction_hash"], rc["transaction_index"],
                           first_log + i)
            for i, e in enumerate(rc["logs"])
        ]
        return {
            "transactionHash": rc["transaction_hash"],
            "transactionIndex": _q(rc["transaction_index"]),
            "blockHash": rc["block_hash"],
            "blockNumber": _q(block_number),
            "from": rc["from"],
            "to": rc["to"] or None,
            "cumulativeGasUsed": _q(rc["cumulative_gas_used"]),
            "gasUsed": _q(rc["gas_used"]),
            "effectiveGasPrice": _q(rc["effective_gas_price"]),
            "contractAddress": rc["contract_address"] or None,
            "logs": logs,
            "logsBloom": self._bloom(rc["logs"]),
            "status": _q(rc["status"]),
            "type": rc.get("type", "0x0"),
        }

    def get_transaction_receipt(self, tx_hash):
        from eth_tester.exceptions import TransactionNotFound

        h = _parse_bytes(tx_hash, "transaction hash")
        if len(h) != 32:
            raise RPCError(-32602, "invalid transaction hash")
        try:
            rc = self.tester.get_transaction_receipt("0x" + h.hex())
        except TransactionNotFound:
            return None
        if rc.get("block_number") is None:
            return None
        return self._receipt_json(rc)

    # --- logs ------------------------------------------------------------------------------------------
    def _block_logs(self, n: int) -> list[dict]:
        cached = self._logs_cache.get(n)
        if cached is not None:
            return cached
        blk = self.tester.get_block_by_number(n)
        logs: list[dict] = []
        for i, h in enumerate(blk["transactions"]):
            rc = self.tester.get_transaction_receipt(h)
            for e in rc["logs"]:
                logs.append(self._log_json(e, blk["hash"], n, h, i, len(logs)))
        self._logs_cache[n] = logs  # mined blocks never change here: no reorgs, no snapshot reverts
        return logs

    def get_logs(self, flt=None):
        flt = flt or {}
        if not isinstance(flt, dict):
            raise RPCError(-32602, "invalid filter")
        latest = self._latest_number()
        if flt.get("blockHash"):
            if "fromBlock" in flt or "toBlock" in flt:
                raise RPCError(-32602, "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
            blk = self._block_by_hash_or_none(flt["blockHash"])
            if blk is None:
                raise RPCError(-32000, "unknown block")
            lo = hi = blk["number"]
        else:
            def bound(tag):
                if tag is None or tag in ("latest", "pending", "safe", "finalized"):
                    return latest
                if tag == "earliest":
                    return 0
                return _parse_int(tag, "block number")

            lo, hi = bound(flt.get("fromBlock")), min(bound(flt.get("toBlock")), latest)
        addresses = flt.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        addr_set = {a.lower() for a in addresses} if addresses else None
        topics = flt.get("topics") or []
        if not isinstance(topics, list):
            raise RPCError(-32602, "invalid topics")
        wanted: list[set | None] = []
        for t in topics:
            if t is None:
                wanted.append(None)
            elif isinstance(t, str):
                wanted.append({t.lower()})
            elif isinstance(t, list):
                wanted.append(None if (not t or any(x is None for x in t)) else {x.lower() for x in t})
            else:
                raise RPCError(-32602, "invalid topics")
        out = []
        for n in range(lo, hi + 1):
            for entry in self._block_logs(n):
                if addr_set is not None and entry["address"].lower() not in addr_set:
                    continue
                if len(wanted) > len(entry["topics"]):
                    continue
                if all(w is None or entry["topics"][i].lower() in w for i, w in enumerate(wanted)):
                    out.append(entry)
        return out

    # --- blocks ---------------------------------------------------------------------------------------------
    def _block_json(self, blk: dict, full: bool) -> dict:
        base_fee = blk.get("base_fee_per_gas")
        if full:
            txs = [self._tx_json(self.tester.get_transaction_by_hash(h), base_fee) for h in blk["transactions"]]
        else:
            txs = list(blk["transactions"])
        bloom = blk["logs_bloom"]
        bloom_hex = "0x" + (int(bloom).to_bytes(256, "big").hex() if isinstance(bloom, int) else _parse_bytes(bloom).hex())
        out = {
            "number": _q(blk["number"]),
            "hash": blk["hash"],
            "parentHash": blk["parent_hash"],
            "nonce": blk["nonce"],
            "sha3Uncles": blk["sha3_uncles"],
            "logsBloom": bloom_hex,
            "transactionsRoot": blk["transactions_root"],
            "stateRoot": blk["state_root"],
            "receiptsRoot": blk["receipts_root"],
            "miner": blk["coinbase"],
            "difficulty": _q(blk["difficulty"]),
            "totalDifficulty": _q(blk.get("total_difficulty") or 0),
            "extraData": blk["extra_data"],
            "size": _q(blk["size"]),
            "gasLimit": _q(blk["gas_limit"]),
            "gasUsed": _q(blk["gas_used"]),
            "timestamp": _q(blk["timestamp"]),
            "transactions": txs,
            "uncles": list(blk["uncles"]),
            "mixHash": blk["mix_hash"],
        }
        if base_fee is not None:
            out["baseFeePerGas"] = _q(base_fee)
        if "withdrawals_root" in blk:
            out["withdrawals"] = []
            out["withdrawalsRoot"] = blk["withdrawals_root"]
        for src, dst in (("blob_gas_used", "blobGasUsed"), ("excess_blob_gas", "excessBlobGas")):
            if src in blk:
                out[dst] = _q(blk[src])
        for src, dst in (("parent_beacon_block_root", "parentBeaconBlockRoot"), ("requests_hash", "requestsHash")):
            if src in blk:
                out[dst] = blk[src]
        return out

    def get_block_by_number(self, tag="latest", full=False):
        from eth_tester.exceptions import BlockNotFound

        try:
            block = self._block_id(tag)
        except RPCError:
            return None
        if block == "pending":
            self._refresh_pending_timestamp()
        try:
            blk = self.tester.get_block_by_number(block, full_transactions=False)
        except BlockNotFound:
            return None
        return self._block_json(blk, bool(full))

    def _block_by_hash_or_none(self, block_hash):
        from eth_tester.exceptions import BlockNotFound

        h = _parse_bytes(block_hash, "block hash")
        if len(h) != 32:
            raise RPCError(-32602, "invalid block hash")
        try:
            return self.tester.get_block_by_hash("0x" + h.hex(), full_transactions=False)
        except BlockNotFound:
            return None

    def get_block_by_hash(self, block_hash, full=False):
        blk = self._block_by_hash_or_none(block_hash)
        return None if blk is None else self._block_json(blk, bool(full))

    # --- dev helpers ------------------------------------------------------------------------------------------
    def increase_time(self, seconds):
        s = _parse_int(seconds, "seconds")
        if s < 0:
            raise RPCError(-32602, "cannot go back in time")
        self.time_offset += s
        self._refresh_pending_timestamp()
        return self.time_offset  # total offset in seconds, as ganache answers

    def set_next_block_timestamp(self, ts):
        t = _parse_int(ts, "timestamp")
        if t <= self.backend.chain.get_canonical_head().timestamp:
            raise RPCError(-32000, "timestamp must be later than the latest block's")
        self.pinned_timestamp = t
        # later blocks keep going from there
        self.time_offset = max(self.time_offset, t - int(time.time()))
        self._refresh_pending_timestamp()
        return None

    def mine(self, arg=None):
        if isinstance(arg, dict):
            arg = arg.get("timestamp")
        if arg is not None:
            self.set_next_block_timestamp(arg)
        self._refresh_pending_timestamp()
        self.tester.mine_block()
        self._after_mining()
        return "0x0"

    # --- dispatch ---------------------------------------------------------------------------------------------
    def handle(self, req) -> dict | None:
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return {"jsonrpc": "2.0", "id": req.get("id") if isinstance(req, dict) else None,
                    "error": {"code": -32600, "message": "invalid request"}}
        rid = req.get("id")
        is_notification = "id" not in req
        method = req["method"]
        params = req.get("params") or []
        fn = self.methods.get(method)
        try:
            if fn is None:
                raise RPCError(-32601, f"the method {method} does not exist/is not available")
            if isinstance(params, dict):
                params = [params]
            if not isinstance(params, list):
                raise RPCError(-32602, "invalid params")
            with self.lock:
                try:
                    result = fn(*params)
                except TypeError as e:
                    if "positional argument" in str(e):
                        raise RPCError(-32602, f"invalid params for {method}: {e}") from None
                    raise
                except KeyError as e:
                    raise RPCError(-32602, f"missing field {e}") from None
            resp = {"jsonrpc": "2.0", "id": rid, "result": result}
        except RPCError as e:
            resp = {"jsonrpc": "2.0", "id": rid, "error": e.to_json()}
        except Exception as e:  # a bug here, or an eth-tester error we did not map
            traceback.print_exc()
            resp = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": f"{type(e).__name__}: {e}"}}
        return None if is_notification else resp


def make_handler(chain: DevChain):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "licen-devchain"
        # Headers and body go out in two writes on a kept-alive connection: without TCP_NODELAY
        # Nagle holds the body until the client's delayed ACK (~40 ms per call).
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # keep the log for our own lines
            pass

        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._reply(405, b"POST JSON-RPC 2.0 requests here\n", "text/plain")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                req = json.loads(body)
            except ValueError:
                out = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            else:
                if isinstance(req, list):
                    if not req:
                        out = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "empty batch"}}
                    else:
                        out = [r for r in (chain.handle(x) for x in req) if r is not None]
                else:
                    out = chain.handle(req)
                for r in out if isinstance(out, list) else [out]:
                    if r is not None and "error" in r:
                        method = next((x.get("method") for x in (req if isinstance(req, list) else [req])
                                       if isinstance(x, dict) and x.get("id") == r["id"]), None)
                        print(f"{time.strftime('%H:%M:%S')} {method}: error {r['error']}", file=sys.stderr, flush=True)
            if out is None or out == []:
                self._reply(200, b"")
            else:
                self._reply(200, json.dumps(out).encode())

    return Handler


def serve(args) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    chain = DevChain()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(chain))
    server.daemon_threads = True
    port = server.server_address[1]

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = state_dir / (SERVER_FILE + ".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port}))
    tmp.replace(state_dir / SERVER_FILE)
    print(f"{time.strftime('%H:%M:%S')} listening on http://127.0.0.1:{port} chainId {chain.chain_id}",
          file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    print(f"{time.strftime('%H:%M:%S')} stopped", file=sys.stderr, flush=True)
    return 0


# ======================================================================================================
# Client side: compile, deploy, up/down/status
# ======================================================================================================


def rpc(url: str, method: str, params=None, timeout: float = 30.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RPCError(out["error"]["code"], out["error"]["message"], out["error"].get("data"))
    return out["result"]


def compile_contract(name: str) -> tuple[list, str]:
    """(abi, creation bytecode hex) of contracts/<name>.vy."""
    import vyper

    src = (CONTRACTS / f"{name}.vy").read_text()
    out = vyper.compile_code(src, output_formats=["abi", "bytecode"], contract_path=f"{name}.vy")
    return out["abi"], out["bytecode"]


def dev_keys() -> list[dict]:
    """eth-tester's ten funded default accounts (private keys 1..10)."""
    from eth_account import Account

    keys = []
    for i in range(1, 11):
        key = "0x" + i.to_bytes(32, "big").hex()
        keys.append({"address": Account.from_key(key).address, "privateKey": key})
    return keys


def send_signed(url: str, key: str, tx: dict) -> dict:
    """Sign a type-2 transaction with eth-account, send it raw, return the receipt (raises on failure)."""
    from eth_account import Account

    acct = Account.from_key(key)
    chain_id = int(rpc(url, "eth_chainId"), 16)
    nonce = int(rpc(url, "eth_getTransactionCount", [acct.address, "pending"]), 16)
    base = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    full = {"type": 2, "chainId": chain_id, "nonce": nonce, "maxPriorityFeePerGas": PRIORITY_FEE,
            "maxFeePerGas": 2 * base + PRIORITY_FEE, "value": 0} | tx
    signed = acct.sign_transaction(full)
    tx_hash = rpc(url, "eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
    if receipt is None or receipt["status"] != "0x1":
        raise RuntimeError(f"transaction failed: {receipt}")
    return receipt


def deploy(url: str, key: str, name: str, ctor_types: list[str], ctor_args: list, state_dir: Path) -> str:
    from eth_abi import encode

    abi, bytecode = compile_contract(name)
    (state_dir / f"{name}.abi.json").write_text(json.dumps(abi, indent=1))
    data = bytecode + encode(ctor_types, ctor_args).hex()
    receipt = send_signed(url, key, {"data": data, "gas": 5_000_000})
    return receipt["contractAddress"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # exited, not yet reaped by whoever adopted it
    except (OSError, IndexError):
        pass
    try:  # not a pid reused by something else
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return any(part.endswith(b"devchain.py") for part in cmdline) and b"serve" in cmdline
    except OSError:
        return True


def _running_pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _current_info(state_dir: Path) -> dict | None:
    """The JSON of a running, answering dev chain in state_dir, else None."""
    if _running_pid(state_dir) is None:
        return None
    try:
        info = json.loads((state_dir / INFO_FILE).read_text())
        rpc(info["rpcUrl"], "eth_chainId", timeout=5)
        return info
    except (OSError, ValueError, KeyError, urllib.error.URLError, RPCError, TimeoutError):
        return None


def _cleanup(state_dir: Path) -> None:
    for name in (PID_FILE, SERVER_FILE, INFO_FILE):
        try:
            (state_dir / name).unlink()
        except FileNotFoundError:
            pass


def cmd_up(args) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    info = _current_info(state_dir)
    if info is not None:
        log(f"already running (pid {_running_pid(state_dir)})")
        print(json.dumps(info))
        return 0
    stale = _running_pid(state_dir)
    if stale is not None:  # alive but not answering: replace it
        _stop(state_dir, stale)
    _cleanup(state_dir)

    log_path = state_dir / LOG_FILE
    with open(log_path, "ab") as logf, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(args.port),
             "--state-dir", str(state_dir)],
            stdin=devnull, stdout=logf, stderr=logf, start_new_session=True, cwd=str(REPO),
            env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
        )
    (state_dir / PID_FILE).write_text(f"{proc.pid}\n")

    # Compile while the server starts.
    url = None
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            log(f"server exited with {proc.returncode}; see {log_path}")
            sys.stderr.write("".join(log_path.read_text(errors="replace").splitlines(True)[-20:]))
            _cleanup(state_dir)
            return 1
        try:
            port = json.loads((state_dir / SERVER_FILE).read_text())["port"]
            url = f"http://127.0.0.1:{port}"
            rpc(url, "eth_chainId", timeout=5)
            break
        except (OSError, ValueError, KeyError, urllib.error.URLError, TimeoutError):
            time.sleep(0.2)
    else:
        log(f"server did not answer in time; see {log_path}")
        _stop(state_dir, proc.pid)
        return 1

    try:
        keys = dev_keys()
        backend, owner, requester = keys[ROLE_BACKEND], keys[ROLE_OWNER], keys[ROLE_REQUESTER]
        data_policy = deploy(url, backend["privateKey"], "DataPolicy", ["address"], [backend["address"]], state_dir)
        flow = deploy(url, backend["privateKey"], "Flow", ["uint256"], [args.price_per_sector], state_dir)
        info = {
            "rpcUrl": url,
            "chainId": int(rpc(url, "eth_chainId"), 16),
            "dataPolicy": data_policy,
            "flow": flow,
            "backend": backend,
            "owner": owner,
            "requester": requester,
            "extra": [k for i, k in enumerate(keys) if i not in (ROLE_BACKEND, ROLE_OWNER, ROLE_REQUESTER)],
        }
    except Exception as e:
        log(f"deployment failed: {e}")
        _stop(state_dir, proc.pid)
        return 1
    tmp = state_dir / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    tmp.replace(state_dir / INFO_FILE)
    log(f"up: {url} (pid {proc.pid}, log {log_path})")
    print(json.dumps(info))
    return 0


def _stop(state_dir: Path, pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + 10
    while time.time() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _cleanup(state_dir)


def cmd_down(args) -> int:
    state_dir = Path(args.state_dir).resolve()
    pid = _running_pid(state_dir)
    if pid is None:
        _cleanup(state_dir)
        log("not running")
        return 0
    _stop(state_dir, pid)
    log(f"stopped (pid {pid})")
    return 0


def cmd_status(args) -> int:
    info = _current_info(Path(args.state_dir).resolve())
    if info is None:
        log("not running")
        return 1
    print(json.dumps(info))
    return 0


def cmd_test(extra: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CONTRACTS / "tests")] + extra
    return subprocess.call(cmd, cwd=str(REPO), env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"})


def main(argv: list[str]) -> int:
    if argv and argv[0] == "test":
        return cmd_test(argv[1:])
    p = argparse.ArgumentParser(prog="scripts/devchain", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("up", "down", "status", "serve"):
        sp = sub.add_parser(name)
        sp.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
        if name in ("up", "serve"):
            sp.add_argument("--port", type=int, default=0, help="0 (default): a free port")
        if name == "up":
            sp.add_argument("--price-per-sector", type=int, default=DEFAULT_PRICE_PER_SECTOR,
                            help="Flow fee per 256-byte sector, in wei")
    sub.add_parser("test", help="run the contract test suite")
    args = p.parse_args(argv)
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "serve": serve}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
