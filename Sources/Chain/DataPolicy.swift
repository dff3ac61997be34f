import BigInt
import EVMCrypto

/// The LICEN DataPolicy contract (../shared/docs/datapolicy.md): every read, write and event,
/// typed. Writes go through a ``TransactionSender`` (the signer is whoever holds its key: the
/// dataset owner, a requester, or the backend wallet).
public struct DataPolicy: Sendable {
    /// Job states as the contract numbers them.
    public enum JobState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case none = 0, requested, granted, running, completed, failed, timedOut, refunded
        /// The name as the indexer writes it ("Granted", …).
        public var description: String {
            switch self {
            case .none: "None"
            case .requested: "Requested"
            case .granted: "Granted"
            case .running: "Running"
            case .completed: "Completed"
            case .failed: "Failed"
            case .timedOut: "TimedOut"
            case .refunded: "Refunded"
            }
        }
    }

    /// `jobs(bytes32)`.
    public struct Job: Sendable, Hashable {
        public let datasetRoot: [UInt8]
        public let requester: Address
        public let provider: Address
        public let purposeID: [UInt8]
        public let requestedEpochs: UInt32
        public let escrowAmount: BigUInt
        public let requestTime: UInt64
        public let state: JobState
        public let termsHash: [UInt8]

        /// A job as `jobs(jobId)` returns it.
        public init(
            datasetRoot: [UInt8], requester: Address, provider: Address, purposeID: [UInt8], requestedEpochs: UInt32, escrowAmount: BigUInt,
            requestTime: UInt64, state: JobState, termsHash: [UInt8]
        ) {
            self.datasetRoot = datasetRoot
            self.requester = requester
            self.provider = provider
            self.purposeID = purposeID
            self.requestedEpochs = requestedEpochs
            self.escrowAmount = escrowAmount
            self.requestTime = requestTime
            self.state = state
            self.termsHash = termsHash
        }
    }

    /// `policies(bytes32)`.
    public struct DatasetPolicy: Sendable, Hashable {
        public let datasetRoot: [UInt8]
        public let owner: Address
        public let manifestHash: [UInt8]
        public let royaltyPerEpoch: BigUInt
        public let maxEpochsPerRun: UInt32
        public let maxRunsPerRequester: UInt32
        public let accessTTLSeconds: UInt64
        public let policyExpiry: UInt64
        public let requireResultAttestation: Bool
        public let active: Bool
        public let openRequesters: Bool
    }

    /// Registration parameters.
    public struct Registration: Sendable {
        public var datasetRoot: [UInt8]
        public var manifestHash: [UInt8]
        public var royaltyPerEpoch: BigUInt
        public var maxEpochsPerRun: UInt32
        public var maxRunsPerRequester: UInt32
        public var accessTTLSeconds: UInt64
        public var policyExpiry: UInt64
        public var requireResultAttestation: Bool
        public var openRequesters: Bool
        public var allowedPurposeIDs: [[UInt8]]
        public var allowedRequesters: [Address]

        /// Creates registration parameters.
        public init(
            datasetRoot: [UInt8], manifestHash: [UInt8], royaltyPerEpoch: BigUInt, maxEpochsPerRun: UInt32, maxRunsPerRequester: UInt32, accessTTLSeconds: UInt64,
            policyExpiry: UInt64, requireResultAttestation: Bool, openRequesters: Bool, allowedPurposeIDs: [[UInt8]], allowedRequesters: [Address]
        ) {
            self.datasetRoot = datasetRoot
            self.manifestHash = manifestHash
            self.royaltyPerEpoch = royaltyPerEpoch
            self.maxEpochsPerRun = maxEpochsPerRun
            self.maxRunsPerRequester = maxRunsPerRequester
            self.accessTTLSeconds = accessTTLSeconds
            self.policyExpiry = policyExpiry
            self.requireResultAttestation = requireResultAttestation
            self.openRequesters = openRequesters
            self.allowedPurposeIDs = allowedPurposeIDs
            self.allowedRequesters = allowedRequesters
        }
    }

    /// A decoded DataPolicy event.
    public enum Event: Sendable, Hashable {
        case datasetRegistered(datasetRoot: [UInt8], owner: Address, manifestHash: [UInt8])
        case policyActivated(datasetRoot: [UInt8])
        case policyPaused(datasetRoot: [UInt8])
        case policyResumed(datasetRoot: [UInt8])
        case accessRequested(jobID: [UInt8], datasetRoot: [UInt8], requester: Address, requestedEpochs: UInt32)
        case accessGranted(jobID: [UInt8])
        case jobStarted(jobID: [UInt8])
        case jobCompleted(jobID: [UInt8], actualEpochs: UInt32, resultHash: [UInt8], attestationRef: [UInt8])
        case jobFailed(jobID: [UInt8], reasonCode: String)
        case jobTimedOut(jobID: [UInt8])
        case royaltySettled(jobID: [UInt8], amount: BigUInt)
        case refundIssued(jobID: [UInt8], amount: BigUInt)
    }

    /// Event signatures (topic0 = keccak of each).
    public static let eventSignatures = [
        "DatasetRegistered(bytes32,address,bytes32)", "PolicyActivated(bytes32)", "PolicyPaused(bytes32)", "PolicyResumed(bytes32)",
        "AccessRequested(bytes32,bytes32,address,uint32)", "AccessGranted(bytes32)", "JobStarted(bytes32)",
        "JobCompleted(bytes32,uint32,bytes32,bytes32)", "JobFailed(bytes32,string)", "JobTimedOut(bytes32)",
        "RoyaltySettled(bytes32,uint256)", "RefundIssued(bytes32,uint256)",
    ]

    /// topic0 of an event signature.
    public static func topic(_ signature: String) -> [UInt8] { Keccak256.hash(Array(signature.utf8)) }

    /// The contract.
    public let address: Address
    /// The node.
    public let client: EthClient

    /// A client for the contract at `address`.
    public init(address: Address, client: EthClient) {
        self.address = address
        self.client = client
    }

    // MARK: reads

    private func read(_ signature: String, _ args: [ABI.Value], _ types: [ABI.ParameterType], returns: [ABI.ParameterType]) async throws(ChainError) -> [ABI.Value] {
        let data = ABI.selector(signature) + (try ABI.encode(args, as: types))
        return try ABI.decode(returns, from: try await client.call(to: address, data: data))
    }

    /// `backendWallet()`.
    public func backendWallet() async throws(ChainError) -> Address {
        guard let a = try await read("backendWallet()", [], [], returns: [.address]).first?.addressValue else { throw ChainError(.encoding, "backendWallet() returned no address") }
        return a
    }

    /// `jobs(jobId)`; a job that does not exist reads as state `.none`.
    public func job(_ jobID: [UInt8]) async throws(ChainError) -> Job {
        let v = try await read(
            "jobs(bytes32)", [.fixedBytes(jobID)], [.fixedBytes(32)],
            returns: [.fixedBytes(32), .address, .address, .fixedBytes(32), .uint(32), .uint(256), .uint(64), .uint(8), .fixedBytes(32)])
        guard let raw = v[7].uintValue, let state = JobState(rawValue: UInt8(raw)) else { throw ChainError(.encoding, "jobs(): unknown state \(v[7])") }
        return Job(
            datasetRoot: v[0].bytesValue!, requester: v[1].addressValue!, provider: v[2].addressValue!, purposeID: v[3].bytesValue!,
            requestedEpochs: UInt32(v[4].uintValue!), escrowAmount: v[5].uintValue!, requestTime: UInt64(v[6].uintValue!), state: state, termsHash: v[8].bytesValue!)
    }

    /// `policies(datasetRoot)`.
    public func policy(_ datasetRoot: [UInt8]) async throws(ChainError) -> DatasetPolicy {
        let v = try await read(
            "policies(bytes32)", [.fixedBytes(datasetRoot)], [.fixedBytes(32)],
            returns: [.fixedBytes(32), .address, .fixedBytes(32), .uint(256), .uint(32), .uint(32), .uint(64), .uint(64), .bool, .bool, .bool])
        return DatasetPolicy(
            datasetRoot: v[0].bytesValue!, owner: v[1].addressValue!, manifestHash: v[2].bytesValue!, royaltyPerEpoch: v[3].uintValue!,
            maxEpochsPerRun: UInt32(v[4].uintValue!), maxRunsPerRequester: UInt32(v[5].uintValue!), accessTTLSeconds: UInt64(v[6].uintValue!),
            policyExpiry: UInt64(v[7].uintValue!), requireResultAttestation: v[8].boolValue!, active: v[9].boolValue!, openRequesters: v[10].boolValue!)
    }

    /// `allowedPurposeIds(root, purpose)`.
    public func isPurposeAllowed(_ root: [UInt8], _ purpose: [UInt8]) async throws(ChainError) -> Bool {
        try await read("allowedPurposeIds(bytes32,bytes32)", [.fixedBytes(root), .fixedBytes(purpose)], [.fixedBytes(32), .fixedBytes(32)], returns: [.bool])[0].boolValue!
    }

    /// `allowedRequesters(root, requester)`.
    public func isRequesterAllowed(_ root: [UInt8], _ requester: Address) async throws(ChainError) -> Bool {
        try await read("allowedRequesters(bytes32,address)", [.fixedBytes(root), .address(requester)], [.fixedBytes(32), .address], returns: [.bool])[0].boolValue!
    }

    /// `requesterRunCounts(root, requester)`.
    public func runCount(_ root: [UInt8], _ requester: Address) async throws(ChainError) -> BigUInt {
        try await read("requesterRunCounts(bytes32,address)", [.fixedBytes(root), .address(requester)], [.fixedBytes(32), .address], returns: [.uint(256)])[0].uintValue!
    }

    // MARK: writes

    static func call(_ signature: String, _ args: [ABI.Value]) throws(ChainError) -> [UInt8] {
        guard let open = signature.firstIndex(of: "(") else { throw ChainError(.encoding, "not a function signature: \(signature)") }
        let types = try ABI.ParameterType(String(signature[open...])).tupleTypes
        return ABI.selector(signature) + (try ABI.encode(args, as: types))
    }

    /// `registerDataset(…)`, sent by the future owner.
    @discardableResult
    public func registerDataset(_ r: Registration, from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(
            to: address,
            data: try Self.call(
                "registerDataset(bytes32,bytes32,uint256,uint32,uint32,uint64,uint64,bool,bool,bytes32[],address[])",
                [
                    .fixedBytes(r.datasetRoot), .fixedBytes(r.manifestHash), .uint(r.royaltyPerEpoch), .uint(BigUInt(r.maxEpochsPerRun)), .uint(BigUInt(r.maxRunsPerRequester)),
                    .uint(BigUInt(r.accessTTLSeconds)), .uint(BigUInt(r.policyExpiry)), .bool(r.requireResultAttestation), .bool(r.openRequesters),
                    .array(r.allowedPurposeIDs.map { .fixedBytes($0) }), .array(r.allowedRequesters.map { .address($0) }),
                ]))
    }

    /// `pausePolicy(root)` (owner).
    @discardableResult
    public func pausePolicy(_ root: [UInt8], from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("pausePolicy(bytes32)", [.fixedBytes(root)]))
    }

    /// `resumePolicy(root)` (owner).
    @discardableResult
    public func resumePolicy(_ root: [UInt8], from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("resumePolicy(bytes32)", [.fixedBytes(root)]))
    }

    /// `requestAccess(…)` paying `value`; returns the receipt and the new job id (from
    /// `AccessRequested`).
    public func requestAccess(
        datasetRoot: [UInt8], purposeID: [UInt8], requestedEpochs: UInt32, termsHash: [UInt8], value: BigUInt,
        from sender: TransactionSender
    ) async throws(ChainError) -> (receipt: Receipt, jobID: [UInt8]) {
        let r = try await sender.send(
            to: address,
            data: try Self.call(
                "requestAccess(bytes32,bytes32,uint32,bytes32)",
                [
                    .fixedBytes(datasetRoot), .fixedBytes(purposeID), .uint(BigUInt(requestedEpochs)), .fixedBytes(termsHash),
                ]), value: value)
        for log in r.logs where log.address == address {
            if case .accessRequested(let id, _, _, _)? = try? decode(log) { return (r, id) }
        }
        throw ChainError(.encoding, "requestAccess mined without an AccessRequested event")
    }

    /// `startJob(jobId)` (backend wallet).
    @discardableResult
    public func startJob(_ jobID: [UInt8], from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("startJob(bytes32)", [.fixedBytes(jobID)]))
    }

    /// `confirmTrainingComplete(…)` (backend wallet); `beforeBroadcast` sees the hash first.
    @discardableResult
    public func confirmTrainingComplete(
        _ jobID: [UInt8], actualEpochs: UInt32, resultHash: [UInt8], attestationRef: [UInt8], from sender: TransactionSender,
        beforeBroadcast: TransactionSender.BeforeBroadcast? = nil
    ) async throws(ChainError) -> Receipt {
        try await sender.send(
            to: address,
            data: try Self.call(
                "confirmTrainingComplete(bytes32,uint32,bytes32,bytes32)",
                [
                    .fixedBytes(jobID), .uint(BigUInt(actualEpochs)), .fixedBytes(resultHash), .fixedBytes(attestationRef),
                ]), beforeBroadcast: beforeBroadcast)
    }

    /// `markJobFailed(jobId, reasonCode)` (backend wallet); `beforeBroadcast` sees the hash first.
    @discardableResult
    public func markJobFailed(
        _ jobID: [UInt8], reasonCode: String, from sender: TransactionSender, beforeBroadcast: TransactionSender.BeforeBroadcast? = nil
    ) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("markJobFailed(bytes32,string)", [.fixedBytes(jobID), .string(reasonCode)]), beforeBroadcast: beforeBroadcast)
    }

    /// `timeoutJob(jobId)` (anyone, after the TTL).
    @discardableResult
    public func timeoutJob(_ jobID: [UInt8], from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("timeoutJob(bytes32)", [.fixedBytes(jobID)]))
    }

    /// `refund(jobId)`.
    @discardableResult
    public func refund(_ jobID: [UInt8], from sender: TransactionSender) async throws(ChainError) -> Receipt {
        try await sender.send(to: address, data: try Self.call("refund(bytes32)", [.fixedBytes(jobID)]))
    }

    // MARK: events

    /// Decodes a DataPolicy log; nil for a log of another event.
    public func decode(_ log: Log) throws(ChainError) -> Event? {
        guard let t0 = log.topics.first else { return nil }
        func topicBytes(_ i: Int) throws(ChainError) -> [UInt8] {
            guard i < log.topics.count else { throw ChainError(.encoding, "event lacks topic \(i)") }
            return log.topics[i]
        }
        func topicAddress(_ i: Int) throws(ChainError) -> Address { let b = Array(try topicBytes(i).suffix(20)); return try evm { () throws(EVMCryptoError) in try Address(bytes: b) } }
        switch t0 {
        case Self.topic("DatasetRegistered(bytes32,address,bytes32)"):
            return .datasetRegistered(datasetRoot: try topicBytes(1), owner: try topicAddress(2), manifestHash: try ABI.decode([.fixedBytes(32)], from: log.data)[0].bytesValue!)
        case Self.topic("PolicyActivated(bytes32)"): return .policyActivated(datasetRoot: try topicBytes(1))
        case Self.topic("PolicyPaused(bytes32)"): return .policyPaused(datasetRoot: try topicBytes(1))
        case Self.topic("PolicyResumed(bytes32)"): return .policyResumed(datasetRoot: try topicBytes(1))
        case Self.topic("AccessRequested(bytes32,bytes32,address,uint32)"):
            return .accessRequested(
                jobID: try topicBytes(1), datasetRoot: try topicBytes(2), requester: try topicAddress(3),
                requestedEpochs: UInt32(try ABI.decode([.uint(32)], from: log.data)[0].uintValue!))
        case Self.topic("AccessGranted(bytes32)"): return .accessGranted(jobID: try topicBytes(1))
        case Self.topic("JobStarted(bytes32)"): return .jobStarted(jobID: try topicBytes(1))
        case Self.topic("JobCompleted(bytes32,uint32,bytes32,bytes32)"):
            let v = try ABI.decode([.uint(32), .fixedBytes(32), .fixedBytes(32)], from: log.data)
            return .jobCompleted(jobID: try topicBytes(1), actualEpochs: UInt32(v[0].uintValue!), resultHash: v[1].bytesValue!, attestationRef: v[2].bytesValue!)
        case Self.topic("JobFailed(bytes32,string)"):
            return .jobFailed(jobID: try topicBytes(1), reasonCode: try ABI.decode([.string], from: log.data)[0].stringValue!)
        case Self.topic("JobTimedOut(bytes32)"): return .jobTimedOut(jobID: try topicBytes(1))
        case Self.topic("RoyaltySettled(bytes32,uint256)"):
            return .royaltySettled(jobID: try topicBytes(1), amount: try ABI.decode([.uint(256)], from: log.data)[0].uintValue!)
        case Self.topic("RefundIssued(bytes32,uint256)"):
            return .refundIssued(jobID: try topicBytes(1), amount: try ABI.decode([.uint(256)], from: log.data)[0].uintValue!)
        default: return nil
        }
    }

    /// Every DataPolicy event in a block range (the indexer-free source of Granted jobs).
    public func events(fromBlock: UInt64, toBlock: UInt64? = nil) async throws(ChainError) -> [Event] {
        var out = [Event]()
        for log in try await client.logs(address: address, topics: [], fromBlock: fromBlock, toBlock: toBlock) {
            if let e = try decode(log) { out.append(e) }
        }
        return out
    }
}

extension ABI.ParameterType {
    /// The element types of a tuple type (empty for others).
    var tupleTypes: [ABI.ParameterType] { if case .tuple(let ts) = self { return ts } else { return [] } }
}
