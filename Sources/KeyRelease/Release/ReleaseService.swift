import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import Logging
import ReleaseProtocol

/// A policy file as loaded: its rules, its name and the SHA-256 of its bytes (recorded in audit).
public struct LoadedPolicy: Sendable {
    /// The rules.
    public let policy: Policy
    /// The file path (or a label).
    public let source: String
    /// SHA-256 of the file's bytes.
    public let digest: [UInt8]

    /// Loads and checks a policy file (YAML or JSON).
    public init(file path: String) throws(KeyReleaseError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw KeyReleaseError(.configInvalid, "cannot read policy file \(path)") }
        try self.init(text: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Loads policy text.
    public init(text: String, source: String) throws(KeyReleaseError) {
        do { policy = try Policy(yaml: text) } catch { throw KeyReleaseError(.configInvalid, "policy \(source): \(error.message)") }
        self.source = source
        digest = Array(SHA256.hash(data: Data(text.utf8)))
    }
}

/// The key-release use cases (DESIGN.md §2 steps 2–4), independent of HTTP: issue challenges,
/// release a dataset key to fresh policy-approved evidence for a job granted on chain, accept
/// owner-signed escrow envelopes, and serve the audit log. Every decision fails closed: any
/// error on the way (store, chain, evidence, policy) refuses, and nothing is released unless
/// every check passed.
public final class ReleaseService: Sendable {
    /// Tunables.
    public struct Settings: Sendable {
        /// How long a challenge nonce stays usable.
        public var nonceTTL: TimeInterval = 120
        /// The clock (tests pin it).
        public var clock: @Sendable () -> Date = { Date() }
        /// The longest a dispatch ticket may still be valid for when presented (its expiry at
        /// most this far ahead): a leaked ticket is useless after it.
        public var maxTicketLifetime: TimeInterval = 3600
        /// Challenges per client address: a burst, refilled at `perSecond`. Nil: unlimited.
        public var challengeRate: (burst: Int, perSecond: Double)? = (burst: 60, perSecond: 2)
        /// How often expired nonces are purged (checked on each challenge).
        public var noncePurgeInterval: TimeInterval = 30
        /// Creates defaults.
        public init() {}
    }

    /// The store (nonces, escrow, audit).
    public let store: any ReleaseStore
    /// The chain view.
    public let registry: any JobRegistry
    /// Policies; evidence is accepted when one of them accepts it.
    public let policies: [LoadedPolicy]
    /// The same policies as a set that decides.
    let policySet: PolicySet
    /// The policies' AK pins, gathered once (every TPM release needs them).
    let attestationKeyPins: Set<String>
    /// Evidence verification setup (collateral, AMD certificates, AK roots, caches); `now`,
    /// `expectedBinding` and the AK pins are set per request.
    public let verification: QuoteVerification
    /// The escrow key.
    let escrowKey: EscrowKey
    /// Challenge budgets per client address.
    let challengeLimiter: RateLimiter
    /// When expired nonces were last purged.
    let noncePurge = PeriodicGate()
    /// Tunables.
    public let settings: Settings
    /// Metrics.
    public let metrics: ReleaseMetrics
    /// The logger (request ids ride in metadata).
    public let logger: Logger

