import Attestation
import AttestationCollateral
import ByteEncoding
import Coordinator
import EVMCrypto
import Foundation
import ReleaseProtocol
import TestSupport
import Testing

/// Provider selection's check against a loopback node whose `/v1/quote` answers real TDX
/// evidence from the test PKI, verified for real against that PKI's pinned root: the honest
/// node is admitted with its signer; evidence binding another signer, a replayed quote (echoed
/// or verbatim), a measurement a policy pins otherwise, a platform other than configured, and
/// an empty policy set are each refused as providerUntrusted, saying why.
@Suite("Coordinator: provider attestation", .serialized)
struct ProviderAttestorTests {
    static let pki = try! TDXTestPKI()
    static let now = TDXTestPKI.validInstant
    static let attestor = ProviderAttestor(
        verification: QuoteVerification(collateralSource: pki.collateralSource, verifier: TDX.QuoteVerifier(trustAnchor: pki.root)), timeout: .seconds(10))
    static let openPolicy = try! Policy(yaml: TDXTestPKI.policyYAML(name: "test-tdx"))
    /// RTMR3 pinned to zeros (what the honest node's quotes carry).
    static let pinnedPolicy = try! Policy(
        yaml: TDXTestPKI.policyYAML(name: "test-tdx-rtmr3").replacingOccurrences(of: "rtmr3: unchecked", with: "rtmr3: \"\(String(repeating: "0", count: 96))\""))

    static func node(_ quote: LoopbackTaskProvider.QuoteMode = .honest) throws -> LoopbackTaskProvider {
        var script = LoopbackTaskProvider.Script()
        script.quote = quote
        return try LoopbackTaskProvider(pki: pki, chainID: 31337, dataPolicy: .zero, script: script)
    }

    static func configured(_ node: LoopbackTaskProvider, platform: Platform = .tdx, policies: [Policy] = [openPolicy]) -> ConfiguredProvider {
        ConfiguredProvider(url: node.baseURL, platform: platform, policies: PolicySet(policies))
    }

    @Test("the honest node is admitted: its signer, the accepting policy, its pending count")
    func honest() async throws {
        let node = try Self.node()
        defer { node.shutdown() }
        let attested = try await Self.attestor.attest(Self.configured(node, policies: [Self.pinnedPolicy]), now: Self.now)
        #expect(attested.signer == node.signerAddress)
        #expect(attested.policyName == "test-tdx-rtmr3")
        #expect(attested.platform == .tdx && attested.url == node.baseURL && attested.verifiedAt == Self.now && attested.pending == 0)
        // Each attestation asks with a fresh 32-byte nonce.
        _ = try await Self.attestor.attest(Self.configured(node), now: Self.now)
        let nonces = node.requests.filter { $0.path == "/v1/quote" }.compactMap { $0.query["nonce"] }
        #expect(nonces.count == 2 && Set(nonces).count == 2 && nonces.allSatisfy { $0.count == 66 })
    }

    @Test("evidence binding another signer than the answer names is refused (bindingMismatch)")
    func otherSigner() async throws {
        let node = try Self.node(.wrongBinding(Secp256k1.PrivateKey().publicKey.address))
        defer { node.shutdown() }
        let e = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node), now: Self.now) }
        #expect(e.code == .providerUntrusted && e.message.contains("bindingMismatch"))
    }

    @Test("a quote recorded for another nonce is refused, echoed or verbatim", arguments: [true, false])
    func replay(echoRequested: Bool) async throws {
        let node = try Self.node(.replayed(nonce: [UInt8](repeating: 7, count: 32), echoRequested: echoRequested))
        defer { node.shutdown() }
        let e = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node), now: Self.now) }
        #expect(e.code == .providerUntrusted)
        #expect(e.message.contains(echoRequested ? "bindingMismatch" : "another nonce"))
    }

    @Test("a measurement the policy pins otherwise is refused, naming the policy and measurementMismatch")
    func policyMismatch() async throws {
        let node = try Self.node(.wrongMeasurement)
        defer { node.shutdown() }
        // The open policy accepts it: what fails below is the pinned measurement alone.
        _ = try await Self.attestor.attest(Self.configured(node), now: Self.now)
        let e = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node, policies: [Self.pinnedPolicy]), now: Self.now) }
        #expect(e.code == .providerUntrusted && e.message.contains("measurementMismatch") && e.message.contains("test-tdx-rtmr3"))
    }

    @Test("another platform than configured, no policy, or collateral out of date are refused")
    func otherRefusals() async throws {
        let node = try Self.node()
        defer { node.shutdown() }
        let e = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node, platform: .snp), now: Self.now) }
        #expect(e.code == .providerUntrusted && e.message.contains("configured as snp"))
        let e2 = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node, policies: []), now: Self.now) }
        #expect(e2.code == .providerUntrusted && e2.message.contains("platformNotAllowed"))
        // A year later the test PKI's collateral has expired: the evidence does not verify.
        let e3 = try await #require(throws: CoordinatorError.self) { try await Self.attestor.attest(Self.configured(node), now: Self.now.addingTimeInterval(365 * 86400)) }
        #expect(e3.code == .providerUntrusted && e3.message.contains("does not verify"))
    }

    @Test("an unreachable node is providerUnavailable, not untrusted")
    func unreachable() async throws {
        let node = try Self.node()
        node.crash()
        // AsyncHTTPClient keeps retrying a refused connection until the call's deadline.
        let quick = ProviderAttestor(verification: Self.attestor.verification, timeout: .seconds(1))
        let e = try await #require(throws: CoordinatorError.self) { try await quick.attest(Self.configured(node), now: Self.now) }
        #expect(e.code == .providerUnavailable)
    }
}
