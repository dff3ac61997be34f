import Attestation
import ByteEncoding
import Crypto
import Foundation
import TestSupport
import Testing

/// One SEV-SNP report row of shared/testvectors/MANIFEST.md ("AMD SEV-SNP").
struct SEVSNPRow: Sendable, CustomStringConvertible {
    let name: String
    /// Report file; an HCL report when `hcl` is set.
    let report: String
    var hcl = false
    let certificates: [String]
    let at: String
    let accepted: Bool
    let debug: Bool
    let signingKey: SEVSNP.SigningKey
    let version: Int
    let reportedTCB: String
    let tcb: (bootloader: Int, tee: Int, snp: Int, microcode: Int)
    var currentTCB: String?
    let policy: UInt64
    let vmpl: UInt32
    var guestSVN: UInt32?
    let measurement: String
    let reportData: String
    /// CHIP_ID in full, or its first 8 bytes.
    let chipID: String
    var idKeyDigest: String = String(repeating: "0", count: 96)
    var familyID: String?
    var imageID: String?
    var firmware: String?
    var description: String { name }

    static func zeros(_ n: Int) -> String { String(repeating: "0", count: 2 * n) }

    static let all: [SEVSNPRow] = [
        SEVSNPRow(
            name: "go-sev-guest Milan v2 (debug)", report: "snp/go-sev-guest/attestation.bin",
            certificates: ["snp/go-sev-guest/vcek.testcer", "snp/go-sev-guest/ask_ark_milan.pem"], at: "2026-11-24T00:00:00Z",
            accepted: false, debug: true, signingKey: .vcek, version: 2,
            reportedTCB: "0200000000000544", tcb: (2, 0, 5, 68), policy: 0xb0000, vmpl: 0,
            measurement: "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
            reportData: "0102030405" + zeros(59),
            chipID: "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d",
            firmware: "1.49.3"),
        SEVSNPRow(
            name: "virtee Milan v2 (hex text)", report: "snp/virtee-sev/report_milan.hex",
            certificates: ["snp/virtee-sev/vcek_milan.der", "snp/virtee-sev/cert_chain_milan"], at: "2026-11-24T00:00:00Z",
            accepted: true, debug: false, signingKey: .vcek, version: 2,
            reportedTCB: "0300000000000873", tcb: (3, 0, 8, 115), policy: 0x30000, vmpl: 0,
            measurement: "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
            reportData: "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
            chipID: "d49554ec717f4e5b", firmware: "1.52.4"),
        SEVSNPRow(
            name: "trustee Milan v2 VCEK", report: "snp/trustee/snp/test-report.bin",
            certificates: ["snp/trustee/snp/test-vcek.der", "snp/trustee/milan_ask_ark_asvk.pem"], at: "2026-11-24T00:00:00Z",
            accepted: true, debug: false, signingKey: .vcek, version: 2,
            reportedTCB: "0300000000000873", tcb: (3, 0, 8, 115), currentTCB: "03000000000008ce", policy: 0x3001f, vmpl: 0, guestSVN: 4,
            measurement: "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
            reportData: "ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2" + zeros(32),
            chipID: "c38427a30d4c7af9",
            idKeyDigest: "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
            familyID: "01" + zeros(15), imageID: "02" + zeros(15)),
        SEVSNPRow(
            name: "trustee Milan v3 VLEK (in its window)", report: "snp/trustee/snp/test-vlek-report.bin",
            certificates: ["snp/trustee/snp/test-vlek.der", "snp/trustee/milan_ask_ark_asvk.pem"], at: "2025-06-01T00:00:00Z",
            accepted: true, debug: false, signingKey: .vlek, version: 3,
            reportedTCB: "04000000000018d9", tcb: (4, 0, 24, 217), policy: 0x30000, vmpl: 1,
            measurement: "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0",
            reportData: "819770b7e6ea6df8dd8fd4dd146b073c0bf4f3ce5b0977ecac486e3a05ed1bd54e2a7ac1f5d1ca02e7d7d5ef9f73b8574fd9359e3a480d741a4478e8a7bc27ca",
            chipID: zeros(64), firmware: "1.55.29"),
        SEVSNPRow(
            name: "Azure HCL report (Milan v2)", report: "snp/trustee/az-snp-vtpm/hcl-report.bin", hcl: true,
            certificates: ["snp/trustee/az-snp-vtpm/vcek.pem"], at: "2026-11-24T00:00:00Z",
            accepted: true, debug: false, signingKey: .vcek, version: 2,
            reportedTCB: "0300000000000873", tcb: (3, 0, 8, 115), currentTCB: "03000000000008d2", policy: 0x3001f, vmpl: 0, guestSVN: 5,
            measurement: "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315",
            reportData: "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac" + zeros(32),
            chipID: "19752a447db501a3",
            idKeyDigest: "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3"),
    ]