    /// Creates the service. `policies` must not be empty: with no policy nothing could be judged.
    public init(
        store: any ReleaseStore, registry: any JobRegistry, policies: [LoadedPolicy], verification: QuoteVerification,
        escrowKey: EscrowKey, settings: Settings = Settings(), metrics: ReleaseMetrics = ReleaseMetrics(),
        logger: Logger = Logger(label: "keyrelease")
    ) throws(KeyReleaseError) {
        guard !policies.isEmpty else { throw KeyReleaseError(.configInvalid, "no policy files: the service would refuse every release") }
        self.store = store
        self.registry = registry
        self.policies = policies
        policySet = PolicySet(policies.map(\.policy))
        attestationKeyPins = policySet.attestationKeyPins
        var v = verification
        if v.verifier.cache == nil { v.verifier = v.verifier.with(cache: VerificationCache()) }
        v.bundledCollateral = .onlyIfAtLeastAsNew
        // Never the lab switch: a fresh verifier with only the configured roots.
        v.tpmVerifier = TPM.QuoteVerifier(akRoots: v.tpmVerifier.akRoots, cache: v.tpmVerifier.cache ?? VerificationCache())
        // TPM evidence is accepted only through an anchor: refuse to start when a policy allows
        // TPM and nothing could anchor an AK for it.
        for p in policies {
            guard let tpm = p.policy.platforms[.tpm], tpm.attestationKeys == nil else { continue }
            guard !v.tpmVerifier.akRoots.isEmpty || v.akHardwareBinding else {
                throw KeyReleaseError(
                    .configInvalid,
                    "policy \(p.source) accepts TPM evidence but nothing can anchor an attestation key: configure verification.akRoots, "
                        + "verification.akHardwareBinding, or pin tpm.attestationKeys in the policy")
            }
        }
        self.verification = v
        self.escrowKey = escrowKey
        self.settings = settings
        challengeLimiter = RateLimiter(burst: settings.challengeRate?.burst, perSecond: settings.challengeRate?.perSecond ?? 0)
        self.metrics = metrics
        self.logger = logger
    }

    /// The escrow public key.
    public var escrowPublicKey: Secp256k1.PublicKey { escrowKey.publicKey }

    // MARK: - Challenge

    /// Issues a single-use nonce, kept in the store so every replica honours it once. `client`
    /// (the peer address) is charged against the challenge budget; expired nonces are purged
    /// every ``Settings/noncePurgeInterval``, so strangers cannot grow the store without bound.
    public func challenge(client: String? = nil) async throws(KeyReleaseError) -> ChallengeResponse {
        let now = settings.clock()
        if let client, !challengeLimiter.admit(client, now: now) {
            metrics.unauditedRefusal(.rateLimited)
            throw KeyReleaseError(.rateLimited, "client \(client) is over its challenge budget")
        }
        if noncePurge.due(now: now, every: settings.noncePurgeInterval) {
            // A nonce a minute past expiry decides nothing any more (spent ones included).
            let purged = try await store.purgeNonces(expiredBefore: now.addingTimeInterval(-60))
            if purged > 0 { logger.debug("purged expired nonces", metadata: ["count": "\(purged)"]) }
        }
        var nonce = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = rng.next() }
        let issued = IssuedNonce(nonce: nonce, issuedAt: now, expiresAt: now.addingTimeInterval(settings.nonceTTL))
        try await store.insertNonce(issued)
        return ChallengeResponse(nonce: Hex.prefixed(nonce), expiresAt: issued.expiresAt.iso8601)
    }

    // MARK: - Release

    /// Decides one release request. Every outcome, release or refusal, is appended to the audit
    /// chain (best effort for refusals when the store itself is down).
    public func release(body: some DataProtocol, requestID: String) async throws(KeyReleaseError) -> ReleaseResponse {
        let now = settings.clock()
        var draft = AuditDraft(timeMillis: Self.millis(now), outcome: "refused", requestID: requestID)
        var spendable: [UInt8]?
        do {
            let request = try ReleaseRequest.decode(body)
            return try await release(request, requestID: requestID, now: now, draft: &draft, spendable: &spendable)
        } catch {
            draft.code = error.code.rawValue
            guard spendable != nil else {
                // Refused before naming a valid unspent nonce: anyone can send these, so they are
                // logged and counted, never appended to the permanent audit chain.
                metrics.unauditedRefusal(error.code)
                logger.notice("refused", metadata: ["requestId": "\(requestID)", "code": "\(error.code.rawValue)", "detail": "\(error.message)"])
                throw error
            }
            if error.code == .collateralUnavailable {
                // Not a judgement of the evidence: the nonce stays usable and nothing is audited,
                // so the client retries the same request once the collateral service is back.
                logger.warning("collateral unavailable", metadata: ["requestId": "\(requestID)", "detail": "\(error.message)"])
                throw error
            }
            await auditRefusal(draft, error: error, spending: spendable, now: now)
            throw error
        }
    }

