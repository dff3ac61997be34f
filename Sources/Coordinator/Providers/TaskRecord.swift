import ReleaseProtocol

/// A task as a provider reports it (`GET /v1/user/{user}/task/{id}`): 0G's Task object
/// (zerog.md §2.3) and LICEN's result fields. Field names are the wire's; what 0G marks
/// deprecated or internal is optional.
public struct TaskRecord: Codable, Sendable, Hashable {
    /// The task id (a UUID at 0G brokers).
    public var id: String
    /// The state (zerog.md §2.4); a name outside the list makes the record malformed.
    public var progress: TaskStatus
    /// When the task was created (the provider's text, RFC 3339).
    public var createdAt: String?
    /// When the task last changed (the provider's text, RFC 3339).
    public var updatedAt: String?
    /// The user, EIP-55.
    public var userAddress: String?
    /// The pre-trained model's root.
    public var preTrainedModelHash: String?
    /// The dataset's root as 0G names it.
    public var datasetHash: String?
    /// The training parameters' text.
    public var trainingParams: String?
    /// The fee, decimal.
    public var fee: String?
    /// The request nonce, decimal.
    public var nonce: String?
    /// Deprecated by 0G (always 0).
    public var deliverIndex: UInt64?
    /// When the model was delivered, if it was.
    public var deliverTime: String?
    /// The kind of model trained.
    public var modelType: String?
    /// LICEN: the job id, `0x`-hex 32 bytes.
    public var jobId: String?
    /// LICEN: the signed result manifest, present once the task is Finished.
    public var manifest: ResultManifest.Signed?
    /// LICEN: the 0G root of the encrypted model.
    public var outputRootHash: String?
    /// LICEN: the key-release audit record hash the node was released under, `0x`-hex.
    public var attestationRef: String?
    /// LICEN: why the task failed, a short code (present once Failed).
    public var failureReason: String?

    /// Creates a record.
    public init(
        id: String, progress: TaskStatus, createdAt: String? = nil, updatedAt: String? = nil, userAddress: String? = nil, preTrainedModelHash: String? = nil,
        datasetHash: String? = nil, trainingParams: String? = nil, fee: String? = nil, nonce: String? = nil, deliverIndex: UInt64? = nil, deliverTime: String? = nil,
        modelType: String? = nil, jobId: String? = nil, manifest: ResultManifest.Signed? = nil, outputRootHash: String? = nil, attestationRef: String? = nil,
        failureReason: String? = nil
    ) {
        self.id = id
        self.progress = progress
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.userAddress = userAddress
        self.preTrainedModelHash = preTrainedModelHash
        self.datasetHash = datasetHash
        self.trainingParams = trainingParams
        self.fee = fee
        self.nonce = nonce
        self.deliverIndex = deliverIndex
        self.deliverTime = deliverTime
        self.modelType = modelType
        self.jobId = jobId
        self.manifest = manifest
        self.outputRootHash = outputRootHash
        self.attestationRef = attestationRef
        self.failureReason = failureReason
    }
}
