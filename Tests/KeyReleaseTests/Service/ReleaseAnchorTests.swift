import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import Logging
import ProviderNode
import ReleaseProtocol
import TestSupport
import Testing

/// The key-release service against forged TPM evidence (a software key, genuine public PCR
/// values and event log copied, the right binding) and against weak HPKE keys: each refused with
/// its own code, nothing released; genuine swtpm evidence released through every anchor kind,
/// and the audit record names the AK that earned it.
@Suite("Key-release service: TPM anchors and weak keys", .serialized)
struct ReleaseAnchorTests {
    /// A second service on `w`'s store and chain, judging with the world's policy (pinned or not)
    /// and the verification `configure` sets up, served on another loopback port.
    static func service(_ w: ReleaseWorld, pinned: Bool, configure: (inout QuoteVerification) throws -> Void) async throws -> String {
        var policy = w.policy
        if !pinned { policy.platforms[.tpm]?.attestationKeys = nil }
        var verification = QuoteVerification()
        try configure(&verification)
        let clock = w.clock
        var settings = ReleaseService.Settings()
        settings.clock = { clock.now }
        settings.challengeRate = nil
        let service = try ReleaseService(
            store: w.store, registry: ChainJobRegistry(rpc: w.proxy.url, contract: try Address(w.chain.info.dataPolicy)),
            policies: [try LoadedPolicy(text: policy.yaml, source: "swtpm.yaml")], verification: verification,
            escrowKey: w.escrowKey, settings: settings)
        return try await w.serve(service)
    }

