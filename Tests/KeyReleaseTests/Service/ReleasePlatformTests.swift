import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import EVMCrypto
import Foundation
import KeyRelease
import ReleaseProtocol
import TestSupport
import Testing

/// The key-release service judging hardware TEE evidence end to end (real HTTP on loopback, the
/// dev chain, the SQLite store): SEV-SNP reports signed by a minted VCEK chained to a pinned test
/// ARK, the SNP workload manifest bound by HOST_DATA, and TDX quotes from a minted Intel-shaped
/// PKI, each judged by a policy that pins the minted evidence's real claims. Genuine evidence is
/// released and opens the dataset; each refusal changes one thing, has its own code, and
/// releases nothing.
@Suite("Key-release service: TDX and SEV-SNP evidence", .serialized)
struct ReleasePlatformTests {
    // MARK: - Helpers

    /// A second service on `w`'s store and chain judging with `policy` alone, verifying with
    /// `verification`, its clock `clock`; served on another loopback port.
    static func service(_ w: ReleaseWorld, policy: Policy, verification: QuoteVerification, clock: TestClock) async throws -> String {
        try await service(w, yaml: policy.yaml, name: policy.name, verification: verification, clock: clock)
    }

    static func service(_ w: ReleaseWorld, yaml: String, name: String, verification: QuoteVerification, clock: TestClock) async throws -> String {
        var settings = ReleaseService.Settings()
        settings.clock = { clock.now }
        settings.challengeRate = nil
        let service = try ReleaseService(
            store: w.store, registry: ChainJobRegistry(rpc: w.proxy.url, contract: try Address(w.chain.info.dataPolicy)),
            policies: [try LoadedPolicy(text: yaml, source: "\(name).yaml")], verification: verification,
            escrowKey: w.escrowKey, settings: settings)
        return try await w.serve(service)
    }

