"""Shared fixtures: the Vyper contracts compiled once, a fresh eth-tester (py-evm) chain per test,
and a small ABI helper. No mocks: every call runs the compiled bytecode in py-evm."""

from __future__ import annotations

from pathlib import Path

import pytest
import vyper
from eth_abi import decode, encode
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import _execute_and_revert_transaction
from eth_utils import keccak, to_canonical_address, to_checksum_address

CONTRACTS = Path(__file__).resolve().parent.parent
ERROR_STRING = keccak(text="Error(string)")[:4]  # 0x08c379a0
GAS = 3_000_000


def canonical_type(entry: dict) -> str:
    """The ABI type of an abi.json input, tuples spelled out as in a Solidity signature."""
    t = entry["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in entry["components"]) + ")" + t[len("tuple"):]
    return t


def signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(canonical_type(i) for i in entry['inputs'])})"


def selector(sig: str) -> bytes:
    return keccak(text=sig)[:4]


def topic0(sig: str) -> str:
    return "0x" + keccak(text=sig).hex()


def checksummed(v):
    """eth-abi decodes addresses in lower case; compare them checksummed like the accounts."""
    if isinstance(v, str) and len(v) == 42 and v.startswith("0x"):
        try:
            return to_checksum_address(v)
        except ValueError:
            return v
    if isinstance(v, (tuple, list)):
        return type(v)(checksummed(x) for x in v)
    return v


def compile_source(src: str, name: str = "Contract.vy") -> dict:
    out = vyper.compile_code(src, output_formats=["abi", "bytecode", "method_identifiers"], contract_path=name)
    return out


@pytest.fixture(scope="session")
def compiled() -> dict:
    return {
        name: compile_source((CONTRACTS / f"{name}.vy").read_text(), f"{name}.vy")
        for name in ("DataPolicy", "Flow")
    }


class Reverted(Exception):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.data = data

    @property
    def reason(self) -> str | None:
        if self.data[:4] == ERROR_STRING:
            return decode(["string"], self.data[4:])[0]
        return None


