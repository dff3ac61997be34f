"""DataPolicy.vy against ../shared/docs/datapolicy.md: every function, state transition and revert,
on the compiled bytecode in py-evm."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak, to_canonical_address

from conftest import Reverted, compile_source, gas_cost, selector, signature, topic0

# The Solidity original's external interface, written out by hand: the Vyper port must hash to the
# same selectors and topics.
SOLIDITY_FUNCTIONS = [
    "backendWallet()",
    "policies(bytes32)",
    "jobs(bytes32)",
    "allowedPurposeIds(bytes32,bytes32)",
    "allowedRequesters(bytes32,address)",
    "requesterRunCounts(bytes32,address)",
    "registerDataset(bytes32,bytes32,uint256,uint32,uint32,uint64,uint64,bool,bool,bytes32[],address[])",
    "pausePolicy(bytes32)",
    "resumePolicy(bytes32)",
    "requestAccess(bytes32,bytes32,uint32,bytes32)",
    "startJob(bytes32)",
    "confirmTrainingComplete(bytes32,uint32,bytes32,bytes32)",
    "markJobFailed(bytes32,string)",
    "timeoutJob(bytes32)",
    "refund(bytes32)",
]
SOLIDITY_EVENTS = {
    "DatasetRegistered": "DatasetRegistered(bytes32,address,bytes32)",
    "PolicyActivated": "PolicyActivated(bytes32)",
    "PolicyPaused": "PolicyPaused(bytes32)",
    "PolicyResumed": "PolicyResumed(bytes32)",
    "AccessRequested": "AccessRequested(bytes32,bytes32,address,uint32)",
    "AccessGranted": "AccessGranted(bytes32)",
    "JobStarted": "JobStarted(bytes32)",
    "JobCompleted": "JobCompleted(bytes32,uint32,bytes32,bytes32)",
    "JobFailed": "JobFailed(bytes32,string)",
    "JobTimedOut": "JobTimedOut(bytes32)",
    "RoyaltySettled": "RoyaltySettled(bytes32,uint256)",
    "RefundIssued": "RefundIssued(bytes32,uint256)",
}
# Which event arguments are indexed in the original, in order.
SOLIDITY_INDEXED = {
    "DatasetRegistered": [True, True, False],
    "PolicyActivated": [True],
    "PolicyPaused": [True],
    "PolicyResumed": [True],
    "AccessRequested": [True, True, True, False],
    "AccessGranted": [True],
    "JobStarted": [True],
    "JobCompleted": [True, False, False, False],
    "JobFailed": [True, False],
    "JobTimedOut": [True],
    "RoyaltySettled": [True, False],
    "RefundIssued": [True, False],
}

NONE, REQUESTED, GRANTED, RUNNING, COMPLETED, FAILED, TIMED_OUT, REFUNDED = range(8)

ROOT = keccak(text="dataset-root")
ROOT2 = keccak(text="dataset-root-2")
MANIFEST = keccak(text="manifest")
PURPOSE = keccak(text="purpose:fine-tune")
OTHER_PURPOSE = keccak(text="purpose:other")
RESULT = keccak(text="lora.zip root")
ATTEST = keccak(text="audit record")
ZERO32 = b"\0" * 32
ZERO_ADDR = "0x" + "00" * 20
ROYALTY = 10**15
EPOCHS = 5


@pytest.fixture
def env(chain, compiled):
    backend, owner, requester, requester2, stranger = chain.accounts[:5]
    dp = chain.deploy(compiled["DataPolicy"], ["address"], [backend])
    return dp, chain, backend, owner, requester, requester2, stranger


def register(dp, owner, *, root=ROOT, royalty=ROYALTY, max_epochs=10, max_runs=3, ttl=1000, expiry=0,
             attest=True, open_=False, purposes=(PURPOSE,), requesters=None):
    requesters = list(requesters) if requesters is not None else []
    return dp.transact("registerDataset", root, MANIFEST, royalty, max_epochs, max_runs, ttl, expiry, attest, open_,
                       list(purposes), requesters, sender=owner)


def request(dp, requester, *, root=ROOT, epochs=EPOCHS, royalty=ROYALTY):
    rc = dp.transact("requestAccess", root, PURPOSE, epochs, MANIFEST, sender=requester, value=royalty * epochs)
    name, args = dp.events_of(rc)[0]
    assert name == "AccessRequested"
    return args["jobId"], rc


def assert_events(dp, receipt, expected):
    """Logs are exactly `expected` [(name, {args})], and each topic0 is the Solidity event's."""
    got = dp.events_of(receipt)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (name, args), entry, (_, want) in zip(got, receipt["logs"], expected):
        assert entry["topics"][0] == topic0(SOLIDITY_EVENTS[name])
        assert args == want, name


