# pragma version 0.4.3
# @license MIT
"""
@title DataPolicy (dev-chain port)
@notice The LICEN DataPolicy interface (../shared/docs/datapolicy.md), written anew in Vyper for the
        licen-broker dev chain. Escrow is in the chain's native coin.
@dev Wire compatibility with the Solidity original is the point of this file:
     - every external function has the Solidity signature, so the same 4-byte selector
       (bytes32[] / address[] / string stay bytes32[] / address[] / string in the ABI; the Vyper
       bounds below only limit how long they may be);
     - `jobs(bytes32)` and `policies(bytes32)` return the 9 and 11 static fields in the original order,
       which ABI-encodes byte for byte like Solidity's auto-generated struct getters;
     - events have the same names, argument types and indexed flags, so the same topic0;
     - the checks run in the original order with the original revert strings.
     Job states are uint8 constants (a Vyper `flag` would encode as powers of two, not 0..7).
"""

# --- job states (uint8 on the wire) ---------------------------------------------------------------
STATE_NONE: constant(uint8) = 0
STATE_REQUESTED: constant(uint8) = 1   # never stored: requestAccess grants at once, as in the original
STATE_GRANTED: constant(uint8) = 2
STATE_RUNNING: constant(uint8) = 3
STATE_COMPLETED: constant(uint8) = 4
STATE_FAILED: constant(uint8) = 5
STATE_TIMED_OUT: constant(uint8) = 6
STATE_REFUNDED: constant(uint8) = 7

# Bounds Vyper needs for dynamic arguments. A longer argument reverts (without a reason string) while
# the ABI decoder checks it; the Solidity original has no such bound.
MAX_PURPOSES: constant(uint256) = 64
MAX_REQUESTERS: constant(uint256) = 64
MAX_REASON: constant(uint256) = 256

struct Policy:
    datasetRoot: bytes32
    owner: address
    manifestHash: bytes32
    royaltyPerEpoch: uint256
    maxEpochsPerRun: uint32
    maxRunsPerRequester: uint32
    accessTtlSeconds: uint64
    policyExpiry: uint64
    requireResultAttestation: bool
    active: bool
    openRequesters: bool

struct Job:
    datasetRoot: bytes32
    requester: address
    provider: address
    purposeId: bytes32
    requestedEpochs: uint32
    escrowAmount: uint256
    requestTime: uint64
    state: uint8
    termsHash: bytes32

# --- events (same names, types and indexed flags as the original) ---------------------------------
event DatasetRegistered:
    datasetRoot: indexed(bytes32)
    owner: indexed(address)
    manifestHash: bytes32

event PolicyActivated:
    datasetRoot: indexed(bytes32)

event PolicyPaused:
    datasetRoot: indexed(bytes32)

event PolicyResumed:
    datasetRoot: indexed(bytes32)

event AccessRequested:
    jobId: indexed(bytes32)
    datasetRoot: indexed(bytes32)
    requester: indexed(address)
    requestedEpochs: uint32

event AccessGranted:
    jobId: indexed(bytes32)

event JobStarted:
    jobId: indexed(bytes32)

event JobCompleted:
    jobId: indexed(bytes32)
    actualEpochs: uint32
    resultHash: bytes32
    attestationRef: bytes32

event JobFailed:
    jobId: indexed(bytes32)
    reasonCode: String[MAX_REASON]

event JobTimedOut:
    jobId: indexed(bytes32)

event RoyaltySettled:
    jobId: indexed(bytes32)
    amount: uint256

event RefundIssued:
    jobId: indexed(bytes32)
    amount: uint256

# --- storage ----------------------------------------------------------------------------------------
backendWallet: public(immutable(address))

# The struct getters are written out below (jobs / policies) so that the ABI lists the fields as
# separate outputs, exactly like Solidity's getters.
policyOf: HashMap[bytes32, Policy]
jobOf: HashMap[bytes32, Job]

allowedPurposeIds: public(HashMap[bytes32, HashMap[bytes32, bool]])
allowedRequesters: public(HashMap[bytes32, HashMap[address, bool]])
requesterRunCounts: public(HashMap[bytes32, HashMap[address, uint32]])

jobCounter: uint256


@deploy
def __init__(_backendWallet: address):
    assert _backendWallet != empty(address), "Invalid backend wallet address"
    backendWallet = _backendWallet


# --- views --------------------------------------------------------------------------------------------
@external
@view
def policies(datasetRoot: bytes32) -> (bytes32, address, bytes32, uint256, uint32, uint32, uint64, uint64, bool, bool, bool):
    p: Policy = self.policyOf[datasetRoot]
    return (p.datasetRoot, p.owner, p.manifestHash, p.royaltyPerEpoch, p.maxEpochsPerRun,
            p.maxRunsPerRequester, p.accessTtlSeconds, p.policyExpiry, p.requireResultAttestation,
            p.active, p.openRequesters)