class Chain:
    def __init__(self) -> None:
        self.backend = PyEVMBackend()
        self.t = EthereumTester(self.backend)
        self.accounts = self.t.get_accounts()

    # --- raw access --------------------------------------------------------------------------------
    def balance(self, addr: str) -> int:
        return self.t.get_balance(addr)

    def send(self, sender: str, to: str | None, data: bytes, value: int = 0, gas: int = GAS) -> dict:
        tx = {"from": sender, "gas": gas, "value": value, "data": "0x" + data.hex(),
              "max_fee_per_gas": 10**9, "max_priority_fee_per_gas": 10**9}
        if to:
            tx["to"] = to
        return self.t.get_transaction_receipt(self.t.send_transaction(tx))

    def execute(self, sender: str, to: str | None, data: bytes, value: int = 0) -> bytes:
        """Run a call against the pending block (the context the next transaction gets); return the
        output or raise Reverted with the raw revert data."""
        from eth.exceptions import Revert
        from eth.vm.spoof import SpoofTransaction

        raw = {"from": to_canonical_address(sender), "to": to_canonical_address(to) if to else b"",
               "gas": GAS, "value": value, "data": data,
               "max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 10**9}
        utx = self.backend._get_normalized_and_unsigned_evm_transaction(raw, "pending")
        comp = _execute_and_revert_transaction(self.backend.chain, SpoofTransaction(utx, from_=raw["from"]), "pending")
        if comp.is_error:
            err = comp._error
            if isinstance(err, Revert):
                raise Reverted(bytes(err.args[0]) if err.args else b"")
            raise AssertionError(f"not a revert: {err!r}")
        return bytes(comp.output)

    def deploy(self, out: dict, ctor_types: list[str], ctor_args: list, sender: str | None = None) -> "Contract":
        sender = sender or self.accounts[0]
        code = bytes.fromhex(out["bytecode"][2:]) + encode(ctor_types, ctor_args)
        rc = self.send(sender, None, code, gas=6_000_000)
        assert rc["status"] == 1, rc
        return Contract(self, rc["contract_address"], out["abi"])

    def pending_timestamp(self) -> int:
        return self.t.get_block_by_number("pending")["timestamp"]

    def block_timestamp(self, number: int) -> int:
        return self.t.get_block_by_number(number)["timestamp"]

    def time_travel_to_next(self, ts: int) -> None:
        """Make the next transaction's block have timestamp ts, with eth-tester's time travel (it
        mines a block at ts - 1; the pending block then gets ts)."""
        self.t.time_travel(ts)
        assert self.pending_timestamp() == ts
        assert self.pending_timestamp() == ts


class Contract:
    def __init__(self, chain: Chain, address: str, abi: list):
        self.chain = chain
        self.address = to_checksum_address(address)
        self.abi = abi
        self.fns = {f["name"]: f for f in abi if f["type"] == "function"}
        self.events = {e["name"]: e for e in abi if e["type"] == "event"}

    def encode_call(self, name: str, *args) -> bytes:
        f = self.fns[name]
        return selector(signature(f)) + encode([canonical_type(i) for i in f["inputs"]], list(args))

    def _decode(self, name: str, out: bytes):
        types = [canonical_type(o) for o in self.fns[name]["outputs"]]
        vals = checksummed(decode(types, out))
        return vals[0] if len(vals) == 1 else tuple(vals)

    def call(self, name: str, *args, sender: str | None = None, value: int = 0):
        out = self.chain.execute(sender or self.chain.accounts[0], self.address, self.encode_call(name, *args), value)
        return self._decode(name, out)

    def transact(self, name: str, *args, sender: str, value: int = 0) -> dict:
        rc = self.chain.send(sender, self.address, self.encode_call(name, *args), value)
        assert rc["status"] == 1, f"{name} failed: {rc}"
        return rc

    def reverts(self, name: str, *args, sender: str, value: int = 0) -> Reverted:
        """The call reverts (as eth_call would see it for the next block) AND the transaction mined
        with the same arguments fails (status 0). Returns the revert for its data / reason."""
        data = self.encode_call(name, *args)
        try:
            self.chain.execute(sender, self.address, data, value)
        except Reverted as r:
            rev = r
        else:
            raise AssertionError(f"{name}{args} did not revert")
        rc = self.chain.send(sender, self.address, data, value)
        assert rc["status"] == 0, f"{name} transaction succeeded on chain"
        return rev

    def decode_log(self, entry: dict) -> tuple[str, dict]:
        """(event name, {arg: value}) of a receipt log, checking topic0 and the indexed topics."""
        for ev in self.events.values():
            if entry["topics"][0] == topic0(signature(ev)):
                indexed = [i for i in ev["inputs"] if i["indexed"]]
                plain = [i for i in ev["inputs"] if not i["indexed"]]
                assert len(entry["topics"]) == 1 + len(indexed)
                args = {}
                for i, t in zip(indexed, entry["topics"][1:]):
                    args[i["name"]] = checksummed(decode([canonical_type(i)], bytes.fromhex(t[2:]))[0])
                vals = checksummed(decode([canonical_type(i) for i in plain], bytes.fromhex(entry["data"][2:])))
                args.update({i["name"]: v for i, v in zip(plain, vals)})
                return ev["name"], args
        raise AssertionError(f"unknown event topic {entry['topics'][0]}")

    def events_of(self, receipt: dict) -> list[tuple[str, dict]]:
        return [self.decode_log(e) for e in receipt["logs"] if e["address"].lower() == self.address.lower()]


@pytest.fixture
def chain() -> Chain:
    return Chain()


def gas_cost(receipt: dict) -> int:
    return receipt["gas_used"] * receipt["effective_gas_price"]
