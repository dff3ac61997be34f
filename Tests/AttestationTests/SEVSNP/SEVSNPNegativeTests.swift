import Attestation
import Foundation
import TestSupport
import Testing

/// One byte or one certificate changed per case; each must fail with its own code.
@Suite("SEV-SNP: tampering, truncation, wrong keys and roots")
struct SEVSNPNegativeTests {
    static let today = instant("2026-11-24T00:00:00Z")

    static func virtee() throws -> ([UInt8], SEVSNP.CertificateBundle) {
        let report = try SEVSNP.Report(bytesOrText: TestVectors.bytes("snp/virtee-sev/report_milan.hex")).rawRepresentation
        return (report, try SEVSNPRow.bundle(["snp/virtee-sev/vcek_milan.der", "snp/virtee-sev/cert_chain_milan"]))
    }

    static func trustee() throws -> ([UInt8], SEVSNP.CertificateBundle) {
        (
            try TestVectors.bytes("snp/trustee/snp/test-report.bin"),
            try SEVSNPRow.bundle(["snp/trustee/snp/test-vcek.der", "snp/trustee/milan_ask_ark_asvk.pem"])
        )
    }

    /// Verifies `bytes` (parse errors count as failures too).
    static func verify(_ bytes: [UInt8], _ bundle: SEVSNP.CertificateBundle, verifier: SEVSNP.ReportVerifier = .init(), now: Date = today) -> AttestationError.Code? {
        snpCode { _ = try verifier.verify(reportBytes: bytes, certificates: bundle, now: now) }
    }

    @Test func untamperedReportsVerify() throws {
        let (v, vb) = try Self.virtee()
        #expect(Self.verify(v, vb) == nil)
        let (t, tb) = try Self.trustee()
        #expect(Self.verify(t, tb) == nil)
    }

    /// Every byte of the signed region 0x000–0x29F, inverted one at a time, must fail
    /// verification (the chain signatures are cached, so each step costs one P-384 verify).
    @Test func tamperWalkOverTheSignedRegion() throws {
        let (report, bundle) = try Self.virtee()
        let verifier = SEVSNP.ReportVerifier(cache: VerificationCache())
        #expect(Self.verify(report, bundle, verifier: verifier) == nil)
        var passed = [Int]()
        var codes = [AttestationError.Code: Int]()
        for offset in 0..<SEVSNP.signedSize {
            var bytes = report
            bytes[offset] ^= 0xFF
            if let code = Self.verify(bytes, bundle, verifier: verifier) { codes[code, default: 0] += 1 } else { passed.append(offset) }
        }
        #expect(passed.isEmpty, "tampered offsets that still verified: \(passed)")
        // Most bytes are only covered by the signature; the rest fail earlier with their own code.
        #expect((codes[.reportSignatureInvalid] ?? 0) > 500)
    }

    @Test(arguments: [0x2A0, 0x2A0 + 47, 0x2A0 + 48, 0x2A0 + 71, 0x2E8, 0x2E8 + 47, 0x2E8 + 60])
    func flippedSignatureByte(offset: Int) throws {
        let (report, bundle) = try Self.virtee()
        var bytes = report
        bytes[offset] ^= 0x01
        #expect(Self.verify(bytes, bundle) == .reportSignatureInvalid)
    }

    /// virtee/sev tests/certs.rs `milan_report_invalid`: bit 7 of byte 21 flipped.
    @Test func vitreeBit7OfByte21() throws {
        let (report, bundle) = try Self.virtee()
        var bytes = report
        bytes[21] ^= 0x80
        #expect(Self.verify(bytes, bundle) == .reportSignatureInvalid)
    }

    /// trustee `check_report_signature_failure`: byte 42 incremented.
    @Test func trusteeByte42Incremented() throws {
        let (report, bundle) = try Self.trustee()
        var bytes = report
        bytes[42] &+= 1
        #expect(Self.verify(bytes, bundle) == .reportSignatureInvalid)
    }

    @Test func truncationWalkReport() throws {
        let (report, _) = try Self.trustee()
        var wrong = [Int]()
        for length in 0..<SEVSNP.reportSize {
            if snpCode({ _ = try SEVSNP.Report(rawRepresentation: Array(report.prefix(length))) }) != .truncated { wrong.append(length) }
        }
        #expect(wrong.isEmpty, "lengths without .truncated: \(wrong)")
    }

    @Test func truncationWalkHCLReport() throws {
        let hcl = try TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin")
        let end = SEVSNP.HCLReport.runtimeDataOffset + 20 + 1110
        var wrong = [Int]()
        for length in 0..<end {
            if snpCode({ _ = try SEVSNP.HCLReport(rawRepresentation: Array(hcl.prefix(length))) }) != .truncated { wrong.append(length) }
        }
        #expect(wrong.isEmpty, "lengths without .truncated: \(wrong)")
        #expect(snpCode { _ = try SEVSNP.HCLReport(rawRepresentation: Array(hcl.prefix(end))) } == nil)
    }

    @Test func hclRuntimeDataChanged() throws {
        var hcl = try TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin")
        hcl[SEVSNP.HCLReport.runtimeDataOffset + 20 + 10] ^= 0x01
        let parsed = try SEVSNP.HCLReport(rawRepresentation: hcl)
        #expect(snpCode { try parsed.verifyRuntimeDataBinding() } == .runtimeDataMismatch)
        var tdx = hcl
        tdx[SEVSNP.HCLReport.runtimeDataOffset + 8] = 4  // report type TDX
        #expect(snpCode { _ = try SEVSNP.HCLReport(rawRepresentation: tdx) } == .wrongTEEType)
        hcl[0] = UInt8(ascii: "X")
        #expect(snpCode { _ = try SEVSNP.HCLReport(rawRepresentation: hcl) } == .malformed)
    }

