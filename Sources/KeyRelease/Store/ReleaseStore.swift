import Foundation

/// Everything the key-release service keeps: single-use nonces, escrowed envelopes and the
/// hash-chained audit log. The service is stateless apart from this, so replicas sharing one
/// store (PostgreSQL) behave as one service. Two backends implement it: ``SQLiteReleaseStore``
/// (the embedded default) and ``PostgresReleaseStore``; one test suite runs against both.
///
/// Every method either completes or throws ``KeyReleaseError`` with code `.storeUnavailable`
/// (connection lost, server down: the service answers 503 and retries on the next request) or
/// `.storeCorrupt` (a row that does not decode). Nothing here ever sees plaintext key material:
/// envelopes are sealed to the escrow key before they arrive.
public protocol ReleaseStore: Sendable {
    /// Applies pending schema migrations (versioned, idempotent, safe to run from several
    /// replicas at once) and returns the schema version now in force.
    @discardableResult
    func migrate() async throws(KeyReleaseError) -> Int

    /// A cheap round trip proving the store answers (`/readyz`).
    func ping() async throws(KeyReleaseError)

    /// The schema version in force, changing nothing: 0 when the database has no schema (the
    /// service never opened it), else the highest applied migration.
    func schemaVersion() async throws(KeyReleaseError) -> Int

    /// Records a freshly issued nonce.
    func insertNonce(_ nonce: IssuedNonce) async throws(KeyReleaseError)

    /// Consumes `nonce` atomically: exactly one caller across all replicas gets `.consumed`;
    /// every other gets `.alreadyUsed`. An expired nonce (expiresAt ≤ now) is `.expired` and
    /// stays unconsumed; an unknown one is `.unknown`.
    func consumeNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceConsumption

    /// What the store knows of `nonce` at `now`, changing nothing: `.usable` (issued here,
    /// unexpired, unused), `.used`, `.expired` or `.unknown`.
    func lookUpNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceState

    /// Consumes `nonce` as ``consumeNonce(_:now:)`` does and, only when this caller consumed it,
    /// appends `draft` as ``appendAudit(_:)`` does, in one transaction: both or neither. The
    /// release path spends its nonce and records its outcome with this one commit.
    func consumeNonce(_ nonce: [UInt8], now: Date, appending draft: AuditDraft) async throws(KeyReleaseError) -> NonceSpend

    /// Stores the escrowed envelope for a dataset root, replacing one only of a lower
    /// ``EscrowEntry/version``; otherwise throws `.escrowStale` and changes nothing.
    func putEscrow(_ entry: EscrowEntry) async throws(KeyReleaseError)

    /// Deletes the nonces that expired before `cutoff`; returns how many.
    @discardableResult
    func purgeNonces(expiredBefore cutoff: Date) async throws(KeyReleaseError) -> Int

    /// The escrowed envelope for `datasetRoot`, or nil.
    func escrow(datasetRoot: [UInt8]) async throws(KeyReleaseError) -> EscrowEntry?

    /// Appends a record to the audit chain atomically: reads the current head, sets the
    /// record's `previousHash` to it (32 zero bytes for the first record) and its `sequence`
    /// to head + 1, computes its hash, and inserts it, all in one transaction, so concurrent
    /// appends from several replicas never fork the chain. Returns the stored record.
    func appendAudit(_ draft: AuditDraft) async throws(KeyReleaseError) -> AuditRecord

    /// The audit record whose hash is `hash`, or nil.
    func auditRecord(hash: [UInt8]) async throws(KeyReleaseError) -> AuditRecord?

    /// Audit records in chain order (sequence ascending), `limit` at most, starting after
    /// `afterSequence` (0: from the first).
    func auditRecords(afterSequence: Int64, limit: Int) async throws(KeyReleaseError) -> [AuditRecord]

    /// Closes connections. Further calls throw `.storeUnavailable`.
    func close() async
}

/// A nonce handed out by `GET /v1/challenge`.
public struct IssuedNonce: Sendable, Hashable {
    /// 32 random bytes.
    public let nonce: [UInt8]
    /// When it was issued (the evidence's age is measured from here).
    public let issuedAt: Date
    /// After this instant it is refused.
    public let expiresAt: Date

    /// Creates a record of an issued nonce.
    public init(nonce: [UInt8], issuedAt: Date, expiresAt: Date) {
        self.nonce = nonce
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// The outcome of ``ReleaseStore/consumeNonce(_:now:)``.
public enum NonceConsumption: Sendable, Hashable {
    /// This caller consumed it; it was issued at `issuedAt`.
    case consumed(issuedAt: Date)
    /// Someone consumed it before.
    case alreadyUsed
    /// It expired before use.
    case expired
    /// Never issued (or issued by another service).
    case unknown
}

/// The outcome of ``ReleaseStore/lookUpNonce(_:now:)``.
public enum NonceState: Sendable, Hashable {
    /// Issued at `issuedAt`, unexpired and unused.
    case usable(issuedAt: Date)
    /// Already consumed.
    case used
    /// Expired unused.
    case expired
    /// Never issued (or issued by another service).
    case unknown
}

/// The outcome of ``ReleaseStore/consumeNonce(_:now:appending:)``.
public struct NonceSpend: Sendable, Hashable {
    /// What happened to the nonce.
    public let consumption: NonceConsumption
    /// The appended record: present exactly when `consumption` is `.consumed`.
    public let record: AuditRecord?

    /// Creates an outcome.
    public init(consumption: NonceConsumption, record: AuditRecord?) {
        self.consumption = consumption
        self.record = record
    }
}

/// An escrowed key envelope for one dataset.
public struct EscrowEntry: Sendable, Hashable {
    /// The dataset's 0G merkle root (32 bytes).
    public let datasetRoot: [UInt8]
    /// The 105-byte secp256k1 ECIES envelope sealed to the service's escrow key.
    public let envelope: [UInt8]
    /// The on-chain owner that signed the upload (20 bytes).
    public let owner: [UInt8]
    /// The owner's EIP-191 signature over the upload (65 bytes).
    public let signature: [UInt8]
    /// When it was stored.
    public let storedAt: Date
    /// The owner's version of this upload (signed with it), 1 or more: a later upload must
    /// carry a greater one.
    public let version: UInt64

    /// Creates an entry.
    public init(datasetRoot: [UInt8], envelope: [UInt8], owner: [UInt8], signature: [UInt8], storedAt: Date, version: UInt64) {
        self.version = version
        self.datasetRoot = datasetRoot
        self.envelope = envelope
        self.owner = owner
        self.signature = signature
        self.storedAt = storedAt
    }
}
