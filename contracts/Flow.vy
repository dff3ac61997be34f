# pragma version 0.4.3
# @license MIT
"""
@title Flow (dev-chain stand-in for the 0G Storage Flow contract)
@notice Accepts `submit` with the newest 0G ABI (../shared/docs/zerog.md §1.3), checks the submission
        rules and the fee, keeps the submission counter (txSeq) and the flow position, and emits
        `Submit` with the same signature (so the same topic0) as the 0G contract.
@dev Not a port of the 0G contract: there is no merkle flow tree, no mining epochs, no market
     contract (this contract answers `market()` with its own address and serves `pricePerSector()`),
     no pause control, no batchSubmit. The flow position follows the 0G rules: the flow starts at
     length 1, each node is aligned to 2^height, and a submission that would straddle a
     1024-sector segment boundary from an unaligned start is moved to the next segment.
"""

# Submission rules (0G SubmissionLibrary)
MAX_DEPTH: constant(uint256) = 64
ENTRY_SIZE: constant(uint256) = 256
MAX_LENGTH: constant(uint256) = 4
SECTORS_PER_SEGMENT: constant(uint256) = 1024

# Vyper bounds for the dynamic members. A valid submission has at most MAX_LENGTH nodes (strictly
# decreasing heights spanning less than 4), so 64 nodes is only the decoder's limit.
MAX_NODES: constant(uint256) = 64
MAX_TAGS: constant(uint256) = 4096

struct SubmissionNode:
    root: bytes32
    height: uint256

struct SubmissionData:
    length: uint256
    tags: Bytes[MAX_TAGS]
    nodes: DynArray[SubmissionNode, MAX_NODES]

struct Submission:
    data: SubmissionData
    submitter: address

# Submit(address indexed sender, bytes32 indexed identity, uint256 submissionIndex, uint256 startPos,
#        uint256 length, (uint256,bytes,(bytes32,uint256)[]) submission)
event Submit:
    sender: indexed(address)
    identity: indexed(bytes32)
    submissionIndex: uint256
    startPos: uint256
    length: uint256
    submission: SubmissionData

pricePerSector: public(uint256)
submissionIndex: public(uint256)
# Number of sectors in the flow so far (0G's tree().currentLength); starts at 1 as in 0G.
flowLength: public(uint256)

# error NotEnoughFee(uint256 price, uint256 amount, uint256 paid), as in 0G's FixedPriceFlow
NOT_ENOUGH_FEE: constant(bytes4) = method_id("NotEnoughFee(uint256,uint256,uint256)", output_type=bytes4)


@deploy
def __init__(_pricePerSector: uint256):
    self.pricePerSector = _pricePerSector
    self.flowLength = 1


@external
@view
def market() -> address:
    # The dev chain has no separate market: this contract serves pricePerSector() itself.
    return self


@external
@view
def numSubmissions() -> uint256:
    return self.submissionIndex


@internal
@pure
def _nextAlign(length: uint256, alignExp: uint256) -> uint256:
    if length == 0:
        return 0
    return (((length - 1) >> alignExp) + 1) << alignExp


@internal
@pure
def _size(data: SubmissionData) -> uint256:
    total: uint256 = 0
    for node: SubmissionNode in data.nodes:
        total += 1 << node.height
    return total


@internal
@pure
def _valid(data: SubmissionData) -> bool:
    n: uint256 = len(data.nodes)
    if n == 0:
        return False
    # Strictly decreasing heights first, so that the span check below cannot underflow (in 0G an
    # increasing pair underflows `heights[0] - heights[last]` and panics instead).
    for i: uint256 in range(MAX_NODES - 1):
        if i + 1 >= n:
            break
        if data.nodes[i + 1].height >= data.nodes[i].height:
            return False
    if data.nodes[0].height - data.nodes[n - 1].height >= MAX_LENGTH:
        return False
    if data.nodes[0].height >= MAX_DEPTH:
        return False

    capacity: uint256 = self._size(data)
    if data.length > capacity * ENTRY_SIZE:
        return False

    lastCapacity: uint256 = 0
    if capacity < (1 << MAX_LENGTH):
        lastCapacity = capacity - 1
    elif n == 1:
        lastCapacity = capacity - (capacity >> MAX_LENGTH)
    else:
        lastCapacity = capacity - (1 << (data.nodes[0].height - MAX_LENGTH + 1))
    if data.length <= lastCapacity * ENTRY_SIZE:
        return False
    return True


@internal
@pure
def _digest(data: SubmissionData) -> bytes32:
    # keccak256(abi.encodePacked(bytes32[] roots)): the roots back to back.
    roots: DynArray[bytes32, MAX_NODES] = []
    for node: SubmissionNode in data.nodes:
        roots.append(node.root)
    encoded: Bytes[32 * (MAX_NODES + 2)] = abi_encode(roots)
    # abi_encode(DynArray) = offset (32) ‖ length (32) ‖ elements
    return keccak256(slice(encoded, 64, 32 * len(roots)))


@external
@payable
def submit(submission: Submission) -> (uint256, bytes32, uint256, uint256):
    """
    @return (index = txSeq, digest = keccak256 of the packed node roots, startIndex = first flow
            sector of the submission, length = Σ 2^height sectors), as 0G's Flow.submit.
    """
    assert submission.submitter != empty(address), "Invalid submitter"
    assert self._valid(submission.data), "Invalid submission"

    sectors: uint256 = self._size(submission.data)
    fee: uint256 = sectors * self.pricePerSector
    if msg.value < fee:
        raw_revert(concat(NOT_ENOUGH_FEE, abi_encode(self.pricePerSector, sectors, msg.value)))

    # Pad: align to the first node; move to the next segment if the submission would cross one.
    current: uint256 = self.flowLength
    startIndex: uint256 = self._nextAlign(current, submission.data.nodes[0].height)
    if startIndex % SECTORS_PER_SEGMENT != 0 and startIndex // SECTORS_PER_SEGMENT != (startIndex + sectors - 1) // SECTORS_PER_SEGMENT:
        current = startIndex + SECTORS_PER_SEGMENT - (startIndex % SECTORS_PER_SEGMENT)

    first: bool = True
    for node: SubmissionNode in submission.data.nodes:
        nodeStart: uint256 = self._nextAlign(current, node.height)
        if first:
            startIndex = nodeStart
            first = False
        current = nodeStart + (1 << node.height)
    self.flowLength = current

    digest: bytes32 = self._digest(submission.data)
    index: uint256 = self.submissionIndex
    self.submissionIndex = index + 1

    log Submit(sender=msg.sender, identity=digest, submissionIndex=index, startPos=startIndex, length=sectors, submission=submission.data)
    return (index, digest, startIndex, sectors)