    /// The release steps. The nonce is looked up first and spent at the end, in the same
    /// transaction that appends the outcome's audit record (one commit per request); a refusal
    /// after the lookup spends it too (`spendable`), so every nonce decides exactly one request.
    /// The chain and the escrow are read while the evidence is verified; the first failure in
    /// step order (evidence, chain, escrow) is the one reported.
    private func release(
        _ raw: ReleaseRequest, requestID: String, now: Date, draft: inout AuditDraft,
        spendable: inout [UInt8]?
    ) async throws(KeyReleaseError) -> ReleaseResponse {
        draft.jobID = raw.jobId
        draft.datasetRoot = raw.datasetRoot
        draft.signerPublicKey = raw.signerPublicKey
        draft.hpkePublicKey = raw.hpkePublicKey
        let r = try ParsedReleaseRequest(raw)
        draft.jobID = Hex.prefixed(r.jobID)
        draft.datasetRoot = Hex.prefixed(r.datasetRoot)
        draft.evidenceDigest = Hex.prefixed(r.evidenceDigest)
        draft.platform = r.evidence.platform.rawValue

        // 1. The nonce: issued here, unexpired, unused (spent atomically in step 6).
        let issuedAt: Date
        switch try await store.lookUpNonce(r.nonce, now: now) {
        case .usable(let at): issuedAt = at
        case .used: throw KeyReleaseError(.nonceUsed, "the nonce was already used")
        case .expired: throw KeyReleaseError(.nonceExpired, "the nonce expired")
        case .unknown: throw KeyReleaseError(.nonceUnknown, "the nonce was not issued by this service")
        }
        spendable = r.nonce

        // 4–5 (started now, checked after 2–3): the chain, and the escrowed envelope.
        async let chain = Self.outcome { () async throws(KeyReleaseError) in try await self.checkChain(r, now: now) }
        async let escrowed = Self.outcome { () async throws(KeyReleaseError) in try await self.store.escrow(datasetRoot: r.datasetRoot) }

        // 2–3. Evidence: verifies, binds this request, satisfies a policy.
        let started = ContinuousClock.now
        let accepted = try await judge(r, issuedAt: issuedAt, now: now, draft: &draft)
        metrics.verification(ContinuousClock.now - started)
        draft.policyName = accepted.policy.name
        draft.policyDigest = Hex.prefixed(accepted.digest)

        // 4. The chain: the job is live, for this dataset, and dispatched to this node.
        try await chain.get()

        // 5. The escrowed envelope, opened in memory only.
        guard let entry = try await escrowed.get() else {
            throw KeyReleaseError(.escrowMissing, "no envelope is escrowed for dataset \(Hex.prefixed(r.datasetRoot))")
        }
        let opened: (datasetKey: SymmetricKey, datasetIV: [UInt8])
        do { opened = try KeyEnvelope(bytes: entry.envelope).open(with: escrowKey.privateKey) } catch {
            throw KeyReleaseError(.internalError, "the escrowed envelope for \(Hex.prefixed(r.datasetRoot)) does not open")
        }

        // 6. Spend the nonce and append the audit record in one transaction (its hash is bound
        // into the sealing context), then seal. A concurrent request that spent the nonce first wins.
        draft.outcome = "released"
        draft.code = nil
        let spend = try await store.consumeNonce(r.nonce, now: now, appending: draft)
        guard let record = spend.record else {
            spendable = nil  // spent already, or expired meanwhile: nothing left to spend
            draft.outcome = "refused"
            switch spend.consumption {
            case .expired: throw KeyReleaseError(.nonceExpired, "the nonce expired")
            case .unknown: throw KeyReleaseError(.nonceUnknown, "the nonce was not issued by this service")
            case .alreadyUsed, .consumed: throw KeyReleaseError(.nonceUsed, "the nonce was already used")
            }
        }
        let info = SealedDatasetKey.info(jobID: r.jobID, datasetRoot: r.datasetRoot, attestationRef: record.hash)
        let recipient = try r.hpkeKey
        let sealed: SealedDatasetKey
        do { sealed = try SealedDatasetKey.seal(key: opened.datasetKey, iv: opened.datasetIV, to: recipient, info: info) } catch {
            throw KeyReleaseError(.internalError, error.message)
        }
        metrics.released()
        logger.info(
            "released",
            metadata: [
                "requestId": "\(requestID)", "jobId": "\(Hex.prefixed(r.jobID))",
                "datasetRoot": "\(Hex.prefixed(r.datasetRoot))", "attestationRef": "\(Hex.prefixed(record.hash))",
            ])
        return ReleaseResponse(
            jobId: Hex.prefixed(r.jobID), datasetRoot: Hex.prefixed(r.datasetRoot), attestationRef: Hex.prefixed(record.hash),
            sealedKey: sealed, hpkeSuite: "DHKEM(X25519, HKDF-SHA256)/HKDF-SHA256/AES-256-GCM", requestId: requestID)
    }

