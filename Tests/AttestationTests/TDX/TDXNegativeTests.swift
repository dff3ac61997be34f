import Attestation
import ByteEncoding
import Crypto
import Foundation
import TestSupport
import Testing

private func code(_ body: () throws -> Void) -> AttestationError.Code? {
    do { try body(); return nil } catch let e as AttestationError { return e.code } catch { return nil }
}

@Suite("TDX: minted PKI, expiry, revocation, wrong root")
struct TDXMintedTests {
    @Test(arguments: [UInt16(4), 5])
    func mintedQuoteVerifies(version: UInt16) throws {
        let pki = try TDXTestPKI()
        let quote = try TDX.Quote(rawRepresentation: pki.quote(version: version))
        let v = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quote, collateral: pki.collateral, now: TDXTestPKI.validInstant)
        #expect(v.tcb?.status == .upToDate)
        #expect((quote.report.teeTCBSVN2 != nil) == (version == 5))
        #expect(TDX.Validator().validate(v).isAccepted)
    }

    /// Each piece of collateral out of its window, alone, with the code it must give.
    static let windows: [(String, @Sendable (inout TDXTestPKI.Options) -> Void, AttestationError.Code)] = [
        ("TCB Info expired", { $0.tcbInfoNext = instant("2030-01-10T00:00:00Z") }, .tcbInfoExpired),
        ("TCB Info not yet valid", { $0.tcbInfoIssue = instant("2030-01-20T00:00:00Z") }, .tcbInfoNotYetValid),
        ("QE Identity expired", { $0.qeIdentityNext = instant("2030-01-10T00:00:00Z") }, .qeIdentityExpired),
        ("QE Identity not yet valid", { $0.qeIdentityIssue = instant("2030-01-20T00:00:00Z") }, .qeIdentityNotYetValid),
        ("PCK CRL expired", { $0.pckCRLNext = instant("2030-01-10T00:00:00Z") }, .crlExpired),
        ("PCK CRL not yet valid (thisUpdate)", { $0.pckCRLThis = instant("2030-01-20T00:00:00Z") }, .crlNotYetValid),
        ("Root CA CRL expired", { $0.rootCRLNext = instant("2030-01-10T00:00:00Z") }, .crlExpired),
        ("Root CA CRL not yet valid (thisUpdate)", { $0.rootCRLThis = instant("2030-01-20T00:00:00Z") }, .crlNotYetValid),
        ("PCK certificate expired", { $0.pckNotAfter = instant("2030-01-10T00:00:00Z") }, .certificateExpired),
        ("certificates not yet valid", { $0.notBefore = instant("2030-01-20T00:00:00Z") }, .certificateNotYetValid),
        ("PCK serial revoked", { $0.revokePCK = true }, .certificateRevoked),
    ]

    @Test(arguments: 0..<windows.count)
    func collateralOutsideItsWindow(index: Int) throws {
        let (_, mutate, expected) = Self.windows[index]
        var options = TDXTestPKI.Options()
        mutate(&options)
        let pki = try TDXTestPKI(options)
        let quote = try TDX.Quote(rawRepresentation: pki.quote())
        #expect(code { _ = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quote, collateral: pki.collateral, now: TDXTestPKI.validInstant) } == expected)
    }

    @Test func revocationNamesThePCKCRL() throws {
        var options = TDXTestPKI.Options()
        options.revokePCK = true
        let pki = try TDXTestPKI(options)
        #expect(throws: AttestationError.self) {
            _ = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quoteBytes: pki.quote(), collateral: pki.collateral, now: TDXTestPKI.validInstant)
        }
        // The same PKI without the revocation verifies: the revocation is what failed.
        let clean = try TDXTestPKI()
        #expect(throws: Never.self) {
            _ = try TDX.QuoteVerifier(trustAnchor: clean.root).verify(quoteBytes: clean.quote(), collateral: clean.collateral, now: TDXTestPKI.validInstant)
        }
    }

    @Test func wrongRootIsRejected() throws {
        let pki = try TDXTestPKI()
        // A minted quote against the real Intel root, and a real quote against the minted root.
        #expect(code { _ = try TDX.QuoteVerifier().verify(quoteBytes: pki.quote(), collateral: pki.collateral, now: TDXTestPKI.validInstant) } == .untrustedRoot)
        let (quote, collateral) = try TDXRow.all[0].load()
        #expect(code { _ = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quote, collateral: collateral, now: instant(TDXRow.all[0].at)) } == .untrustedRoot)
    }

    @Test func debugTDIsRejectedUnlessAllowed() throws {
        let pki = try TDXTestPKI()
        let v = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quoteBytes: pki.quote(debug: true), collateral: pki.collateral, now: TDXTestPKI.validInstant)
        #expect(v.claims.debug)
        #expect(TDX.Validator().validate(v).failures.map(\.code) == [.debugNotAllowed])
        #expect(TDX.Validator(allowDebug: true).validate(v).isAccepted)
    }

    @Test func tcbStatusMustBeAccepted() throws {
        var options = TDXTestPKI.Options()
        options.tcbStatus = "OutOfDate"
        let pki = try TDXTestPKI(options)
        let v = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quoteBytes: pki.quote(debug: true), collateral: pki.collateral, now: TDXTestPKI.validInstant)
        #expect(v.tcb == TDX.TCBVerdict(status: .outOfDate, advisoryIDs: ["INTEL-SA-00837"]))
        // Every failure is listed, not the first.
        #expect(Set(TDX.Validator().validate(v).failures.map(\.code)) == [.tcbStatusNotAccepted, .debugNotAllowed])
        #expect(TDX.Validator(acceptedTCBStatuses: [.upToDate, .outOfDate], allowDebug: true).validate(v).isAccepted)
    }
}