def job(dp, job_id):
    return dp.call("jobs", job_id)


# --------------------------------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------------------------------


def test_function_selectors_match_solidity(compiled):
    ids = compiled["DataPolicy"]["method_identifiers"]
    assert set(ids) == set(SOLIDITY_FUNCTIONS)
    for sig in SOLIDITY_FUNCTIONS:
        assert ids[sig] == "0x" + selector(sig).hex(), sig
    fns = [f for f in compiled["DataPolicy"]["abi"] if f["type"] == "function"]
    assert {signature(f) for f in fns} == set(SOLIDITY_FUNCTIONS)
    payable = {signature(f) for f in fns if f["stateMutability"] == "payable"}
    assert payable == {"requestAccess(bytes32,bytes32,uint32,bytes32)"}


def test_getter_output_types_match_solidity(compiled):
    outs = {f["name"]: [o["type"] for o in f["outputs"]] for f in compiled["DataPolicy"]["abi"] if f["type"] == "function"}
    assert outs["jobs"] == ["bytes32", "address", "address", "bytes32", "uint32", "uint256", "uint64", "uint8", "bytes32"]
    assert outs["policies"] == ["bytes32", "address", "bytes32", "uint256", "uint32", "uint32", "uint64", "uint64",
                                "bool", "bool", "bool"]
    assert outs["backendWallet"] == ["address"]
    assert outs["requesterRunCounts"] == ["uint32"]
    assert outs["allowedPurposeIds"] == outs["allowedRequesters"] == ["bool"]
    assert outs["requestAccess"] == ["bytes32"]


def test_event_topics_and_indexed_flags_match_solidity(compiled):
    events = {e["name"]: e for e in compiled["DataPolicy"]["abi"] if e["type"] == "event"}
    assert set(events) == set(SOLIDITY_EVENTS)
    for name, sol in SOLIDITY_EVENTS.items():
        assert topic0(signature(events[name])) == topic0(sol), name
        assert [i["indexed"] for i in events[name]["inputs"]] == SOLIDITY_INDEXED[name], name


def test_constructor(chain, compiled, env):
    dp, chain, backend, *_ = env
    assert dp.call("backendWallet") == backend
    out = compiled["DataPolicy"]
    code = bytes.fromhex(out["bytecode"][2:]) + encode(["address"], [ZERO_ADDR])
    with pytest.raises(Reverted) as r:
        chain.execute(chain.accounts[0], None, code)
    assert r.value.reason == "Invalid backend wallet address"
    rc = chain.send(chain.accounts[0], None, code, gas=6_000_000)
    assert rc["status"] == 0


def test_unknown_ids_read_as_zero(env):
    dp, chain, backend, owner, *_ = env
    assert job(dp, ROOT) == (ZERO32, ZERO_ADDR, ZERO_ADDR, ZERO32, 0, 0, 0, NONE, ZERO32)
    assert dp.call("policies", ROOT) == (ZERO32, ZERO_ADDR, ZERO32, 0, 0, 0, 0, 0, False, False, False)
    assert dp.call("requesterRunCounts", ROOT, owner) == 0