@external
@view
def jobs(jobId: bytes32) -> (bytes32, address, address, bytes32, uint32, uint256, uint64, uint8, bytes32):
    j: Job = self.jobOf[jobId]
    return (j.datasetRoot, j.requester, j.provider, j.purposeId, j.requestedEpochs, j.escrowAmount,
            j.requestTime, j.state, j.termsHash)


# --- internal helpers ---------------------------------------------------------------------------------
@internal
@view
def _onlyBackend():
    assert msg.sender == backendWallet, "Not backend wallet"


@internal
@view
def _onlyDatasetOwner(datasetRoot: bytes32):
    assert self.policyOf[datasetRoot].owner == msg.sender, "Not dataset owner"


@internal
def _sendValue(recipient: address, amount: uint256):
    # Forwards all gas like Solidity's `call{value: amount}("")` (Vyper's send() would give 2300 only).
    ok: bool = raw_call(recipient, b"", value=amount, revert_on_failure=False)
    assert ok, "Native transfer failed"


# --- dataset owner --------------------------------------------------------------------------------------
@external
def registerDataset(
    datasetRoot: bytes32,
    manifestHash: bytes32,
    royaltyPerEpoch: uint256,
    maxEpochsPerRun: uint32,
    maxRunsPerRequester: uint32,
    accessTtlSeconds: uint64,
    policyExpiry: uint64,
    requireResultAttestation: bool,
    openRequesters: bool,
    _allowedPurposeIds: DynArray[bytes32, MAX_PURPOSES],
    _allowedRequesters: DynArray[address, MAX_REQUESTERS],
):
    assert self.policyOf[datasetRoot].owner == empty(address), "Dataset already registered"

    self.policyOf[datasetRoot] = Policy(
        datasetRoot=datasetRoot,
        owner=msg.sender,
        manifestHash=manifestHash,
        royaltyPerEpoch=royaltyPerEpoch,
        maxEpochsPerRun=maxEpochsPerRun,
        maxRunsPerRequester=maxRunsPerRequester,
        accessTtlSeconds=accessTtlSeconds,
        policyExpiry=policyExpiry,
        requireResultAttestation=requireResultAttestation,
        active=True,
        openRequesters=openRequesters,
    )

    for purpose: bytes32 in _allowedPurposeIds:
        self.allowedPurposeIds[datasetRoot][purpose] = True
    for requester: address in _allowedRequesters:
        self.allowedRequesters[datasetRoot][requester] = True

    log DatasetRegistered(datasetRoot=datasetRoot, owner=msg.sender, manifestHash=manifestHash)
    # The original emits PolicyActivated right after DatasetRegistered: a policy is born active
    # (`active: true`), and indexers (Envio's Dataset.active) follow that event. Kept as is.
    log PolicyActivated(datasetRoot=datasetRoot)


@external
def pausePolicy(datasetRoot: bytes32):
    self._onlyDatasetOwner(datasetRoot)
    assert self.policyOf[datasetRoot].active, "Policy already paused"
    self.policyOf[datasetRoot].active = False
    log PolicyPaused(datasetRoot=datasetRoot)


@external
def resumePolicy(datasetRoot: bytes32):
    self._onlyDatasetOwner(datasetRoot)
    assert not self.policyOf[datasetRoot].active, "Policy already active"
    self.policyOf[datasetRoot].active = True
    log PolicyResumed(datasetRoot=datasetRoot)