    func load() throws -> (SEVSNP.Report, SEVSNP.CertificateBundle) {
        let bytes = try TestVectors.bytes(report)
        let parsed = try hcl ? SEVSNP.HCLReport(bytesOrText: bytes).report : SEVSNP.Report(bytesOrText: bytes)
        return (parsed, try SEVSNPRow.bundle(certificates))
    }

    static func bundle(_ files: [String]) throws -> SEVSNP.CertificateBundle {
        try SEVSNP.CertificateBundle(files: files.map { try TestVectors.bytes($0) })
    }
}

@Suite("SEV-SNP: MANIFEST rows through the library")
struct SEVSNPManifestTests {
    @Test(arguments: SEVSNPRow.all)
    func row(_ row: SEVSNPRow) throws {
        let (report, bundle) = try row.load()
        let verified = try SEVSNP.ReportVerifier().verify(report, certificates: bundle, now: instant(row.at))
        #expect(verified.product == .milan)
        #expect(verified.signingKey == row.signingKey)

        let result = SEVSNP.Validator().validate(verified)
        #expect(result.isAccepted == row.accepted)
        #expect(result.failures.map(\.code) == (row.debug ? [.debugNotAllowed] : []))
        #expect(SEVSNP.Validator(allowDebug: true).validate(verified).isAccepted)

        let c = verified.claims
        #expect(c.version == row.version)
        #expect(c.debug == row.debug)
        #expect(c.policy.rawValue == row.policy)
        #expect(c.vmpl == row.vmpl)
        #expect(c.measurement.hex == row.measurement)
        #expect(c.reportData.hex == row.reportData)
        #expect(c.hostData.isZero)
        #expect(c.idKeyDigest.hex == row.idKeyDigest)
        #expect(c.chipID.hex.hasPrefix(row.chipID))
        #expect(c.reportedTCB.raw.hex == row.reportedTCB)
        #expect(c.reportedTCB.bootloader == UInt8(row.tcb.bootloader))
        #expect(c.reportedTCB.tee == UInt8(row.tcb.tee))
        #expect(c.reportedTCB.snp == UInt8(row.tcb.snp))
        #expect(c.reportedTCB.microcode == UInt8(row.tcb.microcode))
        #expect(c.reportedTCB.fmc == nil)
        if let current = row.currentTCB { #expect(c.currentTCB.raw.hex == current) }
        if let svn = row.guestSVN { #expect(c.guestSVN == svn) }
        if let f = row.familyID { #expect(c.familyID.hex == f) }
        if let i = row.imageID { #expect(c.imageID.hex == i) }
        if let fw = row.firmware {
            #expect("\(report.currentMajor).\(report.currentMinor).\(report.currentBuild)" == fw)
        }
        // The VCEK/VLEK states exactly REPORTED_TCB.
        let ext = verified.endorsementKeyExtensions
        let certTCB: [Int] = [ext.bootloader, ext.tee, ext.snp, ext.microcode]
        #expect(certTCB == [row.tcb.bootloader, row.tcb.tee, row.tcb.snp, row.tcb.microcode])
        #expect((ext.hwID == nil) == (row.signingKey == .vlek))
    }

    @Test func goSEVGuestPolicyBits() throws {
        let (report, _) = try SEVSNPRow.all[0].load()
        #expect(report.policy.debug)
        #expect(report.policy.smt)
        #expect(!report.policy.migrateMA)
        #expect(report.signerInfo.signingKey == .vcek)
    }

    @Test func trusteeABIVersion() throws {
        let (report, _) = try SEVSNPRow.all[2].load()
        #expect(report.policy.abiMajor == 0)
        #expect(report.policy.abiMinor == 0x1f)
        #expect(report.currentTCB.microcode == 206)
    }

    @Test func vlekReportCPUIDAndSigner() throws {
        let (report, _) = try SEVSNPRow.all[3].load()
        #expect(report.version == 3)
        #expect(report.signerInfo.signingKey == .vlek)
        #expect(report.signerInfo.signingKeyField == 1)
        #expect(report.cpuidFamilyID == 0x19)
        #expect(report.cpuidModelID == 0x01)
        #expect(report.cpuidStepping == 1)
        #expect(report.product == .milan)
        #expect(report.chipID.isZero)
    }

    @Test func vlekExpiredAtToday() throws {
        let (report, bundle) = try SEVSNPRow.all[3].load()
        #expect(snpCode { _ = try SEVSNP.ReportVerifier().verify(report, certificates: bundle, now: instant("2026-11-24T00:00:00Z")) } == .certificateExpired)
    }

    @Test func azureRuntimeDataIsBound() throws {
        let hcl = try SEVSNP.HCLReport(bytesOrText: TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin"))
        #expect(hcl.runtimeData.count == 1110)
        #expect(hcl.hashType == 1)
        #expect(Array(SHA256.hash(data: hcl.runtimeData)) == Array(hcl.report.reportData.bytes[0..<32]))
        try hcl.verifyRuntimeDataBinding()
        let json = try JSONSerialization.jsonObject(with: Data(hcl.runtimeData)) as? [String: Any]
        let kids = (json?["keys"] as? [[String: Any]])?.compactMap { $0["kid"] as? String } ?? []
        #expect(kids.contains("HCLAkPub"))
        #expect(kids.contains("HCLEkPub"))
    }

    @Test func turinVCEKChainAndExtensions() throws {
        let bundle = try SEVSNPRow.bundle(["snp/virtee-sev/vcek_turin.der", "snp/virtee-sev/cert_chain_turin"])
        let vcek = try #require(bundle.vcek)
        let chain = try SEVSNP.ReportVerifier().verifyChain(endorsementKey: vcek, certificates: bundle, now: instant("2026-11-24T00:00:00Z"))
        #expect(chain.product == .turin)
        #expect(chain.signingKey == .vcek)
        let ext = try SEVSNP.VCEKExtensions(certificate: vcek)
        #expect(ext.fmc == 0)
        let svns: [Int] = [ext.bootloader, ext.tee, ext.snp, ext.microcode]
        #expect(svns == [0, 0, 0, 9])
        #expect(ext.hwID?.count == 8)
        #expect(ext.productName.hasPrefix("Turin"))
    }

    @Test func turinTCBLayout() throws {
        let raw = try FixedBytes<8>(hex: "0102030400000009")
        let turin = SEVSNP.TCBVersion(raw: raw, turin: true)
        let t: [UInt8?] = [turin.fmc, turin.bootloader, turin.tee, turin.snp, turin.microcode]
        #expect(t == [1, 2, 3, 4, 9])
        let milan = SEVSNP.TCBVersion(raw: raw, turin: false)
        #expect(milan.fmc == nil)
        let m: [UInt8] = [milan.bootloader, milan.tee, milan.snp, milan.microcode]
        #expect(m == [1, 2, 0, 9])
        #expect(turin.components == ["fmc": 1, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 9])
    }

    static let bundles: [(String, SEVSNP.Product)] = [
        ("snp/go-sev-guest/ask_ark_milan.pem", .milan), ("snp/go-sev-guest/ask_ark_genoa.pem", .genoa),
        ("snp/go-sev-guest/ask_ark_turin_vcek.pem", .turin), ("snp/go-sev-guest/ask_ark_milan_vlek.pem", .milan),
        ("snp/go-sev-guest/ask_ark_genoa_vlek.pem", .genoa), ("snp/go-sev-guest/ask_ark_turin_vlek.pem", .turin),
        ("snp/trustee/milan_ask_ark_asvk.pem", .milan), ("snp/trustee/genoa_ask_ark_asvk.pem", .genoa),
        ("snp/trustee/turin_ask_ark_asvk.pem", .turin), ("snp/virtee-sev/cert_chain_milan", .milan),
        ("snp/virtee-sev/cert_chain_turin", .turin),
    ]

    @Test(arguments: 0..<bundles.count)
    func askARKBundleChainsToPinnedARK(index: Int) throws {
        let (file, product) = Self.bundles[index]
        let bundle = try SEVSNPRow.bundle([file])
        let intermediates = Array(bundle.asks.values) + Array(bundle.asvks.values)
        #expect(!intermediates.isEmpty)
        for cert in intermediates {
            let (p, ark) = try SEVSNP.ReportVerifier().verifyIntermediate(cert, certificates: bundle, now: instant("2026-11-24T00:00:00Z"))
            #expect(p == product)
            #expect(ark == SEVSNP.AMDRootKeys.ark(for: product))
        }
        #expect(bundle.arks[product] == SEVSNP.AMDRootKeys.ark(for: product))
    }

    @Test(arguments: SEVSNP.Product.allCases)
    func pinnedARKFingerprints(product: SEVSNP.Product) throws {
        let expected: [SEVSNP.Product: String] = [
            .milan: "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
            .genoa: "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
            .turin: "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
        ]
        let ark = SEVSNP.AMDRootKeys.ark(for: product)
        #expect(Hex.encode(SHA256.hash(data: ark.derRepresentation)) == expected[product])
        #expect(SEVSNP.AMDRootKeys.sha256[product] == expected[product])
        #expect(ark.commonName == "ARK-\(product.amdName)")
        #expect(ark.issuer == ark.subject)
        #expect(ark.isSigned(by: ark), "ARK-\(product.amdName) is self-signed (RSASSA-PSS)")
    }

    @Test func policyInputUsesTheRequiredNames() throws {
        let (report, bundle) = try SEVSNPRow.all[2].load()
        let verified = try SEVSNP.ReportVerifier().verify(report, certificates: bundle, now: instant("2026-11-24T00:00:00Z"))
        let input = PolicyInput(snp: verified, evidenceTime: instant("2026-11-24T00:00:00Z"))
        #expect(input.platform == .snp)
        #expect(Set(input.measurements.keys) == Set(Policy.requiredMeasurements(.snp)))
        #expect(input.measurements["measurement"] == SEVSNPRow.all[2].measurement)
        #expect(input.measurements["guestSVN"] == "4")
        #expect(input.measurements["vmpl"] == "0")
        #expect(input.measurements["familyID"] == "01" + String(repeating: "0", count: 30))
        #expect(input.tcbComponents == ["bootloader": 3, "tee": 0, "snp": 8, "microcode": 115])
        #expect(input.debug == false)
        #expect(input.tcbStatus == nil)
    }

    @Test func claimsEncodeAsLowercaseHex() throws {
        let (report, bundle) = try SEVSNPRow.all[2].load()
        let verified = try SEVSNP.ReportVerifier().verify(report, certificates: bundle, now: instant("2026-11-24T00:00:00Z"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(verified.claims)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"measurement\":\"\(SEVSNPRow.all[2].measurement)\""))
        #expect(json.contains("\"raw\":\"0x000000000003001f\""))
        #expect(json.contains("\"reportedTCB\":{\"bootloader\":3,\"microcode\":115,\"raw\":\"0300000000000873\",\"snp\":8,\"tee\":0}"))
        #expect(json.contains("\"signingKey\":\"vcek\""))
        #expect(json.contains("\"product\":\"milan\""))
        let back = try JSONDecoder().decode(SEVSNP.Claims.self, from: data)
        #expect(back == verified.claims)
    }

    /// A `CertificateSource` (the KDS client's shape) hands the bundle to the verifier.
    struct FixedSource: SEVSNP.CertificateSource {
        let bundle: SEVSNP.CertificateBundle
        func certificates(for report: SEVSNP.Report, now: Date) async throws(AttestationError) -> SEVSNP.CertificateBundle { bundle }
    }

    struct DownSource: SEVSNP.CertificateSource {
        func certificates(for report: SEVSNP.Report, now: Date) async throws(AttestationError) -> SEVSNP.CertificateBundle {
            throw AttestationError(.collateralUnavailable, "KDS unreachable")
        }
    }

    @Test func verifiesThroughACertificateSource() async throws {
        let (report, bundle) = try SEVSNPRow.all[1].load()
        let verified = try await SEVSNP.ReportVerifier().verify(report, source: FixedSource(bundle: bundle), now: instant("2026-11-24T00:00:00Z"))
        #expect(verified.claims.measurement.hex == SEVSNPRow.all[1].measurement)
        await #expect(throws: AttestationError(.collateralUnavailable, "KDS unreachable")) {
            _ = try await SEVSNP.ReportVerifier().verify(report, source: DownSource(), now: instant("2026-11-24T00:00:00Z"))
        }
    }

    @Test func binaryHexAndBase64ParseTheSame() throws {
        let bin = try TestVectors.bytes("snp/trustee/snp/test-report.bin")
        let fromBinary = try SEVSNP.Report(bytesOrText: bin)
        let fromHex = try SEVSNP.Report(bytesOrText: Array(("0x" + Hex.encode(bin) + "\n").utf8))
        let fromBase64 = try SEVSNP.Report(bytesOrText: Array(Data(bin).base64EncodedString().utf8))
        #expect(fromHex.rawRepresentation == fromBinary.rawRepresentation)
        #expect(fromBase64.rawRepresentation == fromBinary.rawRepresentation)
        // Trailing bytes after the 1184-byte report are ignored.
        let padded = try SEVSNP.Report(rawRepresentation: bin + [UInt8](repeating: 0xAA, count: 100))
        #expect(padded.rawRepresentation == fromBinary.rawRepresentation)
    }
}

/// The code of the ``AttestationError`` `body` throws, or nil when it throws nothing (or another error).
func snpCode(_ body: () throws -> Void) -> AttestationError.Code? {
    do { try body(); return nil } catch let e as AttestationError { return e.code } catch { return nil }
}