    /// Verifies the evidence (binding and AK anchor included, ``EvidenceVerifier``) and finds a
    /// policy that accepts it (``PolicySet``).
    private func judge(_ r: ParsedReleaseRequest, issuedAt: Date, now: Date, draft: inout AuditDraft) async throws(KeyReleaseError) -> LoadedPolicy {
        var v = verification
        v.now = now
        v.platform = nil
        v.eventLog = nil
        v.expectedBinding = .reportData(r.binding.reportData)
        v.attestationKeyAnchoring = .required(pins: attestationKeyPins)
        let verified: VerifiedEvidence
        do { verified = try await v.verified(bundle: r.evidence) } catch {
            throw Self.refusal(for: error, platform: r.evidence.platform)
        }
        let input = verified.policyInput(evidenceTime: issuedAt)
        draft.claims = Self.summary(input)
        if let ak = input.attestationKey {
            // The key that earned the release, so it can be traced (and revoked) later.
            draft.claims["akName"] = ak.name
            draft.claims["akKeyDigest"] = ak.keyDigest
            if let subject = ak.certificateSubject { draft.claims["akCertificate"] = subject }
            if let anchor = ak.anchor { draft.claims["akAnchor"] = anchor }
        }
        switch policySet.decide(input, now: now) {
        case .accepted(let i):
            return policies[i]
        case .refused(let i, let failures, let reason):
            let messages = failures.map(\.message).joined(separator: "; ")
            if let i {
                draft.policyName = policies[i].policy.name
                draft.policyDigest = Hex.prefixed(policies[i].digest)
            }
            draft.claims["policyFailures"] = messages
            throw KeyReleaseError(Self.refusalCode(reason.code), "policy \(draft.policyName ?? "-") refuses the evidence: \(messages)")
        }
    }

    /// The service's code for evidence that does not verify: each attack on the TPM anchor has
    /// its own; a collateral outage is 503 (retry), not a refusal of the evidence.
    static func refusal(for error: AttestationError, platform: Platform) -> KeyReleaseError {
        let code: KeyReleaseError.Code
        switch error.code {
        case .nonceMismatch, .bindingMismatch:
            return KeyReleaseError(.bindingMismatch, "evidence does not bind this request: \(error.message)")
        case .akUntrusted: code = .akUntrusted
        case .collateralUnavailable: code = .collateralUnavailable
        case .akAttributesInvalid, .qualifiedSignerMismatch: code = .akNotRestricted
        case .akBindingMismatch: code = .akBindingInvalid
        case .untrustedRoot, .signingKeyMismatch, .certificateExpired, .certificateNotYetValid, .certificateSignatureInvalid,
            .certificateChainMalformed, .certificateRevoked:
            code = platform == .tpm ? .akCertificateInvalid : .evidenceInvalid
        default: code = .evidenceInvalid
        }
        return KeyReleaseError(code, "evidence does not verify: \(error.code.rawValue): \(error.message)")
    }