    /// A release request to `base` for a fresh challenge and node, carrying the evidence `make`
    /// mints for the request's binding.
    static func request(
        _ w: ReleaseWorld, _ d: Dataset, base: String, ticketExpiry: UInt64? = nil,
        _ make: (ReleaseBinding) throws -> EvidenceBundle
    ) async throws -> (request: ReleaseRequest, node: NodeKeys) {
        let node = NodeKeys()
        let nonce = try await w.challenge(base)
        let binding = ReleaseBinding(nonce: nonce, jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
        let evidence = try make(binding)
        return (try await w.request(d, nonce: nonce, node: node, evidence: evidence, ticketExpiry: ticketExpiry), node)
    }

    /// Posts `request` to `base` and expects the key, which the node opens.
    static func expectReleased(
        _ w: ReleaseWorld, _ d: Dataset, _ request: ReleaseRequest, node: NodeKeys, base: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        let (status, json) = try await w.post("/v1/release", request, base: base)
        #expect(status == 200, "\(json)", sourceLocation: sourceLocation)
        #expect(try w.open(json, d, node: node) == d.plaintext, sourceLocation: sourceLocation)
        return json
    }

    /// Test-PKI validity around the real present, so the world's normal clock verifies it.
    static func snpOptions() -> SEVSNPTestPKI.Options {
        var o = SEVSNPTestPKI.Options()
        o.notBefore = Date().addingTimeInterval(-86400)
        o.notAfter = Date().addingTimeInterval(365 * 86400)
        o.askNotAfter = o.notAfter
        return o
    }

    /// An SNP evidence bundle: a report minted with `options` and `reportData` (then `edit`),
    /// signed by a fresh VCEK whose ASK chains to the shared test ARK, with the VCEK and ASK as
    /// collateral and `manifest` as the workload manifest.
    static func snpBundle(
        _ options: SEVSNPTestPKI.Options, reportData: [UInt8], manifest: [UInt8]? = nil,
        edit: (inout SEVSNPTestPKI.Options) -> Void = { _ in }
    ) throws -> EvidenceBundle {
        var o = options
        o.reportData = reportData
        edit(&o)
        let pki = try SEVSNPTestPKI(o)
        return EvidenceBundle(
            platform: .snp, report: Data(pki.report),
            collateral: ["vcek.der": Data(pki.vcek.derRepresentation), "ask.der": Data(pki.ask.derRepresentation)],
            workloadManifest: manifest.map { Data($0) })
    }

    /// The policy view of a golden SNP report minted with `options` (what an operator measured).
    static func snpGolden(_ options: SEVSNPTestPKI.Options, imageDigests: [String]? = nil, codeHashes: [String]? = nil) throws -> (pki: SEVSNPTestPKI, input: PolicyInput) {
        let pki = try SEVSNPTestPKI(options)
        let verified = try pki.verifier.verify(SEVSNP.Report(rawRepresentation: pki.report), certificates: try pki.bundle, now: Date())
        return (pki, PolicyInput(snp: verified, imageDigests: imageDigests, codeHashes: codeHashes))
    }

    /// Released records in the world's audit chain.
    static func releasedCount(_ w: ReleaseWorld) async throws -> Int {
        try await w.store.auditRecords(afterSequence: 0, limit: 1000).filter { $0.draft.outcome == "released" }.count
    }

    // MARK: - SEV-SNP

    @Test("SEV-SNP: a report binding the request, verified to the pinned ARK and matching the policy, is released; another binding, measurement, a low TCB, debug, or no snp section are each refused")
    func snpThroughService() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let options = Self.snpOptions()
            let (golden, input) = try Self.snpGolden(options)
            // The reference policy pins every claim of the golden report, minimumTCB included.
            let reference = try Policy.derived(from: [input], name: "snp-reference", maxEvidenceAge: 300)
            let snp = try #require(reference.platforms[.snp])
            #expect(snp.measurements["measurement"] == .exactly(String(repeating: "4d", count: 48)))
            #expect(snp.measurements["hostData"] == .exactly(String(repeating: "00", count: 32)))
            #expect(snp.minimumTCB == ["bootloader": 3, "tee": 0, "snp": 8, "microcode": 115])
            #expect(snp.allowDebug == false)

            var verification = QuoteVerification()
            verification.snpVerifier = golden.verifier  // the operator's pinned root (here the test ARK)
            let base = try await Self.service(w, policy: reference, verification: verification, clock: w.clock)

            // Genuine: released, and the audit record carries the SNP claims.
            let (good, node) = try await Self.request(w, d, base: base) { try Self.snpBundle(options, reportData: $0.reportData) }
            let json = try await Self.expectReleased(w, d, good, node: node, base: base)
            let claims = try await ReleaseAnchorTests.auditClaims(w, json)
            #expect(claims["measurement"] == String(repeating: "4d", count: 48))
            #expect(claims["tcb.snp"] == "8")
            #expect(claims["debug"] == "false")

            // REPORT_DATA of another binding (another node's HPKE key for the same nonce and job).
            let (other, _) = try await Self.request(w, d, base: base) { binding in
                let elsewhere = ReleaseBinding(nonce: binding.nonce, jobID: binding.jobID, hpkePublicKey: NodeKeys().hpkePublicKey, signerPublicKey: binding.signerPublicKey)
                return try Self.snpBundle(options, reportData: elsewhere.reportData)
            }
            try await ReleaseServiceTests.expectRefusal(w, other, code: "binding_mismatch", status: 403, base: base)

            // REPORTED_TCB one SNP SVN below the policy's minimumTCB (the VCEK certifies that TCB).
            let (lowTCB, _) = try await Self.request(w, d, base: base) { binding in
                try Self.snpBundle(options, reportData: binding.reportData) { $0.reportedTCB = [3, 0, 0, 0, 0, 0, 7, 115] }
            }
            try await ReleaseServiceTests.expectRefusal(w, lowTCB, code: "tcb_not_accepted", status: 403, base: base)

            // A debug guest (POLICY bit 19).
            let (debug, _) = try await Self.request(w, d, base: base) { binding in
                try Self.snpBundle(options, reportData: binding.reportData) { $0.policy |= 1 << 19 }
            }
            try await ReleaseServiceTests.expectRefusal(w, debug, code: "debug_not_allowed", status: 403, base: base)

            // A policy whose measurement differs, the evidence genuine.
            var otherMeasurement = reference
            otherMeasurement.name = "snp-other-measurement"
            otherMeasurement.platforms[.snp]!.measurements["measurement"] = .exactly(String(repeating: "4e", count: 48))
            let measured = try await Self.service(w, policy: otherMeasurement, verification: verification, clock: w.clock)
            let (m, _) = try await Self.request(w, d, base: measured) { try Self.snpBundle(options, reportData: $0.reportData) }
            try await ReleaseServiceTests.expectRefusal(w, m, code: "measurement_not_allowed", status: 403, base: measured)

            // A policy with only a tdx section: SNP evidence is not allowed at all.
            let tdxOnly = try await Self.service(w, yaml: TDXTestPKI.policyYAML(name: "tdx-only"), name: "tdx-only", verification: verification, clock: w.clock)
            let (p, _) = try await Self.request(w, d, base: tdxOnly) { try Self.snpBundle(options, reportData: $0.reportData) }
            try await ReleaseServiceTests.expectRefusal(w, p, code: "platform_not_allowed", status: 403, base: tdxOnly)

            #expect(try await Self.releasedCount(w) == 1)
        }
    }

    // MARK: - SEV-SNP workload manifest

    static func manifest(image: String, code: String) -> [UInt8] {
        Array(#"{"imageDigest":"\#(image)","codeHash":"\#(code)"}"#.utf8)
    }

    @Test("SEV-SNP workload: a manifest whose SHA-256 is HOST_DATA and whose image and code the policy pins is released; an edited manifest, another image or code, or none are refused")
    func snpWorkloadManifest() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let image = "sha256:" + String(repeating: "1a", count: 32), code = "sha256:" + String(repeating: "2b", count: 32)
            let otherImage = "sha256:" + String(repeating: "e6", count: 32), otherCode = "sha256:" + String(repeating: "e7", count: 32)
            let allowed = Self.manifest(image: image, code: code)
            let options = Self.snpOptions()
            let (golden, input) = try Self.snpGolden(options, imageDigests: [image], codeHashes: [code])
            var policy = try Policy.derived(from: [input], name: "snp-workload", maxEvidenceAge: 300)
            #expect(policy.workload == Policy.Workload(imageDigests: .exactly(image), codeHashes: .exactly(code)))
            // The workload rule is what pins the guest's image and code here; HOST_DATA differs with
            // every manifest, so pinning it too would report a measurement before the workload.
            policy.platforms[.snp]!.measurements["hostData"] = .unchecked

            var verification = QuoteVerification()
            verification.snpVerifier = golden.verifier
            let base = try await Self.service(w, policy: policy, verification: verification, clock: w.clock)
            func hostData(_ m: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: m)) }

            // The allowed manifest, bound by HOST_DATA: released, and the audit names the workload.
            let (good, node) = try await Self.request(w, d, base: base) { binding in
                try Self.snpBundle(options, reportData: binding.reportData, manifest: allowed) { $0.hostData = hostData(allowed) }
            }
            let json = try await Self.expectReleased(w, d, good, node: node, base: base)
            let claims = try await ReleaseAnchorTests.auditClaims(w, json)
            #expect(claims["imageDigests"] == image)
            #expect(claims["codeHashes"] == code)
            #expect(claims["hostData"] == Hex.encode(hostData(allowed)))

            // A guest running another image presents the allowed manifest: HOST_DATA does not match
            // it, so the report does not vouch for it (the verifier refuses before any policy).
            let ran = Self.manifest(image: otherImage, code: code)
            let (edited, _) = try await Self.request(w, d, base: base) { binding in
                try Self.snpBundle(options, reportData: binding.reportData, manifest: allowed) { $0.hostData = hostData(ran) }
            }
            try await ReleaseServiceTests.expectRefusal(w, edited, code: "evidence_invalid", status: 403, base: base)

            // Honest manifests, bound by HOST_DATA, naming an image or code the policy does not allow.
            for shown in [ran, Self.manifest(image: image, code: otherCode)] {
                let (r, _) = try await Self.request(w, d, base: base) { binding in
                    try Self.snpBundle(options, reportData: binding.reportData, manifest: shown) { $0.hostData = hostData(shown) }
                }
                try await ReleaseServiceTests.expectRefusal(w, r, code: "workload_not_allowed", status: 403, base: base)
            }

            // No manifest at all while the policy pins the workload.
            let (none, _) = try await Self.request(w, d, base: base) { binding in
                try Self.snpBundle(options, reportData: binding.reportData) { $0.hostData = hostData(allowed) }
            }
            try await ReleaseServiceTests.expectRefusal(w, none, code: "workload_not_allowed", status: 403, base: base)

            #expect(try await Self.releasedCount(w) == 1)
        }
    }

    // MARK: - TDX

    @Test("TDX: a policy pinning the minted quote's real measurements releases; one measurement changed, no tdx section, or its TCB status not accepted are refused")
    func tdxPinnedMeasurements() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let pki = try TDXTestPKI()
            let clock = TestClock(base: TDXTestPKI.validInstant)
            let expiry = UInt64(TDXTestPKI.validInstant.timeIntervalSince1970) + 600
            // The golden quote, verified with the PKI: its claims become the policy.
            let golden = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(
                TDX.Quote(rawRepresentation: try pki.quote()), collateral: pki.collateral,
                now: TDXTestPKI.validInstant)
            #expect(golden.tcb?.status.rawValue == "UpToDate")
            let reference = try Policy.derived(from: [PolicyInput(tdx: golden)], name: "tdx-reference", maxEvidenceAge: 300)
            let tdx = try #require(reference.platforms[.tdx])
            #expect(tdx.measurements["mrTD"] == .exactly(String(repeating: "22", count: 48)))
            #expect(tdx.measurements["mrSeam"] == .exactly(String(repeating: "11", count: 48)))
            #expect(tdx.measurements["rtmr0"] == .exactly(String(repeating: "33", count: 48)))
            #expect(tdx.tcbStatuses == ["UpToDate"])
            #expect(tdx.allowDebug == false)

            let verification = QuoteVerification(collateralSource: pki.collateralSource, verifier: TDX.QuoteVerifier(trustAnchor: pki.root))
            func quote(_ binding: ReleaseBinding) throws -> EvidenceBundle {
                EvidenceBundle(platform: .tdx, report: Data(try pki.quote(reportData: binding.reportData)))
            }

            let base = try await Self.service(w, policy: reference, verification: verification, clock: clock)
            let (good, node) = try await Self.request(w, d, base: base, ticketExpiry: expiry, quote)
            let json = try await Self.expectReleased(w, d, good, node: node, base: base)
            let claims = try await ReleaseAnchorTests.auditClaims(w, json)
            #expect(claims["mrTD"] == String(repeating: "22", count: 48))
            #expect(claims["tcbStatus"] == "UpToDate")

            // Each a policy with one thing changed, the evidence genuine.
            var otherMRTD = reference
            otherMRTD.name = "tdx-other-mrtd"
            otherMRTD.platforms[.tdx]!.measurements["mrTD"] = .exactly(String(repeating: "23", count: 48))
            var outOfDateOnly = reference
            outOfDateOnly.name = "tdx-out-of-date-only"
            outOfDateOnly.platforms[.tdx]!.tcbStatuses = ["OutOfDate"]
            let snpOnly = Policy(
                name: "snp-only", maxEvidenceAge: 300,
                platforms: [
                    .snp: Policy.PlatformRules(
                        measurements: Dictionary(uniqueKeysWithValues: Policy.requiredMeasurements(.snp).map { ($0, Expectation<String>.unchecked) }),
                        tcbStatuses: nil, minimumTCB: nil, allowDebug: false)
                ],
                workload: Policy.Workload(imageDigests: .unchecked, codeHashes: .unchecked))
            for (policy, code) in [(otherMRTD, "measurement_not_allowed"), (snpOnly, "platform_not_allowed"), (outOfDateOnly, "tcb_not_accepted")] {
                let url = try await Self.service(w, policy: policy, verification: verification, clock: clock)
                let (r, _) = try await Self.request(w, d, base: url, ticketExpiry: expiry, quote)
                try await ReleaseServiceTests.expectRefusal(w, r, code: code, status: 403, base: url)
            }

            #expect(try await Self.releasedCount(w) == 1)
        }
    }
}