@Suite("TDX: real-vector negatives")
struct TDXRealNegativeTests {
    @Test func sgxQuoteHasItsOwnCode() throws {
        let bytes = try TestVectors.bytes("tdx/dcap-qvl/sgx_quote")
        #expect(code { _ = try TDX.Quote(rawRepresentation: bytes) } == .wrongTEEType)
    }

    @Test func collateralOfAnotherFMSPC() throws {
        let quote = try TDX.Quote(rawRepresentation: TestVectors.bytes("tdx/dcap-qvl/tdx_quote"))
        var parts = TDX.CollateralParts()
        try parts.add(path: TestVectors.path("tdx/dcap-qvl/tdx_quote_outdated_collateral.json"))
        let collateral = try parts.complete(for: nil)
        #expect(code { _ = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant("2026-03-01T00:00:00Z")) } == .fmspcMismatch)
    }

    @Test func expiredAfterTheWindow() throws {
        let (quote, collateral) = try TDXRow.all[0].load()
        let after = code { _ = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant("2025-07-19T10:00:36Z")) }
        #expect([.crlExpired, .tcbInfoExpired, .qeIdentityExpired].contains(after))
        let before = code { _ = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant("2025-06-19T10:32:26Z")) }
        #expect([.crlNotYetValid, .tcbInfoNotYetValid, .qeIdentityNotYetValid].contains(before))
    }

    /// MANIFEST: the SPR E4 PCK chain is valid in 2023 and expired by 2053 ("after 2029-09-20T13:20:31Z").
    @Test func pckChainExpiresIn2053() throws {
        let row = TDXRow.all[3]
        let (quote, collateral) = try row.load()
        #expect(code { _ = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant("2053-07-01T01:00:00Z")) } == .certificateExpired)
        #expect(throws: Never.self) { _ = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant(row.at)) }
    }

    /// go-tdx-guest verify_test.go TestNegativeVerification: one byte set at an offset.
    static let goTDXGuestCases: [(Int, UInt8, AttestationError.Code)] = [
        (0x00, 3, .unsupportedVersion),
        (0x278, 0x10, .truncated),
        (0x1343, 0x32, .certificateChainMalformed),
        (0x1329, 0x32, .untrustedRoot),
        (0xF5F, 0x32, .certificateSignatureInvalid),
        (0xB77, 0x32, .certificateSignatureInvalid),
        (0x1E, 0x32, .quoteSignatureInvalid),
        (0x3C, 0x32, .quoteSignatureInvalid),
    ]

    @Test(arguments: 0..<goTDXGuestCases.count)
    func goTDXGuestNegative(index: Int) throws {
        let (offset, value, expected) = Self.goTDXGuestCases[index]
        let row = TDXRow.all[3]
        let (_, collateral) = try row.load()
        var bytes = try TestVectors.bytes(row.quote)
        #expect(bytes[offset] != value)
        bytes[offset] = value
        #expect(code { _ = try TDX.QuoteVerifier().verify(quoteBytes: bytes, collateral: collateral, now: instant(row.at)) } == expected)
    }

    @Test func embeddedRootIsIntelsRoot() throws {
        let der = try TestVectors.bytes("tdx/dcap-qvl/TrustedRootCA.der")
        #expect(Hex.encode(SHA256.hash(data: der)) == TDX.intelSGXRootCASHA256)
        #expect(CertificateChain([TDX.intelSGXRootCA]).derEncodings[0] == der)
    }
}