    /// The refusal code for a policy's most telling failure.
    static func refusalCode(_ code: ValidationFailure.Code) -> KeyReleaseError.Code {
        switch code {
        case .akUntrusted: .akUntrusted
        case .debugNotAllowed: .debugNotAllowed
        case .platformNotAllowed: .platformNotAllowed
        case .tcbStatusNotAccepted, .noMatchingTCBLevel, .tcbBelowMinimum: .tcbNotAccepted
        case .measurementMismatch: .measurementNotAllowed
        case .workloadNotAllowed: .workloadNotAllowed
        case .evidenceTooOld: .evidenceTooOld
        }
    }

    private func checkChain(_ r: ParsedReleaseRequest, now: Date) async throws(KeyReleaseError) {
        guard let job = try await registry.job(r.jobID) else { throw KeyReleaseError(.jobNotFound, "job \(Hex.prefixed(r.jobID)) does not exist on chain") }
        guard job.state == .granted || job.state == .running else {
            throw KeyReleaseError(.jobNotActive, "job \(Hex.prefixed(r.jobID)) is \(job.state), not Granted or Running")
        }
        guard job.datasetRoot == r.datasetRoot else {
            throw KeyReleaseError(.datasetMismatch, "job \(Hex.prefixed(r.jobID)) is for dataset \(Hex.prefixed(job.datasetRoot)), not \(Hex.prefixed(r.datasetRoot))")
        }
        // Proof that the requester holds the signer key the ticket names, before the ticket.
        let prover: Address
        do {
            prover = try Secp256k1.RecoverableSignature(rawRepresentation: r.signerProof)
                .recoverPublicKey(digest: MessageSigning.personalMessageHash(ReleaseRequest.possessionMessage(binding: r.binding))).address
        } catch { throw KeyReleaseError(.possessionInvalid, "signerProof does not recover") }
        guard prover == r.signerKey.address else { throw KeyReleaseError(.possessionInvalid, "signerProof is not by signerPublicKey") }
        guard r.ticketJobID == r.jobID, r.ticketDatasetRoot == r.datasetRoot else { throw KeyReleaseError(.ticketInvalid, "the dispatch ticket names another job or dataset") }
        guard r.ticket.node == r.signerKey.address else { throw KeyReleaseError(.ticketInvalid, "the dispatch ticket names node \(r.ticket.node), not this TEE's signer \(r.signerKey.address)") }
        guard r.ticket.expiry > UInt64(max(0, now.timeIntervalSince1970)) else { throw KeyReleaseError(.ticketInvalid, "the dispatch ticket expired") }
        guard Double(r.ticket.expiry) <= now.timeIntervalSince1970 + settings.maxTicketLifetime else {
            throw KeyReleaseError(.ticketInvalid, "the dispatch ticket is valid for longer than \(Int(settings.maxTicketLifetime)) s")
        }
        let chainID = try await registry.chainID()
        let signer: Address
        do { signer = try r.ticket.signer(of: r.ticketSignature, chainID: chainID, dataPolicy: registry.contract) } catch {
            throw KeyReleaseError(.ticketInvalid, "the dispatch ticket's signature does not recover")
        }
        guard signer == job.provider else { throw KeyReleaseError(.ticketSigner, "the dispatch ticket is signed by \(signer), not the job's provider \(job.provider)") }
    }

    /// Runs `body`, catching its error as a value (so it can run in an `async let`).
    private static func outcome<T: Sendable>(_ body: @Sendable () async throws(KeyReleaseError) -> T) async -> Result<T, KeyReleaseError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// Records a refusal; spends `nonce` in the same transaction when it is still unspent.
    func auditRefusal(_ draft: AuditDraft, error: KeyReleaseError, spending nonce: [UInt8]? = nil, now: Date? = nil) async {
        logger.notice("refused", metadata: ["requestId": "\(draft.requestID)", "code": "\(error.code.rawValue)", "detail": "\(error.message)"])
        do {
            if let nonce, try await store.consumeNonce(nonce, now: now ?? settings.clock(), appending: draft).record != nil { return }
            _ = try await store.appendAudit(draft)
        } catch {
            logger.error("refusal not audited", metadata: ["requestId": "\(draft.requestID)", "code": "\(error.code.rawValue)"])
        }
    }

