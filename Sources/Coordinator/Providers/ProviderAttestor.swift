import Attestation
import AttestationCollateral
import AsyncHTTPClient
import ByteEncoding
import EVMCrypto
import Foundation
import NIOCore
import ReleaseProtocol

/// A provider node as the operator configured it: where it is, which TEE it must run in, and
/// the policies its evidence must pass (any one of them).
public struct ConfiguredProvider: Sendable {
    /// The node's base URL.
    public let url: String
    /// The platform its evidence must be (a node that answers with another is refused).
    public let platform: Platform
    /// The policies; an empty set refuses every node (fails closed).
    public let policies: PolicySet

    /// Creates a configured node.
    public init(url: String, platform: Platform, policies: PolicySet) {
        self.url = url
        self.platform = platform
        self.policies = policies
    }
}

/// A provider node whose evidence verified and passed a policy, bound to the coordinator's
/// fresh nonce: the only kind of node a job is dispatched to.
public struct AttestedNode: Sendable, Hashable {
    /// The node's base URL.
    public let url: String
    /// The node's attested signer: dispatch tickets name it, result manifests must be signed by it.
    public let signer: Address
    /// The platform its evidence came from.
    public let platform: Platform
    /// The name of the policy that accepted it.
    public let policyName: String
    /// When the coordinator verified it (the nonce was minted then).
    public let verifiedAt: Date
    /// Tasks the node had in Init…Training when asked, just after verification.
    public let pending: Int

    /// Creates a record.
    public init(url: String, signer: Address, platform: Platform, policyName: String, verifiedAt: Date, pending: Int) {
        self.url = url
        self.signer = signer
        self.platform = platform
        self.policyName = policyName
        self.verifiedAt = verifiedAt
        self.pending = pending
    }
}

/// Provider selection's check (DESIGN.md §2, zerog.md §2.6): ask a node for a quote over a fresh
/// random 32-byte nonce, verify its evidence (``QuoteVerification`` loads collateral, then
/// `EvidenceVerifier`) with the expected binding
/// `.reportData(NodeQuoteBinding(signer: provider_signer, nonce).reportData)`, check the
/// platform and judge the claims against the node's ``PolicySet``.
///
/// Fails closed: every failure is ``CoordinatorError/Code/providerUntrusted`` with the
/// verifier's or the policy's code in the message, except a node that cannot be reached
/// (``CoordinatorError/Code/providerUnavailable``) or answers nonsense
/// (``CoordinatorError/Code/providerFailed``). Collateral handling is the key-release service's:
/// configured files or the network source decide, and collateral the node bundles is used only
/// when at least as new, so a node cannot pick an old TCB verdict.
public struct ProviderAttestor: Sendable {
    /// Collateral sources, verifiers and trust anchors (per-call fields are set by ``judge(_:nonce:provider:now:)``).
    public let verification: QuoteVerification
    /// The deadline of each call to a node.
    public let timeout: TimeAmount
    let client: HTTPClient

    /// An attestor verifying with `verification`.
    public init(verification: QuoteVerification, timeout: TimeAmount = .seconds(30), client: HTTPClient = .shared) {
        self.verification = verification
        self.timeout = timeout
        self.client = client
    }

    /// Fetches `provider`'s quote over a fresh nonce, judges it at `now`, and reads its pending count.
    public func attest(_ provider: ConfiguredProvider, now: Date = Date()) async throws(CoordinatorError) -> AttestedNode {
        var rng = SystemRandomNumberGenerator()
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let node = ProviderClient(url: provider.url, timeout: timeout, client: client)
        let quote = try await node.quote(nonce: nonce)
        let policyName = try await judge(quote, nonce: nonce, provider: provider, now: now)
        let pending = try await node.pendingCount()
        return AttestedNode(url: node.url, signer: quote.signer, platform: quote.evidence.platform, policyName: policyName, verifiedAt: now, pending: pending)
    }

    /// Judges a node's answer to `nonce`: the nonce echoed, the platform, the evidence verified
    /// with the node-quote binding, a policy that accepts the claims. Returns that policy's name.
    public func judge(_ quote: NodeQuote, nonce: [UInt8], provider: ConfiguredProvider, now: Date) async throws(CoordinatorError) -> String {
        func untrusted(_ why: String) -> CoordinatorError { CoordinatorError(.providerUntrusted, "provider \(provider.url): \(why)") }
        // Why both checks: the echo catches a careless replay early with a clear message; the
        // binding below is what makes a replay impossible (it hashes our nonce, not theirs).
        guard quote.nonce == nonce else { throw untrusted("answered for another nonce (a replayed quote)") }
        guard quote.evidence.platform == provider.platform else {
            throw untrusted("evidence is \(quote.evidence.platform.rawValue), but the node is configured as \(provider.platform.rawValue)")
        }
        var v = verification
        v.now = now
        v.platform = provider.platform
        v.eventLog = nil
        v.bundledCollateral = .onlyIfAtLeastAsNew
        v.expectedBinding = .reportData(NodeQuoteBinding(signer: quote.signer, nonce: nonce).reportData)
        v.attestationKeyAnchoring = .required(pins: provider.policies.attestationKeyPins)
        let verified: VerifiedEvidence
        do { verified = try await v.verified(bundle: quote.evidence) } catch {
            throw untrusted("evidence does not verify: \(error.code.rawValue): \(error.message)")
        }
        // The evidence binds a nonce minted at `now`: it cannot be older than that.
        switch provider.policies.decide(verified.policyInput(evidenceTime: now), now: now) {
        case .accepted(let i):
            return provider.policies.policies[i].name
        case .refused(let i, let failures, let reason):
            let name = i.map { provider.policies.policies[$0].name } ?? "-"
            throw untrusted("policy \(name) refuses the evidence: \(reason.code.rawValue) (\(failures.map(\.description).joined(separator: "; ")))")
        }
    }
}