@Suite("TDX: tamper and truncation walks")
struct TDXWalkTests {
    /// Byte ranges the quote's signatures cover: header and body, the ECDSA signature and
    /// attestation key, the QE report, its signature and the QE auth data.
    static func signedRanges(_ q: TDX.Quote) -> [Range<Int>] {
        let sigStart = q.signedBytes.count + 4
        let qeStart = sigStart + 128 + 6
        return [0..<q.signedBytes.count, sigStart..<(sigStart + 128), qeStart..<(qeStart + 384 + 64 + 2 + q.qeAuthData.count)]
    }

    @Test(arguments: [0, 4])
    func everySignedByteMatters(rowIndex: Int) throws {
        let row = TDXRow.all[rowIndex]
        let (quote, collateral) = try row.load()
        let bytes = quote.rawRepresentation
        let verifier = TDX.QuoteVerifier(cache: VerificationCache())
        let now = instant(row.at)
        _ = try verifier.verify(quote, collateral: collateral, now: now)
        var walked = 0
        var accepted = [Int]()
        for range in Self.signedRanges(quote) {
            for i in range {
                var t = bytes
                t[i] ^= 0xff
                walked += 1
                if (try? verifier.verify(quoteBytes: t, collateral: collateral, now: now)) != nil { accepted.append(i) }
            }
        }
        #expect(walked > 1200)
        #expect(accepted.isEmpty, "tampered bytes that still verified: \(accepted.prefix(20))")
    }

    @Test(arguments: [0, 1, 3, 4])
    func everyTruncationIsATypedError(rowIndex: Int) throws {
        let bytes = try TDX.Quote(bytesOrText: TestVectors.bytes(TDXRow.all[rowIndex].quote)).rawRepresentation
        var wrong = [Int]()
        for n in 0..<bytes.count {
            do { _ = try TDX.Quote(rawRepresentation: Array(bytes[0..<n])); wrong.append(n) } catch {
                if error.code != .truncated { wrong.append(n) }
            }
        }
        #expect(wrong.isEmpty, "prefix lengths not rejected as truncated: \(wrong.prefix(20))")
        #expect(throws: Never.self) { _ = try TDX.Quote(rawRepresentation: bytes + [0, 1, 2, 3]) }
    }

    @Test func hexTextForms() throws {
        let binary = try TestVectors.bytes("tdx/dcap-qvl/tdx_quote")
        let hex = Hex.encode(binary)
        for text in [hex, "0x" + hex, hex.uppercased() + "\n", "  0X" + hex + "\r\n"] {
            let q = try TDX.Quote(bytesOrText: Array(text.utf8))
            #expect(q.rawRepresentation == Array(binary[0..<q.rawRepresentation.count]))
        }
        #expect(code { _ = try TDX.Quote(bytesOrText: Array(("0x" + hex.dropLast()).utf8)) } == .badEncoding)
    }
}