# --------------------------------------------------------------------------------------------------
# Dataset owner: register, pause, resume
# --------------------------------------------------------------------------------------------------


def test_register_dataset(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    rc = register(dp, owner, royalty=7, max_epochs=11, max_runs=2, ttl=3600, expiry=2**40, attest=True, open_=False,
                  purposes=[PURPOSE, OTHER_PURPOSE], requesters=[requester])
    assert dp.call("policies", ROOT) == (ROOT, owner, MANIFEST, 7, 11, 2, 3600, 2**40, True, True, False)
    assert dp.call("allowedPurposeIds", ROOT, PURPOSE) is True
    assert dp.call("allowedPurposeIds", ROOT, OTHER_PURPOSE) is True
    assert dp.call("allowedPurposeIds", ROOT, keccak(text="x")) is False
    assert dp.call("allowedPurposeIds", ROOT2, PURPOSE) is False
    assert dp.call("allowedRequesters", ROOT, requester) is True
    assert dp.call("allowedRequesters", ROOT, requester2) is False
    # DatasetRegistered then PolicyActivated, as in the original
    assert_events(dp, rc, [
        ("DatasetRegistered", {"datasetRoot": ROOT, "owner": owner, "manifestHash": MANIFEST}),
        ("PolicyActivated", {"datasetRoot": ROOT}),
    ])
    assert rc["logs"][0]["topics"][2] == "0x" + to_canonical_address(owner).rjust(32, b"\0").hex()

    # a second dataset by someone else is independent
    register(dp, stranger, root=ROOT2, attest=False, open_=True, purposes=[], requesters=[])
    assert dp.call("policies", ROOT2)[1] == stranger
    assert dp.call("policies", ROOT2)[8:] == (False, True, True)
    assert dp.call("policies", ROOT)[1] == owner


def test_register_duplicate_reverts(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner)
    for sender in (owner, stranger):
        r = dp.reverts("registerDataset", ROOT, keccak(text="other"), 1, 1, 1, 1, 0, False, True, [], [], sender=sender)
        assert r.reason == "Dataset already registered"
    assert dp.call("policies", ROOT)[:3] == (ROOT, owner, MANIFEST)


def test_register_list_bound(env):
    """Deviation (documented): the Vyper arrays hold at most 64 entries; more reverts while decoding."""
    dp, chain, backend, owner, *_ = env
    ok = [keccak(i.to_bytes(2, "big")) for i in range(64)]
    register(dp, owner, purposes=ok)
    assert dp.call("allowedPurposeIds", ROOT, ok[63]) is True
    r = dp.reverts("registerDataset", ROOT2, MANIFEST, 1, 1, 1, 1, 0, False, True, ok + [ROOT], [], sender=owner)
    assert r.data == b""
    assert dp.call("policies", ROOT2)[1] == ZERO_ADDR


def test_pause_and_resume(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner)
    for sender in (stranger, backend):
        assert dp.reverts("pausePolicy", ROOT, sender=sender).reason == "Not dataset owner"
    assert dp.reverts("pausePolicy", ROOT2, sender=owner).reason == "Not dataset owner"  # unregistered
    assert dp.reverts("resumePolicy", ROOT, sender=owner).reason == "Policy already active"

    rc = dp.transact("pausePolicy", ROOT, sender=owner)
    assert dp.call("policies", ROOT)[9] is False
    assert_events(dp, rc, [("PolicyPaused", {"datasetRoot": ROOT})])
    assert dp.reverts("pausePolicy", ROOT, sender=owner).reason == "Policy already paused"
    assert dp.reverts("resumePolicy", ROOT, sender=stranger).reason == "Not dataset owner"

    rc = dp.transact("resumePolicy", ROOT, sender=owner)
    assert dp.call("policies", ROOT)[9] is True
    assert_events(dp, rc, [("PolicyResumed", {"datasetRoot": ROOT})])


# --------------------------------------------------------------------------------------------------
# Requester: requestAccess
# --------------------------------------------------------------------------------------------------


def test_request_access_grants_and_escrows(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner, requesters=[requester])
    before = chain.balance(requester)
    value = ROYALTY * EPOCHS

    # eth_call against the pending block predicts the jobId the transaction will create
    ts = chain.pending_timestamp()
    expected = keccak(ROOT + to_canonical_address(requester) + (1).to_bytes(32, "big") + ts.to_bytes(32, "big"))
    assert dp.call("requestAccess", ROOT, PURPOSE, EPOCHS, MANIFEST, sender=requester, value=value) == expected

    rc = dp.transact("requestAccess", ROOT, PURPOSE, EPOCHS, MANIFEST, sender=requester, value=value)
    assert chain.block_timestamp(rc["block_number"]) == ts
    assert_events(dp, rc, [
        ("AccessRequested", {"jobId": expected, "datasetRoot": ROOT, "requester": requester, "requestedEpochs": EPOCHS}),
        ("AccessGranted", {"jobId": expected}),
    ])
    assert job(dp, expected) == (ROOT, requester, backend, PURPOSE, EPOCHS, value, ts, GRANTED, MANIFEST)
    assert chain.balance(dp.address) == value
    assert chain.balance(requester) == before - value - gas_cost(rc)
    assert dp.call("requesterRunCounts", ROOT, requester) == 1

    # the counter makes the next jobId differ even in the same second
    ts2 = chain.pending_timestamp()
    rc2 = dp.transact("requestAccess", ROOT, PURPOSE, EPOCHS, MANIFEST, sender=requester, value=value)
    job2 = dp.events_of(rc2)[0][1]["jobId"]
    assert job2 == keccak(ROOT + to_canonical_address(requester) + (2).to_bytes(32, "big") + ts2.to_bytes(32, "big"))
    assert job2 != expected
    assert dp.call("requesterRunCounts", ROOT, requester) == 2
    assert chain.balance(dp.address) == 2 * value


def test_request_access_open_policy_and_zero_epochs(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner, open_=True, requesters=[])
    job_id, rc = request(dp, stranger, epochs=0)
    assert job(dp, job_id)[4:8] == (0, 0, job(dp, job_id)[6], GRANTED)
    assert chain.balance(dp.address) == 0


def _assert_rejected(dp, chain, requester, reason, *, root=ROOT, purpose=PURPOSE, epochs=EPOCHS, terms=MANIFEST,
                     value=None):
    value = ROYALTY * epochs if value is None else value
    runs = dp.call("requesterRunCounts", root, requester)
    held = chain.balance(dp.address)
    r = dp.reverts("requestAccess", root, purpose, epochs, terms, sender=requester, value=value)
    assert r.reason == reason
    assert dp.call("requesterRunCounts", root, requester) == runs
    assert chain.balance(dp.address) == held


def test_request_access_inactive(env):
    dp, chain, backend, owner, requester, *_ = env
    _assert_rejected(dp, chain, requester, "Policy is not active")  # never registered
    register(dp, owner, open_=True)
    dp.transact("pausePolicy", ROOT, sender=owner)
    _assert_rejected(dp, chain, requester, "Policy is not active")
    # the first failed check wins: paused and wrong value -> inactive
    _assert_rejected(dp, chain, requester, "Policy is not active", value=1)
    dp.transact("resumePolicy", ROOT, sender=owner)
    request(dp, requester)


def test_request_access_expired(env):
    dp, chain, backend, owner, requester, *_ = env
    expiry = chain.pending_timestamp() + 500
    register(dp, owner, open_=True, expiry=expiry)
    chain.time_travel_to_next(expiry - 1)
    request(dp, requester)  # block.timestamp < expiry
    chain.time_travel_to_next(expiry)
    _assert_rejected(dp, chain, requester, "Policy expired")  # strict: == expiry is expired
    chain.time_travel_to_next(expiry + 1000)
    _assert_rejected(dp, chain, requester, "Policy expired")


def test_request_access_terms_hash(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True)
    _assert_rejected(dp, chain, requester, "Terms hash mismatch", terms=keccak(text="other terms"))
    _assert_rejected(dp, chain, requester, "Terms hash mismatch", terms=ZERO32)


def test_request_access_epochs(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True, max_epochs=10)
    _assert_rejected(dp, chain, requester, "Exceeds max epochs per run", epochs=11)
    request(dp, requester, epochs=10)


def test_request_access_run_limit(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner, open_=True, max_runs=2)
    request(dp, requester)
    request(dp, requester)
    assert dp.call("requesterRunCounts", ROOT, requester) == 2
    _assert_rejected(dp, chain, requester, "Requester run limit reached")
    request(dp, requester2)  # counted per requester
    # a zero limit admits nobody
    register(dp, owner, root=ROOT2, open_=True, max_runs=0)
    _assert_rejected(dp, chain, requester2, "Requester run limit reached", root=ROOT2)


def test_request_access_purpose(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True, purposes=[PURPOSE])
    _assert_rejected(dp, chain, requester, "Purpose not allowed", purpose=OTHER_PURPOSE)


def test_request_access_requester_allow_list(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner, open_=False, requesters=[requester])
    _assert_rejected(dp, chain, stranger, "Requester not allowed")
    _assert_rejected(dp, chain, owner, "Requester not allowed")  # owning the dataset does not admit you
    request(dp, requester)
    register(dp, owner, root=ROOT2, open_=True, requesters=[])
    request(dp, stranger, root=ROOT2)


def test_request_access_escrow_amount(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True)
    for value in (0, ROYALTY * EPOCHS - 1, ROYALTY * EPOCHS + 1, ROYALTY * (EPOCHS + 1)):
        _assert_rejected(dp, chain, requester, "Incorrect escrow amount", value=value)
    request(dp, requester)


# --------------------------------------------------------------------------------------------------
# Backend wallet: startJob, confirmTrainingComplete, markJobFailed
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def granted(env):
    dp, chain, backend, owner, requester, requester2, stranger = env
    register(dp, owner, requesters=[requester], ttl=1000, attest=True)
    job_id, rc = request(dp, requester)
    return (*env, job_id)


def test_start_job(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    for sender in (owner, requester, stranger):
        assert dp.reverts("startJob", job_id, sender=sender).reason == "Not backend wallet"
    # backend check comes first, even for unknown jobs
    assert dp.reverts("startJob", ROOT, sender=stranger).reason == "Not backend wallet"
    assert dp.reverts("startJob", ROOT, sender=backend).reason == "Invalid state transition"
    assert job(dp, job_id)[7] == GRANTED

    rc = dp.transact("startJob", job_id, sender=backend)
    assert job(dp, job_id)[7] == RUNNING
    assert_events(dp, rc, [("JobStarted", {"jobId": job_id})])
    assert dp.reverts("startJob", job_id, sender=backend).reason == "Invalid state transition"


def _balances(chain, *accounts):
    return [chain.balance(a) for a in accounts]


def test_confirm_from_running_settles_and_refunds(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    dp.transact("startJob", job_id, sender=backend)
    o0, r0, b0 = _balances(chain, owner, requester, backend)
    rc = dp.transact("confirmTrainingComplete", job_id, 3, RESULT, ATTEST, sender=backend)
    o1, r1, b1 = _balances(chain, owner, requester, backend)
    assert o1 - o0 == ROYALTY * 3  # min(royalty * actual, escrow)
    assert r1 - r0 == ROYALTY * (EPOCHS - 3)  # the rest
    assert b0 - b1 == gas_cost(rc)  # the backend only pays gas
    assert chain.balance(dp.address) == 0
    assert job(dp, job_id)[5] == 0 and job(dp, job_id)[7] == COMPLETED
    assert_events(dp, rc, [
        ("RoyaltySettled", {"jobId": job_id, "amount": ROYALTY * 3}),
        ("RefundIssued", {"jobId": job_id, "amount": ROYALTY * (EPOCHS - 3)}),
        ("JobCompleted", {"jobId": job_id, "actualEpochs": 3, "resultHash": RESULT, "attestationRef": ATTEST}),
    ])
    # terminal
    assert dp.reverts("confirmTrainingComplete", job_id, 3, RESULT, ATTEST, sender=backend).reason == "Invalid state transition"
    assert dp.reverts("startJob", job_id, sender=backend).reason == "Invalid state transition"
    assert dp.reverts("markJobFailed", job_id, "late", sender=backend).reason == "Invalid state transition"
    assert dp.reverts("timeoutJob", job_id, sender=stranger).reason == "Invalid state transition"
    assert dp.reverts("refund", job_id, sender=requester).reason == "Invalid state transition for refund"


def test_confirm_from_granted_all_epochs(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    o0, r0 = _balances(chain, owner, requester)
    rc = dp.transact("confirmTrainingComplete", job_id, EPOCHS, RESULT, ATTEST, sender=backend)
    o1, r1 = _balances(chain, owner, requester)
    assert (o1 - o0, r1 - r0) == (ROYALTY * EPOCHS, 0)
    assert job(dp, job_id)[7] == COMPLETED
    assert_events(dp, rc, [
        ("RoyaltySettled", {"jobId": job_id, "amount": ROYALTY * EPOCHS}),
        ("JobCompleted", {"jobId": job_id, "actualEpochs": EPOCHS, "resultHash": RESULT, "attestationRef": ATTEST}),
    ])


def test_confirm_zero_epochs_refunds_everything(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    o0, r0 = _balances(chain, owner, requester)
    rc = dp.transact("confirmTrainingComplete", job_id, 0, RESULT, ATTEST, sender=backend)
    o1, r1 = _balances(chain, owner, requester)
    assert (o1 - o0, r1 - r0) == (0, ROYALTY * EPOCHS)
    assert [n for n, _ in dp.events_of(rc)] == ["RefundIssued", "JobCompleted"]


def test_confirm_reverts(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    for sender in (owner, requester):
        assert dp.reverts("confirmTrainingComplete", job_id, 1, RESULT, ATTEST, sender=sender).reason == "Not backend wallet"
    assert dp.reverts("confirmTrainingComplete", ROOT, 1, RESULT, ATTEST, sender=backend).reason == "Invalid state transition"
    r = dp.reverts("confirmTrainingComplete", job_id, EPOCHS + 1, RESULT, ATTEST, sender=backend)
    assert r.reason == "Actual epochs exceed requested"
    r = dp.reverts("confirmTrainingComplete", job_id, 1, RESULT, ZERO32, sender=backend)
    assert r.reason == "Attestation required"
    assert job(dp, job_id)[7] == GRANTED and chain.balance(dp.address) == ROYALTY * EPOCHS
    dp.transact("markJobFailed", job_id, "oom", sender=backend)
    r = dp.reverts("confirmTrainingComplete", job_id, 1, RESULT, ATTEST, sender=backend)
    assert r.reason == "Invalid state transition"


def test_confirm_without_required_attestation(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True, attest=False)
    job_id, _ = request(dp, requester)
    rc = dp.transact("confirmTrainingComplete", job_id, 2, RESULT, ZERO32, sender=backend)
    assert job(dp, job_id)[7] == COMPLETED
    assert dp.events_of(rc)[-1] == ("JobCompleted", {"jobId": job_id, "actualEpochs": 2, "resultHash": RESULT,
                                                     "attestationRef": ZERO32})


def test_zero_royalty_job(env):
    dp, chain, backend, owner, requester, *_ = env
    register(dp, owner, open_=True, royalty=0, attest=False)
    job_id, _ = request(dp, requester, royalty=0)
    rc = dp.transact("confirmTrainingComplete", job_id, 2, RESULT, ZERO32, sender=backend)
    assert [n for n, _ in dp.events_of(rc)] == ["JobCompleted"]  # nothing to settle or refund
    job2, _ = request(dp, requester, royalty=0)
    dp.transact("markJobFailed", job2, "x", sender=backend)
    assert dp.reverts("refund", job2, sender=requester).reason == "No escrow to refund"


def test_mark_job_failed(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    for sender in (owner, requester, stranger):
        assert dp.reverts("markJobFailed", job_id, "x", sender=sender).reason == "Not backend wallet"
    assert dp.reverts("markJobFailed", ROOT, "x", sender=backend).reason == "Invalid state transition"

    rc = dp.transact("markJobFailed", job_id, "OOM_KILLED", sender=backend)  # from Granted
    assert job(dp, job_id)[7] == FAILED
    assert_events(dp, rc, [("JobFailed", {"jobId": job_id, "reasonCode": "OOM_KILLED"})])
    assert dp.reverts("markJobFailed", job_id, "again", sender=backend).reason == "Invalid state transition"
    assert dp.reverts("startJob", job_id, sender=backend).reason == "Invalid state transition"
    assert dp.reverts("timeoutJob", job_id, sender=stranger).reason == "Invalid state transition"
    assert chain.balance(dp.address) == ROYALTY * EPOCHS  # escrow stays until refund

    job2, _ = request(dp, requester)
    dp.transact("startJob", job2, sender=backend)
    reason = "r" * 256  # the longest reasonCode the Vyper port takes
    rc = dp.transact("markJobFailed", job2, reason, sender=backend)  # from Running
    assert job(dp, job2)[7] == FAILED
    assert dp.events_of(rc) == [("JobFailed", {"jobId": job2, "reasonCode": reason})]


def test_mark_job_failed_reason_bound(granted):
    """Deviation (documented): reasonCode is String[256]; a longer one reverts while decoding."""
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    assert dp.reverts("markJobFailed", job_id, "r" * 257, sender=backend).data == b""
    assert job(dp, job_id)[7] == GRANTED


# --------------------------------------------------------------------------------------------------
# Anyone: timeoutJob, refund
# --------------------------------------------------------------------------------------------------


def test_timeout_after_ttl(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    request_time = job(dp, job_id)[6]
    ttl = dp.call("policies", ROOT)[6]
    assert ttl == 1000
    assert dp.reverts("timeoutJob", job_id, sender=stranger).reason == "TTL not exceeded"
    chain.time_travel_to_next(request_time + ttl)  # block.timestamp == requestTime + ttl: not yet
    assert dp.reverts("timeoutJob", job_id, sender=stranger).reason == "TTL not exceeded"
    chain.time_travel_to_next(request_time + ttl + 1)
    rc = dp.transact("timeoutJob", job_id, sender=stranger)  # anyone may call it
    assert job(dp, job_id)[7] == TIMED_OUT
    assert_events(dp, rc, [("JobTimedOut", {"jobId": job_id})])
    assert dp.reverts("timeoutJob", job_id, sender=stranger).reason == "Invalid state transition"
    assert dp.reverts("startJob", job_id, sender=backend).reason == "Invalid state transition"
    assert dp.reverts("timeoutJob", ROOT, sender=stranger).reason == "Invalid state transition"


def test_timeout_from_running(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    dp.transact("startJob", job_id, sender=backend)
    chain.time_travel_to_next(job(dp, job_id)[6] + 5000)
    dp.transact("timeoutJob", job_id, sender=requester)
    assert job(dp, job_id)[7] == TIMED_OUT
    r = dp.reverts("confirmTrainingComplete", job_id, 1, RESULT, ATTEST, sender=backend)
    assert r.reason == "Invalid state transition"


def test_refund_failed_job(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    assert dp.reverts("refund", job_id, sender=requester).reason == "Invalid state transition for refund"  # Granted
    dp.transact("startJob", job_id, sender=backend)
    assert dp.reverts("refund", job_id, sender=requester).reason == "Invalid state transition for refund"  # Running
    dp.transact("markJobFailed", job_id, "x", sender=backend)

    r0, o0 = _balances(chain, requester, owner)
    rc = dp.transact("refund", job_id, sender=stranger)  # anyone may trigger it; the requester is paid
    r1, o1 = _balances(chain, requester, owner)
    assert (r1 - r0, o1 - o0) == (ROYALTY * EPOCHS, 0)
    assert chain.balance(dp.address) == 0
    assert job(dp, job_id)[5] == 0 and job(dp, job_id)[7] == REFUNDED
    assert_events(dp, rc, [("RefundIssued", {"jobId": job_id, "amount": ROYALTY * EPOCHS})])
    # no double refund
    assert dp.reverts("refund", job_id, sender=requester).reason == "Invalid state transition for refund"
    assert dp.reverts("markJobFailed", job_id, "x", sender=backend).reason == "Invalid state transition"


def test_refund_timed_out_job(granted):
    dp, chain, backend, owner, requester, requester2, stranger, job_id = granted
    chain.time_travel_to_next(job(dp, job_id)[6] + 1001)
    dp.transact("timeoutJob", job_id, sender=stranger)
    r0 = chain.balance(requester)
    rc = dp.transact("refund", job_id, sender=requester)
    assert chain.balance(requester) - r0 == ROYALTY * EPOCHS - gas_cost(rc)
    assert job(dp, job_id)[7] == REFUNDED
    assert dp.reverts("refund", job_id, sender=requester).reason == "Invalid state transition for refund"
    assert dp.reverts("refund", ROOT, sender=requester).reason == "Invalid state transition for refund"  # unknown


REJECTER = """
# pragma version 0.4.3
interface DP:
    def requestAccess(root: bytes32, purpose: bytes32, epochs: uint32, terms: bytes32) -> bytes32: payable

dp: DP

@deploy
def __init__(dp: address):
    self.dp = DP(dp)

@external
@payable
def request(root: bytes32, purpose: bytes32, epochs: uint32, terms: bytes32) -> bytes32:
    return extcall self.dp.requestAccess(root, purpose, epochs, terms, value=msg.value)

# no __default__: this contract refuses plain coin transfers
"""


def test_native_transfer_failure_reverts(env):
    """A requester that refuses coin: the payout reverts the whole transition ("Native transfer failed")."""
    dp, chain, backend, owner, requester, *_ = env
    rejecter = chain.deploy(compile_source(REJECTER, "Rejecter.vy"), ["address"], [dp.address])
    register(dp, owner, open_=True, attest=False)
    rc = rejecter.transact("request", ROOT, PURPOSE, EPOCHS, MANIFEST, sender=requester, value=ROYALTY * EPOCHS)
    job_id = dp.events_of(rc)[0][1]["jobId"]
    assert job(dp, job_id)[1] == rejecter.address

    # the refund part of a settlement goes to the rejecter
    r = dp.reverts("confirmTrainingComplete", job_id, 1, RESULT, ZERO32, sender=backend)
    assert r.reason == "Native transfer failed"
    # paying the owner only works
    dp.transact("confirmTrainingComplete", job_id, EPOCHS, RESULT, ZERO32, sender=backend)
    assert job(dp, job_id)[7] == COMPLETED

    rc = rejecter.transact("request", ROOT, PURPOSE, EPOCHS, MANIFEST, sender=requester, value=ROYALTY * EPOCHS)
    job2 = dp.events_of(rc)[0][1]["jobId"]
    dp.transact("markJobFailed", job2, "x", sender=backend)
    assert dp.reverts("refund", job2, sender=requester).reason == "Native transfer failed"
    assert job(dp, job2)[7] == FAILED and job(dp, job2)[5] == ROYALTY * EPOCHS
