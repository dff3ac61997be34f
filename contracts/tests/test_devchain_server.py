"""Smoke test of the dev-chain server: `scripts/devchain up` in a temporary state dir, then raw
JSON-RPC over HTTP with transactions signed by eth-account (as the Swift client will send them),
then `scripts/devchain down`."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak

REPO = Path(__file__).resolve().parents[2]
DEVCHAIN = REPO / "scripts" / "devchain"

ROOT = keccak(text="smoke-root")
MANIFEST = keccak(text="smoke-manifest")
PURPOSE = keccak(text="smoke-purpose")
ROYALTY = 10**14
EPOCHS = 4
TTL = 3600


def sel(sig: str) -> bytes:
    return keccak(text=sig)[:4]


def topic(sig: str) -> str:
    return "0x" + keccak(text=sig).hex()


def pad_topic(b: bytes) -> str:
    return "0x" + b.rjust(32, b"\0").hex()


class RPC:
    def __init__(self, url: str):
        self.url = url
        self.next_id = 0

    def raw(self, method: str, *params):
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        assert out["jsonrpc"] == "2.0" and out["id"] == self.next_id
        return out

    def __call__(self, method: str, *params):
        out = self.raw(method, *params)
        assert "error" not in out, f"{method}: {out['error']}"
        return out["result"]

    def error(self, method: str, *params) -> dict:
        out = self.raw(method, *params)
        assert "error" in out, f"{method} did not fail: {out}"
        return out["error"]


def run_devchain(*args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([str(DEVCHAIN), *args], capture_output=True, text=True, timeout=180, check=check,
                          env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture(scope="module")
def devchain(tmp_path_factory):
    state = tmp_path_factory.mktemp("devchain-state")
    up = run_devchain("up", "--state-dir", str(state))
    info = json.loads(up.stdout)  # stdout is exactly one JSON object
    try:
        yield info, RPC(info["rpcUrl"]), state
    finally:
        run_devchain("down", "--state-dir", str(state), check=False)


def sign_and_send(rpc: RPC, info: dict, key: str, to: str, data: bytes, value: int = 0, *, legacy: bool = False,
                  gas: int | None = None) -> dict:
    acct = Account.from_key(key)
    nonce = int(rpc("eth_getTransactionCount", acct.address, "pending"), 16)
    call = {"from": acct.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
    if gas is None:
        gas = int(rpc("eth_estimateGas", call), 16)
    if legacy:
        tx = {"chainId": info["chainId"], "nonce": nonce, "gasPrice": int(rpc("eth_gasPrice"), 16), "gas": gas,
              "to": to, "value": value, "data": data}
    else:
        base = int(rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        tip = int(rpc("eth_maxPriorityFeePerGas"), 16)
        tx = {"type": 2, "chainId": info["chainId"], "nonce": nonce, "maxPriorityFeePerGas": tip,
              "maxFeePerGas": 2 * base + tip, "gas": gas, "to": to, "value": value, "data": data}
    signed = acct.sign_transaction(tx)
    tx_hash = rpc("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
    assert tx_hash == "0x" + bytes(signed.hash).hex()
    assert int(rpc("eth_getTransactionCount", acct.address, "pending"), 16) == nonce + 1
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt is not None and receipt["transactionHash"] == tx_hash
    return receipt


def test_up_json_and_basic_queries(devchain):
    info, rpc, state = devchain
    assert set(info) == {"rpcUrl", "chainId", "dataPolicy", "flow", "backend", "owner", "requester", "extra"}
    assert info["rpcUrl"].startswith("http://127.0.0.1:")
    assert int(rpc("eth_chainId"), 16) == info["chainId"] and rpc("net_version") == str(info["chainId"])
    for role in [info["backend"], info["owner"], info["requester"], *info["extra"]]:
        assert Account.from_key(role["privateKey"]).address == role["address"]
        assert int(rpc("eth_getBalance", role["address"], "latest"), 16) > 10**20
    assert len(rpc("eth_getCode", info["dataPolicy"], "latest")) > 1000
    assert len(rpc("eth_getCode", info["flow"], "latest")) > 1000
    backend = decode(["address"], bytes.fromhex(rpc("eth_call", {"to": info["dataPolicy"], "data": "0x" + sel("backendWallet()").hex()}, "latest")[2:]))[0]
    assert backend.lower() == info["backend"]["address"].lower()
    # status prints the same JSON
    st = run_devchain("status", "--state-dir", str(state))
    assert json.loads(st.stdout) == info
    assert int(rpc("eth_gasPrice"), 16) > 0
    fh = rpc("eth_feeHistory", "0x2", "latest", [50])
    assert len(fh["baseFeePerGas"]) == 3 and len(fh["gasUsedRatio"]) == 2 and len(fh["reward"]) == 2
    assert rpc("eth_getBlockByNumber", "latest", False)["number"] == rpc("eth_blockNumber")
    batch = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method"}]).encode()
    req = urllib.request.Request(info["rpcUrl"], data=batch, headers={"Content-Type": "application/json"})
    out = json.loads(urllib.request.urlopen(req, timeout=30).read())
    assert out[0]["result"] == hex(info["chainId"]) and out[1]["error"]["code"] == -32601


def test_request_access_flow_over_rpc(devchain):
    info, rpc, state = devchain
    dp = info["dataPolicy"]
    owner, requester, backend = info["owner"], info["requester"], info["backend"]

    register = sel("registerDataset(bytes32,bytes32,uint256,uint32,uint32,uint64,uint64,bool,bool,bytes32[],address[])") + encode(
        ["bytes32", "bytes32", "uint256", "uint32", "uint32", "uint64", "uint64", "bool", "bool", "bytes32[]", "address[]"],
        [ROOT, MANIFEST, ROYALTY, 10, 5, TTL, 0, True, False, [PURPOSE], [requester["address"]]])
    rc = sign_and_send(rpc, info, owner["privateKey"], dp, register)
    assert rc["status"] == "0x1"
    assert [lg["topics"][0] for lg in rc["logs"]] == [topic("DatasetRegistered(bytes32,address,bytes32)"),
                                                      topic("PolicyActivated(bytes32)")]

    # requestAccess as a raw EIP-1559 transaction with the escrow attached
    request = sel("requestAccess(bytes32,bytes32,uint32,bytes32)") + encode(
        ["bytes32", "bytes32", "uint32", "bytes32"], [ROOT, PURPOSE, EPOCHS, MANIFEST])
    bal0 = int(rpc("eth_getBalance", requester["address"], "latest"), 16)
    rc = sign_and_send(rpc, info, requester["privateKey"], dp, request, value=ROYALTY * EPOCHS)
    assert rc["status"] == "0x1" and rc["type"] == "0x2" and rc["to"].lower() == dp.lower()
    assert int(rc["effectiveGasPrice"], 16) > 0
    bal1 = int(rpc("eth_getBalance", requester["address"], "latest"), 16)
    assert bal0 - bal1 == ROYALTY * EPOCHS + int(rc["gasUsed"], 16) * int(rc["effectiveGasPrice"], 16)
    assert rc["blockNumber"] == rpc("eth_blockNumber")
    tx = rpc("eth_getTransactionByHash", rc["transactionHash"])
    assert tx["blockNumber"] == rc["blockNumber"] and tx["from"].lower() == requester["address"].lower()
    assert tx["value"] == hex(ROYALTY * EPOCHS) and tx["type"] == "0x2"
    block = rpc("eth_getBlockByNumber", rc["blockNumber"], False)
    assert block["transactions"] == [rc["transactionHash"]]

    requested, granted = rc["logs"]
    assert requested["topics"][0] == topic("AccessRequested(bytes32,bytes32,address,uint32)")
    assert granted["topics"][0] == topic("AccessGranted(bytes32)")
    job_id = requested["topics"][1]
    assert requested["topics"][2] == "0x" + ROOT.hex()
    assert requested["topics"][3] == pad_topic(bytes.fromhex(requester["address"][2:]))
    assert decode(["uint32"], bytes.fromhex(requested["data"][2:]))[0] == EPOCHS
    assert granted["topics"][1] == job_id
    ts = int(block["timestamp"], 16)
    assert job_id == "0x" + keccak(ROOT + bytes.fromhex(requester["address"][2:]) + (1).to_bytes(32, "big")
                                   + ts.to_bytes(32, "big")).hex()

    # jobs(jobId) over eth_call
    out = rpc("eth_call", {"to": dp, "data": "0x" + (sel("jobs(bytes32)") + bytes.fromhex(job_id[2:])).hex()}, "latest")
    fields = decode(["bytes32", "address", "address", "bytes32", "uint32", "uint256", "uint64", "uint8", "bytes32"],
                    bytes.fromhex(out[2:]))
    assert fields[1].lower() == requester["address"].lower() and fields[2].lower() == backend["address"].lower()
    assert fields[5] == ROYALTY * EPOCHS and fields[7] == 2

    # eth_getLogs: address, topic position wildcards and OR-lists, block ranges
    n = int(rc["blockNumber"], 16)
    t_req = topic("AccessRequested(bytes32,bytes32,address,uint32)")
    logs = rpc("eth_getLogs", {"address": dp, "fromBlock": hex(n), "toBlock": hex(n),
                               "topics": [t_req, None, ["0x" + keccak(text="nope").hex(), "0x" + ROOT.hex()]]})
    assert len(logs) == 1 and logs[0]["topics"] == requested["topics"] and logs[0]["transactionHash"] == rc["transactionHash"]
    assert rpc("eth_getLogs", {"address": dp, "fromBlock": "0x0", "topics": [None, job_id]}) == [requested, granted]
    assert rpc("eth_getLogs", {"address": dp, "fromBlock": "0x0", "topics": [[t_req, topic("AccessGranted(bytes32)")]]}) == [requested, granted]
    assert rpc("eth_getLogs", {"address": [info["flow"]], "fromBlock": "0x0"}) == []
    assert rpc("eth_getLogs", {"address": dp, "fromBlock": hex(n + 1), "topics": [t_req]}) == []
    assert rpc("eth_getLogs", {"blockHash": rc["blockHash"]}) == [requested, granted]

    # a revert string comes back in eth_call's error data (code 3, Error(string)), as geth sends it
    start = sel("startJob(bytes32)") + bytes.fromhex(job_id[2:])
    err = rpc.error("eth_call", {"from": requester["address"], "to": dp, "data": "0x" + start.hex()}, "latest")
    assert err["code"] == 3
    data = bytes.fromhex(err["data"][2:])
    assert data[:4] == bytes.fromhex("08c379a0")
    assert decode(["string"], data[4:])[0] == "Not backend wallet"
    assert "Not backend wallet" in err["message"]
    # calls against a mined block are memoized: asked again, the same revert comes back
    assert rpc.error("eth_call", {"from": requester["address"], "to": dp, "data": "0x" + start.hex()}, "latest") == err
    err = rpc.error("eth_estimateGas", {"from": requester["address"], "to": dp, "data": "0x" + start.hex()})
    assert err["code"] == 3 and decode(["string"], bytes.fromhex(err["data"][10:]))[0] == "Not backend wallet"
    # an unfunded caller can still eth_call (zero fees)
    assert rpc("eth_call", {"from": "0x" + "12" * 20, "to": dp, "data": "0x" + sel("backendWallet()").hex()}, "latest")

    # the backend starts the job with a legacy EIP-155 transaction
    jobs_call = {"to": dp, "data": "0x" + (sel("jobs(bytes32)") + bytes.fromhex(job_id[2:])).hex()}

    def job_state(tag) -> int:
        return decode(["bytes32", "address", "address", "bytes32", "uint32", "uint256", "uint64", "uint8", "bytes32"],
                      bytes.fromhex(rpc("eth_call", jobs_call, tag)[2:]))[7]

    assert job_state("latest") == 2 and job_state("latest") == 2  # the second from the memo
    rc = sign_and_send(rpc, info, backend["privateKey"], dp, start, legacy=True)
    assert rc["status"] == "0x1" and rc["type"] == "0x0"
    # the memo is per block: latest sees the new state at once, the older block keeps the old one
    assert job_state("latest") == 3 and job_state(rc["blockNumber"]) == 3
    assert job_state(hex(int(rc["blockNumber"], 16) - 1)) == 2 and job_state({"blockHash": rc["blockHash"]}) == 3
    assert [lg["topics"] for lg in rc["logs"]] == [[topic("JobStarted(bytes32)"), job_id]]
    tx = rpc("eth_getTransactionByHash", rc["transactionHash"])
    assert int(tx["v"], 16) in (info["chainId"] * 2 + 35, info["chainId"] * 2 + 36)
    # a reverting transaction is mined with status 0
    rc = sign_and_send(rpc, info, backend["privateKey"], dp, start, gas=200_000)
    assert rc["status"] == "0x0" and rc["logs"] == []
    # a stale nonce is refused with a JSON-RPC error
    acct = Account.from_key(backend["privateKey"])
    stale = acct.sign_transaction({"type": 2, "chainId": info["chainId"], "nonce": 0, "maxPriorityFeePerGas": 1,
                                   "maxFeePerGas": 10**10, "gas": 100_000, "to": dp, "value": 0, "data": start})
    err = rpc.error("eth_sendRawTransaction", "0x" + bytes(stale.raw_transaction).hex())
    assert err["code"] == -32000 and "nonce" in err["message"]
    # so is a transaction signed for another chain, or without EIP-155 replay protection (geth's default)
    nonce = int(rpc("eth_getTransactionCount", acct.address, "pending"), 16)
    plain = {"nonce": nonce, "gas": 100_000, "to": dp, "value": 0, "data": start}
    for tx in ({"type": 2, "chainId": info["chainId"] + 1, "maxPriorityFeePerGas": 1, "maxFeePerGas": 10**10} | plain,
               {"chainId": info["chainId"] + 1, "gasPrice": 10**10} | plain,
               {"gasPrice": 10**10} | plain):
        err = rpc.error("eth_sendRawTransaction", "0x" + bytes(acct.sign_transaction(tx).raw_transaction).hex())
        assert err["code"] == -32000 and ("chain id" in err["message"] or "EIP-155" in err["message"])
    assert int(rpc("eth_getTransactionCount", acct.address, "pending"), 16) == nonce

    # timeoutJob: not before the TTL; evm_increaseTime moves the clock, then it goes through
    timeout = sel("timeoutJob(bytes32)") + bytes.fromhex(job_id[2:])
    err = rpc.error("eth_estimateGas", {"from": owner["address"], "to": dp, "data": "0x" + timeout.hex()})
    assert decode(["string"], bytes.fromhex(err["data"][10:]))[0] == "TTL not exceeded"
    assert rpc("evm_increaseTime", TTL + 10) >= TTL + 10
    rc = sign_and_send(rpc, info, owner["privateKey"], dp, timeout, gas=200_000)
    assert rc["status"] == "0x1"
    assert [lg["topics"][0] for lg in rc["logs"]] == [topic("JobTimedOut(bytes32)")]
    assert int(rpc("eth_getBlockByNumber", rc["blockNumber"], False)["timestamp"], 16) > ts + TTL
    before = int(rpc("eth_blockNumber"), 16)
    assert rpc("evm_mine") == "0x0"
    assert int(rpc("eth_blockNumber"), 16) == before + 1


def test_flow_submit_over_rpc(devchain):
    info, rpc, state = devchain
    flow, me = info["flow"], info["extra"][0]
    price = decode(["uint256"], bytes.fromhex(rpc("eth_call", {"to": flow, "data": "0x" + sel("pricePerSector()").hex()})[2:]))[0]
    roots = [keccak(text="a"), keccak(text="b")]
    submission = ((600, b"", [(roots[0], 1), (roots[1], 0)]), me["address"])  # 3 sectors
    data = sel("submit(((uint256,bytes,(bytes32,uint256)[]),address))") + encode(
        ["((uint256,bytes,(bytes32,uint256)[]),address)"], [submission])
    err = rpc.error("eth_call", {"from": me["address"], "to": flow, "data": "0x" + data.hex(), "value": hex(3 * price - 1)})
    assert err["code"] == 3 and err["data"][:10] == "0x" + keccak(text="NotEnoughFee(uint256,uint256,uint256)")[:4].hex()
    rc = sign_and_send(rpc, info, me["privateKey"], flow, data, value=3 * price)
    assert rc["status"] == "0x1"
    (lg,) = rc["logs"]
    assert lg["topics"][0] == topic("Submit(address,bytes32,uint256,uint256,uint256,(uint256,bytes,(bytes32,uint256)[]))")
    assert lg["topics"][2] == "0x" + keccak(roots[0] + roots[1]).hex()
    idx, start, length, _ = decode(["uint256", "uint256", "uint256", "(uint256,bytes,(bytes32,uint256)[])"],
                                   bytes.fromhex(lg["data"][2:]))
    assert (idx, start, length) == (0, 2, 3)


def _process_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited (its reaper is not ours)


def test_down_stops_it(tmp_path):
    up = run_devchain("up", "--state-dir", str(tmp_path))
    info = json.loads(up.stdout)
    pid = int((tmp_path / "devchain.pid").read_text())
    assert _process_running(pid)
    again = run_devchain("up", "--state-dir", str(tmp_path))  # idempotent: the same chain
    assert json.loads(again.stdout) == info
    run_devchain("down", "--state-dir", str(tmp_path))
    assert run_devchain("status", "--state-dir", str(tmp_path), check=False).returncode == 1
    assert not _process_running(pid)
    with pytest.raises(OSError):
        urllib.request.urlopen(info["rpcUrl"], data=b"{}", timeout=5)