    /// The genuine evidence for a fresh challenge, and its binding.
    static func genuine(_ w: ReleaseWorld, _ d: Dataset, _ node: NodeKeys) async throws -> (nonce: [UInt8], binding: ReleaseBinding, bundle: EvidenceBundle) {
        let nonce = try await w.challenge()
        let binding = ReleaseBinding(nonce: nonce, jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
        return (nonce, binding, try await w.producer.quote(nonce: binding.tpmExtraData))
    }

    /// Posts a request carrying `tpm` in place of the genuine quote and expects `code`.
    static func expectForgedRefused(
        _ w: ReleaseWorld, _ d: Dataset, base: String? = nil, code: String, status: Int = 403,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ make: (EvidenceBundle, ReleaseBinding) throws -> EvidenceBundle
    ) async throws {
        let node = NodeKeys()
        let (nonce, binding, bundle) = try await genuine(w, d, node)
        let forged = try make(bundle, binding)
        try await ReleaseServiceTests.expectRefusal(
            w, try await w.request(d, nonce: nonce, node: node, evidence: forged), code: code, status: status,
            base: base, sourceLocation: sourceLocation)
    }

    static func replacing(_ bundle: EvidenceBundle, tpm: EvidenceBundle.TPMEvidence) -> EvidenceBundle {
        var b = bundle
        b.tpm = tpm
        return b
    }

    @Test("software-key quotes (ECC and RSA, TPM public area and bare key, with and without akCertificates: []) are refused, with or without AK roots")
    func softwareKeyQuotesAreRefused() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let ca = try AKTestCA()
            let withRoots = try await Self.service(w, pinned: false) { $0.tpmVerifier = TPM.QuoteVerifier(akRoots: [ca.root]) }
            for rsa in [false, true] {
                let forger = try ForgedTPMQuote(rsa: rsa)
                for certs in [nil, [Data]()] as [[Data]?] {
                    for base in [nil, withRoots] {
                        try await Self.expectForgedRefused(w, d, base: base, code: "ak_untrusted") { b, binding in
                            Self.replacing(b, tpm: try forger.forge(like: b.tpm!, extraData: binding.tpmExtraData, akCertificates: certs))
                        }
                        try await Self.expectForgedRefused(w, d, base: base, code: "ak_not_restricted") { b, binding in
                            Self.replacing(b, tpm: try forger.forge(like: b.tpm!, extraData: binding.tpmExtraData, akPublic: forger.spkiPEM, akCertificates: certs))
                        }
                    }
                }
            }
            let records = try await w.store.auditRecords(afterSequence: 0, limit: 1000)
            #expect(records.count >= 16 && records.allSatisfy { $0.draft.outcome == "refused" })
        }
    }

    @Test("AK certificates: another key, expired, another CA, a non-restricted AK are refused; the swtpm AK certified by the configured CA is released and audited")
    func certificateAnchor() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let ca = try AKTestCA()
            let base = try await Self.service(w, pinned: false) { $0.tpmVerifier = TPM.QuoteVerifier(akRoots: [ca.root]) }
            let forger = try ForgedTPMQuote()
            // The forger's key certified by a CA the service does not trust.
            try await Self.expectForgedRefused(w, d, base: base, code: "ak_certificate_invalid") { b, binding in
                let rogue = try AKTestCA(commonName: "another CA")
                return Self.replacing(
                    b,
                    tpm: try forger.forge(
                        like: b.tpm!, extraData: binding.tpmExtraData,
                        akCertificates: [Data(try rogue.issue(for: try forger.tpmtPublic()))]))
            }
            // The genuine AK's certificate presented with the forger's key.
            try await Self.expectForgedRefused(w, d, base: base, code: "ak_certificate_invalid") { b, binding in
                Self.replacing(b, tpm: try forger.forge(like: b.tpm!, extraData: binding.tpmExtraData, akCertificates: [Data(try ca.issue(for: [UInt8](b.tpm!.akPublic)))]))
            }
            // Genuine evidence with an expired certificate, one from another CA, one for another key.
            for cert in [
                try ca.issue(for: [UInt8](try await w.producer.quote(nonce: [1]).tpm!.akPublic), notBefore: Date().addingTimeInterval(-7200), notAfter: Date().addingTimeInterval(-60)),
                try AKTestCA(commonName: "another CA").issue(for: [UInt8](try await w.producer.quote(nonce: [1]).tpm!.akPublic)),
                try ca.issue(for: try forger.tpmtPublic()),
            ] {
                try await Self.expectForgedRefused(w, d, base: base, code: "ak_certificate_invalid") { b, _ in
                    var t = b.tpm!
                    t.akCertificates = [Data(cert)]
                    return Self.replacing(b, tpm: t)
                }
            }
            // A certified key that is not restricted: the TPM would sign anything with it.
            try await Self.expectForgedRefused(w, d, base: base, code: "ak_not_restricted") { b, binding in
                let attributes = ForgedTPMQuote.akAttributes & ~TPM.PublicKey.ObjectAttribute.restricted.rawValue
                let area = try forger.tpmtPublic(attributes: attributes)
                return Self.replacing(
                    b,
                    tpm: try forger.forge(
                        like: b.tpm!, extraData: binding.tpmExtraData, akPublic: area,
                        qualifiedSigner: try forger.qualifiedName(attributes: attributes), akCertificates: [Data(try ca.issue(for: area))]))
            }

            // The genuine AK, certified: released, and the audit record names the key and its certificate.
            let node = NodeKeys()
            let (nonce, _, bundle) = try await Self.genuine(w, d, node)
            var certified = bundle
            certified.tpm!.akCertificates = [Data(try ca.issue(for: [UInt8](bundle.tpm!.akPublic), subject: "swtpm AK"))]
            let (status, json) = try await w.post("/v1/release", try await w.request(d, nonce: nonce, node: node, evidence: certified), base: base)
            #expect(status == 200, "\(json)")
            #expect(try w.open(json, d, node: node) == d.plaintext)
            let claims = try await Self.auditClaims(w, json)
            let ak = try TPM.PublicKey(bytes: [UInt8](bundle.tpm!.akPublic))
            #expect(claims["akName"] == Hex.encode(ak.name!))
            #expect(claims["akKeyDigest"] == "sha256:" + Hex.encode(ak.keyDigest))
            #expect(claims["akCertificate"] == "CN=swtpm AK")
            #expect(claims["akAnchor"] == "certificate")
        }
    }

    static func auditClaims(_ w: ReleaseWorld, _ json: [String: Any]) async throws -> [String: String] {
        let ref = try #require(json["attestationRef"] as? String)
        let (_, audit) = try await w.get("/v1/audit/\(ref)")
        return try #require((audit["record"] as? [String: Any])?["claims"] as? [String: String])
    }

    @Test("a policy pin anchors the swtpm AK, and the audit record names it")
    func pinAnchor() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            #expect(w.policy.platforms[.tpm]?.attestationKeys?.count == 1)
            let node = NodeKeys()
            let (status, json) = try await w.post("/v1/release", try await w.request(d, nonce: try await w.challenge(), node: node))
            #expect(status == 200, "\(json)")
            let claims = try await Self.auditClaims(w, json)
            #expect(claims["akName"] == w.policy.platforms[.tpm]?.attestationKeys?.first)
            #expect(claims["akAnchor"] == nil)
            #expect(claims["akKeyDigest"]?.hasPrefix("sha256:") == true)
        }
    }

    /// The runtime data an Azure-style paravisor publishes, naming `akPublic` as HCLAkPub.
    static func runtimeData(naming akPublic: [UInt8]) throws -> [UInt8] {
        guard case .p256(let raw) = try TPM.PublicKey(bytes: akPublic).key else { throw AttestationError(.malformed, "the swtpm AK is P-256") }
        func b64u(_ b: ArraySlice<UInt8>) -> String {
            Data(b).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return Array(#"{"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"EC","crv":"P-256","x":"\#(b64u(raw[0..<32]))","y":"\#(b64u(raw[32..<64]))"}],"vm-configuration":{}}"#.utf8)
    }

    @Test("a verified SEV-SNP HCL report anchors the AK it names; one naming another key, or tampered, is refused")
    func hardwareReportAnchor() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let akPublic = [UInt8](try await w.producer.quote(nonce: [1]).tpm!.akPublic)
            var options = SEVSNPTestPKI.Options()
            options.notBefore = Date().addingTimeInterval(-86400)
            options.notAfter = Date().addingTimeInterval(365 * 86400)
            options.askNotAfter = options.notAfter
            let (pki, hcl) = try SEVSNPTestPKI.hcl(runtimeData: try Self.runtimeData(naming: akPublic), options: options)
            let collateral = ["vcek.der": Data(pki.vcek.derRepresentation), "ask.der": Data(pki.ask.derRepresentation)]
            let base = try await Self.service(w, pinned: false) {
                $0.akHardwareBinding = true
                $0.snpVerifier = pki.verifier  // the operator's pinned root (here the test ARK)
            }
            // Not enabled: a service without hardware binding refuses a bundle carrying a report.
            let akRootsOnly = try await Self.service(w, pinned: false) { $0.tpmVerifier = TPM.QuoteVerifier(akRoots: [try AKTestCA().root]) }
            try await Self.expectForgedRefused(w, d, base: akRootsOnly, code: "ak_binding_invalid") { b, _ in
                var x = b
                x.report = Data(hcl)
                x.collateral = collateral
                return x
            }
            // A report naming the forger's key does not anchor the swtpm AK, nor the forger's quote.
            let forger = try ForgedTPMQuote()
            let otherHCL = try pki.hcl(runtimeData: try Self.runtimeData(naming: try forger.tpmtPublic()))
            try await Self.expectForgedRefused(w, d, base: base, code: "ak_binding_invalid") { b, _ in
                var x = b
                x.report = Data(otherHCL)
                x.collateral = collateral
                return x
            }
            try await Self.expectForgedRefused(w, d, base: base, code: "ak_binding_invalid") { b, binding in
                var x = Self.replacing(b, tpm: try forger.forge(like: b.tpm!, extraData: binding.tpmExtraData))
                x.report = Data(hcl)
                x.collateral = collateral
                return x
            }
            // Runtime data edited after the report was signed.
            var tampered = hcl
            tampered[tampered.count - 3] ^= 0x01
            try await Self.expectForgedRefused(w, d, base: base, code: "evidence_invalid") { b, _ in
                var x = b
                x.report = Data(tampered)
                x.collateral = collateral
                return x
            }

            // The genuine swtpm evidence with the report naming its AK: released.
            let node = NodeKeys()
            let (nonce, _, bundle) = try await Self.genuine(w, d, node)
            var anchored = bundle
            anchored.report = Data(hcl)
            anchored.collateral = collateral
            let (status, json) = try await w.post("/v1/release", try await w.request(d, nonce: nonce, node: node, evidence: anchored), base: base)
            #expect(status == 200, "\(json)")
            #expect(try w.open(json, d, node: node) == d.plaintext)
            #expect(try await Self.auditClaims(w, json)["akAnchor"] == "hardware-report:snp")
        }
    }

    @Test("low-order X25519 keys (all-zero DH output) are refused with hpke_key_weak")
    func weakHPKEKeys() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let lowOrder = [
                String(repeating: "00", count: 32),
                "01" + String(repeating: "00", count: 31),
                "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            ]
            for key in lowOrder {
                let node = NodeKeys()
                var r = try await w.request(d, nonce: try await w.challenge(), node: node)
                r.hpkePublicKey = "0x" + key
                try await ReleaseServiceTests.expectRefusal(w, r, code: "hpke_key_weak", status: 400)
            }
            // A genuine key still works after them.
            let node = NodeKeys()
            #expect(try await w.post("/v1/release", try await w.request(d, nonce: try await w.challenge(), node: node)).0 == 200)
        }
    }

    @Test("a service that accepts TPM evidence with no anchor of any kind refuses to start")
    func noAnchorNoStart() async throws {
        let unpinned = try LoadedPolicy(
            text: """
                version: 1
                name: "tpm-unpinned"
                maxEvidenceAge: 300
                platforms:
                  tpm:
                    pcrs:
                      sha256:
                        "23": unchecked
                workload:
                  imageDigests: unchecked
                  codeHashes: unchecked
                """, source: "unpinned.yaml")
        let store = try await ReleaseStores.open("sqlite:" + NSTemporaryDirectory() + "anchor-\(UUID().uuidString).sqlite")
        let registry = ChainJobRegistry(rpc: "http://127.0.0.1:1", contract: try Address("0x" + String(repeating: "11", count: 20)))
        func make(_ configure: (inout QuoteVerification) throws -> Void) throws(KeyReleaseError) -> ReleaseService {
            var v = QuoteVerification()
            do { try configure(&v) } catch { throw KeyReleaseError(.internalError, "\(error)") }
            return try ReleaseService(store: store, registry: registry, policies: [unpinned], verification: v, escrowKey: EscrowKey(privateKey: Secp256k1.PrivateKey()))
        }
        #expect(throws: KeyReleaseError.self) { _ = try make { _ in } }
        do { _ = try make { _ in }; Issue.record("started") } catch { #expect(error.code == .configInvalid) }
        // The lab switch does not count as an anchor for the service.
        do { _ = try make { $0.tpmVerifier.dangerouslyTrustPresentedAK = true }; Issue.record("started") } catch { #expect(error.code == .configInvalid) }
        _ = try make { $0.tpmVerifier = TPM.QuoteVerifier(akRoots: [try AKTestCA().root]) }
        _ = try make { $0.akHardwareBinding = true }
        await store.close()
    }
}