    static func summary(_ input: PolicyInput) -> [String: String] {
        var claims = input.measurements
        claims["debug"] = input.debug ? "true" : "false"
        if let s = input.tcbStatus { claims["tcbStatus"] = s }
        for (k, v) in input.tcbComponents { claims["tcb.\(k)"] = String(v) }
        if let d = input.imageDigests { claims["imageDigests"] = d.joined(separator: ",") }
        if let c = input.codeHashes { claims["codeHashes"] = c.joined(separator: ",") }
        return claims
    }

    static func millis(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded(.down)) }

    // MARK: - Escrow

    /// Stores an owner's envelope: the upload must be signed (EIP-191) by the dataset's on-chain
    /// `policies(root).owner`, and the envelope must open under this service's escrow key.
    public func escrow(body: some DataProtocol, requestID: String) async throws(KeyReleaseError) {
        let upload: EscrowUpload
        try strictJSON(body, "escrow upload")
        do { upload = try JSONDecoder().decode(EscrowUpload.self, from: Data(body)) } catch { throw KeyReleaseError(.badRequest, "the body is not an escrow upload") }
        let root = try ParsedReleaseRequest.hex(upload.datasetRoot, "datasetRoot", count: 32)
        let envelope = try ParsedReleaseRequest.hex(upload.envelope, "envelope", count: KeyEnvelope.length)
        let signature = try ParsedReleaseRequest.hex(upload.signature, "signature", count: 65)
        let signer: Address
        do {
            signer = try Secp256k1.RecoverableSignature(rawRepresentation: signature)
                .recoverPublicKey(digest: MessageSigning.personalMessageHash(EscrowUpload.message(datasetRoot: root, envelope: envelope, version: upload.version))).address
        } catch { throw KeyReleaseError(.escrowSignature, "the escrow signature does not recover") }
        guard let owner = try await registry.owner(ofDataset: root) else {
            throw KeyReleaseError(.escrowSignature, "dataset \(Hex.prefixed(root)) is not registered on chain")
        }
        guard signer == owner else { throw KeyReleaseError(.escrowSignature, "the escrow upload is signed by \(signer), not the dataset owner \(owner)") }
        do { _ = try KeyEnvelope(bytes: envelope).open(with: escrowKey.privateKey) } catch {
            throw KeyReleaseError(.escrowEnvelope, "the envelope does not open under this service's escrow key")
        }
        guard upload.version >= 1, upload.version <= UInt64(Int64.max) else { throw KeyReleaseError(.badRequest, "escrow version must be 1…2^63−1") }
        try await store.putEscrow(EscrowEntry(datasetRoot: root, envelope: envelope, owner: owner.bytes, signature: signature, storedAt: settings.clock(), version: upload.version))
        logger.info("escrowed", metadata: ["requestId": "\(requestID)", "datasetRoot": "\(Hex.prefixed(root))", "owner": "\(owner)", "version": "\(upload.version)"])
    }

    // MARK: - Audit and health

    /// The public audit record for `ref` (`0x`-hex hash).
    public func auditRecord(ref: String) async throws(KeyReleaseError) -> AuditRecord {
        let hash = try ParsedReleaseRequest.hex(ref, "attestationRef", count: 32)
        guard let r = try await store.auditRecord(hash: hash) else { throw KeyReleaseError(.notFound, "no audit record \(ref)") }
        return r
    }

    /// Throws unless the store and the chain both answer.
    public func ready() async throws(KeyReleaseError) {
        try await store.ping()
        try await registry.ping()
    }
}