# --- requester --------------------------------------------------------------------------------------------
@external
@payable
@nonreentrant
def requestAccess(datasetRoot: bytes32, purposeId: bytes32, requestedEpochs: uint32, termsHash: bytes32) -> bytes32:
    policy: Policy = self.policyOf[datasetRoot]
    assert policy.active, "Policy is not active"
    assert block.timestamp < convert(policy.policyExpiry, uint256) or policy.policyExpiry == 0, "Policy expired"
    assert termsHash == policy.manifestHash, "Terms hash mismatch"
    assert requestedEpochs <= policy.maxEpochsPerRun, "Exceeds max epochs per run"
    assert self.requesterRunCounts[datasetRoot][msg.sender] < policy.maxRunsPerRequester, "Requester run limit reached"
    assert self.allowedPurposeIds[datasetRoot][purposeId], "Purpose not allowed"
    if not policy.openRequesters:
        assert self.allowedRequesters[datasetRoot][msg.sender], "Requester not allowed"

    requiredEscrow: uint256 = policy.royaltyPerEpoch * convert(requestedEpochs, uint256)
    assert msg.value == requiredEscrow, "Incorrect escrow amount"
    self.requesterRunCounts[datasetRoot][msg.sender] += 1

    self.jobCounter += 1
    # keccak256(abi.encodePacked(datasetRoot, msg.sender, jobCounter, block.timestamp)):
    # bytes32 ‖ address (20 bytes) ‖ uint256 ‖ uint256 = 116 bytes.
    jobId: bytes32 = keccak256(concat(
        datasetRoot,
        convert(msg.sender, bytes20),
        convert(self.jobCounter, bytes32),
        convert(block.timestamp, bytes32),
    ))

    # Created directly in Granted with the backend wallet as provider, as in the original.
    self.jobOf[jobId] = Job(
        datasetRoot=datasetRoot,
        requester=msg.sender,
        provider=backendWallet,
        purposeId=purposeId,
        requestedEpochs=requestedEpochs,
        escrowAmount=requiredEscrow,
        requestTime=convert(block.timestamp, uint64),
        state=STATE_GRANTED,
        termsHash=termsHash,
    )

    log AccessRequested(jobId=jobId, datasetRoot=datasetRoot, requester=msg.sender, requestedEpochs=requestedEpochs)
    log AccessGranted(jobId=jobId)
    return jobId


# --- backend wallet ------------------------------------------------------------------------------------------
@external
def startJob(jobId: bytes32):
    self._onlyBackend()
    assert self.jobOf[jobId].state == STATE_GRANTED, "Invalid state transition"
    self.jobOf[jobId].state = STATE_RUNNING
    log JobStarted(jobId=jobId)


@external
@nonreentrant
def confirmTrainingComplete(jobId: bytes32, actualEpochs: uint32, resultHash: bytes32, attestationRef: bytes32):
    self._onlyBackend()
    job: Job = self.jobOf[jobId]
    assert job.state == STATE_RUNNING or job.state == STATE_GRANTED, "Invalid state transition"

    policy: Policy = self.policyOf[job.datasetRoot]
    assert actualEpochs <= job.requestedEpochs, "Actual epochs exceed requested"
    if policy.requireResultAttestation:
        assert attestationRef != empty(bytes32), "Attestation required"

    self.jobOf[jobId].state = STATE_COMPLETED

    # Settle the epochs actually trained, refund the rest.
    settleAmount: uint256 = policy.royaltyPerEpoch * convert(actualEpochs, uint256)
    if settleAmount > job.escrowAmount:
        settleAmount = job.escrowAmount
    refundAmount: uint256 = job.escrowAmount - settleAmount
    self.jobOf[jobId].escrowAmount = 0

    if settleAmount > 0:
        self._sendValue(policy.owner, settleAmount)
        log RoyaltySettled(jobId=jobId, amount=settleAmount)

    if refundAmount > 0:
        self._sendValue(job.requester, refundAmount)
        log RefundIssued(jobId=jobId, amount=refundAmount)

    log JobCompleted(jobId=jobId, actualEpochs=actualEpochs, resultHash=resultHash, attestationRef=attestationRef)


@external
def markJobFailed(jobId: bytes32, reasonCode: String[MAX_REASON]):
    self._onlyBackend()
    state: uint8 = self.jobOf[jobId].state
    assert state == STATE_GRANTED or state == STATE_RUNNING, "Invalid state transition"
    self.jobOf[jobId].state = STATE_FAILED
    log JobFailed(jobId=jobId, reasonCode=reasonCode)


# --- anyone -------------------------------------------------------------------------------------------------------
@external
def timeoutJob(jobId: bytes32):
    job: Job = self.jobOf[jobId]
    assert job.state == STATE_GRANTED or job.state == STATE_RUNNING, "Invalid state transition"
    ttl: uint64 = self.policyOf[job.datasetRoot].accessTtlSeconds
    # uint64 addition, as in the original (an overflow reverts there too).
    assert block.timestamp > convert(job.requestTime + ttl, uint256), "TTL not exceeded"
    self.jobOf[jobId].state = STATE_TIMED_OUT
    log JobTimedOut(jobId=jobId)


@external
@nonreentrant
def refund(jobId: bytes32):
    job: Job = self.jobOf[jobId]
    assert job.state == STATE_FAILED or job.state == STATE_TIMED_OUT, "Invalid state transition for refund"
    amount: uint256 = job.escrowAmount
    assert amount > 0, "No escrow to refund"

    self.jobOf[jobId].escrowAmount = 0
    self.jobOf[jobId].state = STATE_REFUNDED

    self._sendValue(job.requester, amount)
    log RefundIssued(jobId=jobId, amount=amount)
