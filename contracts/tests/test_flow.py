"""Flow.vy, the dev-chain stand-in of 0G's Flow: the newest submit ABI, the submission rules, the fee,
txSeq and flow positions, and the Submit event (../shared/docs/zerog.md §1.3)."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from conftest import selector, signature, topic0

SUBMIT_SIG = "submit(((uint256,bytes,(bytes32,uint256)[]),address))"
SUBMIT_EVENT_SIG = "Submit(address,bytes32,uint256,uint256,uint256,(uint256,bytes,(bytes32,uint256)[]))"
NOT_ENOUGH_FEE = keccak(text="NotEnoughFee(uint256,uint256,uint256)")[:4]
PRICE = 7 * 10**9  # wei per sector
ZERO_ADDR = "0x" + "00" * 20


def node(i: int, height: int):
    return (keccak(text=f"node-{i}"), height)


def sub(length: int, nodes, submitter, tags: bytes = b""):
    return ((length, tags, list(nodes)), submitter)


def fee(nodes) -> int:
    return sum(2**h for _, h in nodes) * PRICE


@pytest.fixture
def flow(chain, compiled):
    return chain.deploy(compiled["Flow"], ["uint256"], [PRICE]), chain


def submit(flow_c, sender, submission, value=None):
    value = fee(submission[0][2]) if value is None else value
    return flow_c.transact("submit", submission, sender=sender, value=value)


def submit_event(flow_c, rc):
    (entry,) = rc["logs"]
    assert entry["topics"][0] == topic0(SUBMIT_EVENT_SIG)
    sender = "0x" + entry["topics"][1][-40:]
    identity = bytes.fromhex(entry["topics"][2][2:])
    index, start, length, data = decode(
        ["uint256", "uint256", "uint256", "(uint256,bytes,(bytes32,uint256)[])"], bytes.fromhex(entry["data"][2:]))
    return sender, identity, index, start, length, data


def test_abi_matches_0g(compiled):
    out = compiled["Flow"]
    assert out["method_identifiers"][SUBMIT_SIG] == "0x" + selector(SUBMIT_SIG).hex()
    fns = {f["name"]: f for f in out["abi"] if f["type"] == "function"}
    assert signature(fns["submit"]) == SUBMIT_SIG
    assert fns["submit"]["stateMutability"] == "payable"
    assert [o["type"] for o in fns["submit"]["outputs"]] == ["uint256", "bytes32", "uint256", "uint256"]
    (ev,) = [e for e in out["abi"] if e["type"] == "event"]
    assert topic0(signature(ev)) == topic0(SUBMIT_EVENT_SIG)
    assert [i["indexed"] for i in ev["inputs"]] == [True, True, False, False, False, False]
    for sig in ("market()", "pricePerSector()", "submissionIndex()", "numSubmissions()"):
        assert sig in out["method_identifiers"]


def test_views(flow):
    f, chain = flow
    assert f.call("market") == f.address
    assert f.call("pricePerSector") == PRICE
    assert f.call("submissionIndex") == 0 and f.call("numSubmissions") == 0
    assert f.call("flowLength") == 1


def test_single_node_submission(flow):
    f, chain = flow
    me = chain.accounts[3]
    nodes = [node(0, 0)]
    s = sub(100, nodes, me)
    ret = f.call("submit", s, sender=me, value=fee(nodes))
    assert ret == (0, keccak(nodes[0][0]), 1, 1)  # index, digest, startIndex (after the flow's first entry), sectors
    b0 = chain.balance(f.address)
    rc = submit(f, me, s)
    sender, identity, index, start, length, data = submit_event(f, rc)
    assert sender.lower() == me.lower()
    assert identity == keccak(nodes[0][0])
    assert (index, start, length) == (0, 1, 1)
    assert data == (100, b"", tuple(nodes))
    assert chain.balance(f.address) - b0 == PRICE
    assert f.call("submissionIndex") == 1 and f.call("numSubmissions") == 1
    assert f.call("flowLength") == 2


def test_multi_node_submission_positions_and_digest(flow):
    f, chain = flow
    me = chain.accounts[3]
    submit(f, me, sub(100, [node(0, 0)], me))  # flow: 1 -> 2
    nodes = [node(1, 4), node(2, 3), node(3, 1)]  # 16 + 8 + 2 = 26 sectors
    # 26 >= 16 and several nodes: lastCapacity = 26 - 2^(4-4+1) = 24, so 24*256 < length <= 26*256
    s = sub(6500, nodes, me, tags=b"\x01\x02tag")
    rc = submit(f, me, s)
    sender, identity, index, start, length, data = submit_event(f, rc)
    assert identity == keccak(b"".join(r for r, _ in nodes))  # keccak of the packed roots, not a file root
    assert (index, start, length) == (1, 16, 26)  # aligned to 2^4
    assert data == (6500, b"\x01\x02tag", tuple(nodes))
    assert f.call("flowLength") == 42  # 16..32, 32..40, 40..42
    assert f.call("submissionIndex") == 2


def test_segment_padding(flow):
    f, chain = flow
    me = chain.accounts[3]
    nodes = [node(1, 9), node(2, 8), node(3, 7), node(4, 6)]  # 960 sectors
    # aligned start would be 512, but 512..1471 crosses the 1024-sector segment boundary: move to 1024
    rc = submit(f, me, sub(900 * 256, nodes, me))
    _, _, index, start, length, _ = submit_event(f, rc)
    assert (index, start, length) == (0, 1024, 960)
    assert f.call("flowLength") == 1024 + 512 + 256 + 128 + 64


@pytest.mark.parametrize("length,nodes", [
    (100, []),                                # no node
    (300, [node(1, 0), node(2, 1)]),          # increasing heights
    (600, [node(1, 1), node(2, 1)]),          # equal heights
    (4400, [node(1, 4), node(2, 0)]),         # heights[0] - heights[last] = 4
    (5000, [node(1, 4), node(2, 2), node(3, 0)]),  # the same with three nodes
    (1, [node(1, 64)]),                       # height >= 64
    (513, [node(1, 1)]),                      # longer than 2 sectors
    (256, [node(1, 1)]),                      # fits in 1 sector: over-padded (lastCapacity = 1)
    (15 * 256, [node(1, 4)]),                 # 16 sectors, one node: lastCapacity = 16 - 1 = 15
    (2 * 256, [node(1, 1), node(2, 0)]),      # 3 sectors: lastCapacity = 2
    (3 * 256 + 1, [node(1, 1), node(2, 0)]),  # longer than 3 sectors
    (24 * 256, [node(1, 4), node(2, 3), node(3, 1)]),  # lastCapacity = 24
])
def test_invalid_submissions(flow, length, nodes):
    f, chain = flow
    me = chain.accounts[3]
    r = f.reverts("submit", sub(length, nodes, me), sender=me, value=10**18)
    assert r.reason == "Invalid submission"
    assert f.call("submissionIndex") == 0


@pytest.mark.parametrize("length,nodes", [
    (257, [node(1, 1)]),
    (512, [node(1, 1)]),
    (15 * 256 + 1, [node(1, 4)]),
    (16 * 256, [node(1, 4)]),
    (24 * 256 + 1, [node(1, 4), node(2, 3), node(3, 1)]),
    (26 * 256, [node(1, 4), node(2, 3), node(3, 1)]),
    (2 * 256 + 1, [node(1, 1), node(2, 0)]),  # 3 sectors < 16: lastCapacity = 2
    (3 * 256, [node(1, 1), node(2, 0)]),
    (1, [node(1, 0)]),
])
def test_valid_boundaries(flow, length, nodes):
    f, chain = flow
    me = chain.accounts[3]
    submit(f, me, sub(length, nodes, me))
    assert f.call("submissionIndex") == 1


def test_zero_submitter(flow):
    f, chain = flow
    me = chain.accounts[3]
    r = f.reverts("submit", sub(100, [node(1, 0)], ZERO_ADDR), sender=me, value=PRICE)
    assert r.reason == "Invalid submitter"


def test_fee(flow):
    f, chain = flow
    me = chain.accounts[3]
    nodes = [node(1, 3), node(2, 1)]  # 10 sectors
    s = sub(9 * 256 + 1, nodes, me)
    r = f.reverts("submit", s, sender=me, value=10 * PRICE - 1)
    # error NotEnoughFee(uint256 price, uint256 amount, uint256 paid), as 0G's FixedPriceFlow
    assert r.data == NOT_ENOUGH_FEE + encode(["uint256"] * 3, [PRICE, 10, 10 * PRICE - 1])
    r = f.reverts("submit", s, sender=me, value=0)
    assert r.data[:4] == NOT_ENOUGH_FEE
    b0 = chain.balance(f.address)
    submit(f, me, s, value=10 * PRICE)  # exact
    submit(f, me, s, value=10 * PRICE + 5)  # overpaying is accepted, and kept
    assert chain.balance(f.address) - b0 == 20 * PRICE + 5
    assert f.call("submissionIndex") == 2


def test_free_flow(chain, compiled):
    f = chain.deploy(compiled["Flow"], ["uint256"], [0])
    me = chain.accounts[3]
    f.transact("submit", sub(1, [node(1, 0)], me), sender=me, value=0)
    assert f.call("submissionIndex") == 1