    @Test func unsupportedVersion() throws {
        var (report, _) = try Self.trustee()
        report[0] = 1
        #expect(snpCode { _ = try SEVSNP.Report(rawRepresentation: report) } == .unsupportedVersion)
        report[0] = 6
        #expect(snpCode { _ = try SEVSNP.Report(rawRepresentation: report) } == .unsupportedVersion)
    }

    /// A Milan VCEK with the Genoa ASK/ARK bundle: the names do not chain to a Milan ARK.
    @Test func genoaChainForMilanVCEK() throws {
        let (report, _) = try Self.virtee()
        let bundle = try SEVSNPRow.bundle(["snp/virtee-sev/vcek_milan.der", "snp/go-sev-guest/ask_ark_genoa.pem"])
        let code = Self.verify(report, bundle)
        #expect(code == .certificateSignatureInvalid || code == .untrustedRoot, "got \(String(describing: code))")
    }

    /// An ARK-Milan in the bundle that is not the pinned one (one signature byte changed).
    @Test func suppliedARKDiffersFromPinned() throws {
        let (report, _) = try Self.virtee()
        var ark = SEVSNP.AMDRootKeys.milan.derRepresentation
        ark[ark.count - 1] ^= 0x01
        let forged = try SEVSNP.AMDCertificate(derEncoded: ark)
        var bundle = try SEVSNPRow.bundle(["snp/virtee-sev/vcek_milan.der"])
        try bundle.add(forged)
        let ask = try SEVSNPRow.bundle(["snp/virtee-sev/cert_chain_milan"]).asks[.milan]
        try bundle.add(try #require(ask))
        #expect(Self.verify(report, bundle) == .untrustedRoot)
        // A bundle may not hold two different ARK-Milan certificates.
        var full = try SEVSNPRow.bundle(["snp/virtee-sev/cert_chain_milan"])
        #expect(snpCode { try full.add(forged) } == .certificateChainMalformed)
    }

    /// An ASK from another ARK than the pinned ones (a trust store without Milan).
    @Test func milanNotPinned() throws {
        let (report, bundle) = try Self.virtee()
        let verifier = SEVSNP.ReportVerifier(trustAnchors: [.genoa: SEVSNP.AMDRootKeys.genoa])
        #expect(Self.verify(report, bundle, verifier: verifier) == .untrustedRoot)
    }

    /// The go-sev-guest VCEK (another chip) with the virtee report.
    @Test func vcekOfAnotherChip() throws {
        let (report, _) = try Self.virtee()
        let bundle = try SEVSNPRow.bundle(["snp/go-sev-guest/vcek.testcer", "snp/virtee-sev/cert_chain_milan"])
        #expect(Self.verify(report, bundle) == .chipIDMismatch)
    }

    @Test func signingKeyKindMustMatch() throws {
        let (vcekReport, _) = try Self.trustee()
        let vlekOnly = try SEVSNPRow.bundle(["snp/trustee/snp/test-vlek.der", "snp/trustee/milan_ask_ark_asvk.pem"])
        #expect(Self.verify(vcekReport, vlekOnly, now: instant("2025-06-01T00:00:00Z")) == .signingKeyMismatch)
        let vlekReport = try TestVectors.bytes("snp/trustee/snp/test-vlek-report.bin")
        let vcekOnly = try SEVSNPRow.bundle(["snp/trustee/snp/test-vcek.der", "snp/trustee/milan_ask_ark_asvk.pem"])
        #expect(Self.verify(vlekReport, vcekOnly, now: instant("2025-06-01T00:00:00Z")) == .signingKeyMismatch)
    }

    @Test func missingIntermediate() throws {
        let (report, _) = try Self.virtee()
        let bundle = try SEVSNPRow.bundle(["snp/virtee-sev/vcek_milan.der"])
        #expect(Self.verify(report, bundle) == .collateralMissing)
        // And the other way round: the ASK and ARK without the VCEK.
        #expect(Self.verify(report, try SEVSNPRow.bundle(["snp/virtee-sev/cert_chain_milan"])) == .collateralMissing)
    }

    @Test func certificatesNotYetValid() throws {
        let (report, bundle) = try Self.virtee()
        #expect(Self.verify(report, bundle, now: instant("2020-01-01T00:00:00Z")) == .certificateNotYetValid)
    }

    @Test func vcekExpired() throws {
        let (report, bundle) = try Self.virtee()
        #expect(Self.verify(report, bundle, now: instant("2031-01-01T00:00:00Z")) == .certificateExpired)
    }

    /// A VCEK whose RSA-PSS signature byte is changed no longer chains.
    @Test func tamperedVCEKSignature() throws {
        let (report, _) = try Self.virtee()
        var vcek = try TestVectors.bytes("snp/virtee-sev/vcek_milan.der")
        vcek[vcek.count - 1] ^= 0x01
        var bundle = try SEVSNPRow.bundle(["snp/virtee-sev/cert_chain_milan"])
        try bundle.add(SEVSNP.AMDCertificate(derEncoded: vcek))
        #expect(Self.verify(report, bundle) == .certificateSignatureInvalid)
    }

    @Test func notAnAMDCertificate() throws {
        #expect(snpCode { _ = try SEVSNP.CertificateBundle(files: [[0x30, 0x03, 0x02, 0x01, 0x00]]) } == .certificateChainMalformed)
        #expect(snpCode { _ = try SEVSNP.CertificateBundle(files: [Array("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8)]) } == .certificateChainMalformed)
    }
}
