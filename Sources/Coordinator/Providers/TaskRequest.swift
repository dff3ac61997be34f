import ByteEncoding
import EVMCrypto
import ReleaseProtocol

/// The body of `POST /v1/user/{user}/task`: 0G's task fields (zerog.md §2.3) and LICEN's.
/// Field names are the wire's. `jobId` is the idempotency key: a provider that already has a
/// task for it answers that task's id instead of creating a second one.
public struct TaskRequest: Codable, Sendable, Hashable {
    /// The user, EIP-55 (the broker compares it with the path by string equality).
    public var userAddress: String
    /// The pre-trained model's 0G root, `0x`-hex.
    public var preTrainedModelHash: String
    /// The dataset's 0G root as 0G names it (for LICEN, the encrypted dataset's root).
    public var datasetHash: String
    /// The training parameters: the text of a JSON document.
    public var trainingParams: String
    /// The fee in neuron, decimal (`"0"` where the broker computes it).
    public var fee: String
    /// The request nonce, decimal; greater than the on-chain account nonce.
    public var nonce: String
    /// The user's request signature, `0x`-hex 65 bytes (zerog.md §2.3).
    public var signature: String
    /// Queue behind tasks in progress instead of being refused.
    public var wait: Bool
    /// LICEN: the on-chain job id, `0x`-hex 32 bytes; the idempotency key.
    public var jobId: String
    /// LICEN: the job's dataset root, `0x`-hex 32 bytes (what the key release checks).
    public var datasetRoot: String
    /// LICEN: the coordinator's dispatch ticket for this job and node.
    public var dispatchTicket: Ticket
    /// LICEN: where the node asks for the dataset key (`https://…`).
    public var keyReleaseURL: String
    /// LICEN: epochs the job paid for; the manifest's `actualEpochs` may not exceed it.
    public var requestedEpochs: UInt64

    /// The dispatch ticket's signature and the fields not already in the request (``DispatchTicket``).
    public struct Ticket: Codable, Sendable, Hashable {
        /// `0x`-hex 65-byte EIP-712 signature by the job's on-chain provider (the backend wallet).
        public var signature: String
        /// Unix seconds after which the key-release service refuses the ticket.
        public var expiry: UInt64
        /// The node's signer address, EIP-55.
        public var node: String

        /// Creates a ticket.
        public init(signature: String, expiry: UInt64, node: String) {
            self.signature = signature
            self.expiry = expiry
            self.node = node
        }
    }

    /// Creates a request from its wire fields.
    public init(
        userAddress: String, preTrainedModelHash: String, datasetHash: String, trainingParams: String, fee: String, nonce: String, signature: String, wait: Bool,
        jobId: String, datasetRoot: String, dispatchTicket: Ticket, keyReleaseURL: String, requestedEpochs: UInt64
    ) {
        self.userAddress = userAddress
        self.preTrainedModelHash = preTrainedModelHash
        self.datasetHash = datasetHash
        self.trainingParams = trainingParams
        self.fee = fee
        self.nonce = nonce
        self.signature = signature
        self.wait = wait
        self.jobId = jobId
        self.datasetRoot = datasetRoot
        self.dispatchTicket = dispatchTicket
        self.keyReleaseURL = keyReleaseURL
        self.requestedEpochs = requestedEpochs
    }

    /// The ticket as the node presents it to the key-release service (``DispatchTicketMessage``).
    public var ticketMessage: DispatchTicketMessage {
        DispatchTicketMessage(jobId: jobId, datasetRoot: datasetRoot, node: dispatchTicket.node, expiry: dispatchTicket.expiry, signature: dispatchTicket.signature)
    }
}
