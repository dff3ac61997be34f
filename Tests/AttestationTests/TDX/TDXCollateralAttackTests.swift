import Attestation
import ByteEncoding
import Foundation
import TestSupport
import Testing

/// What one verification did: accepted, refused with a code, or failed some other way (which a
/// verifier must never do: every refusal is an ``AttestationError``).
private enum Outcome: Equatable, CustomStringConvertible {
    case accepted
    case refused(AttestationError.Code)
    case otherError(String)

    init(_ body: () throws -> Void) {
        do { try body(); self = .accepted } catch let e as AttestationError { self = .refused(e.code) } catch { self = .otherError("\(error)") }
    }

    var description: String {
        switch self {
        case .accepted: "accepted"
        case .refused(let c): "refused(\(c.rawValue))"
        case .otherError(let e): "otherError(\(e))"
        }
    }
}

/// A dcap-qvl `QuoteCollateralV3` JSON file as served, edited in place the way someone between
/// Intel PCS and the verifier could edit it, then read through ``TDX/CollateralParts`` exactly as
/// a file from disk would be.
private struct CollateralJSON {
    struct NotFound: Error, CustomStringConvertible { let description: String }

    var bytes: [UInt8]

    init(_ relative: String) throws { bytes = try TestVectors.bytes(relative) }

    /// The bytes of the string value of the top-level member `key`, between its quotes, escapes
    /// as served (inside `tcb_info` a quote reads `\"`).
    func valueRange(_ key: String) throws -> Range<Int> {
        let name = Array("\"\(key)\"".utf8)
        let hits = occurrences(of: name, in: bytes)
        guard hits.count == 1 else { throw NotFound(description: "member \(key) occurs \(hits.count) times") }
        var i = hits[0] + name.count
        func skipSpace() { while i < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) { i += 1 } }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw NotFound(description: "no ':' after \(key)") }
        i += 1
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw NotFound(description: "\(key) is not a string") }
        let start = i + 1
        var j = start
        while j < bytes.count, bytes[j] != UInt8(ascii: "\"") { j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1 }
        guard j < bytes.count else { throw NotFound(description: "\(key) is not terminated") }
        return start..<j
    }

    /// Replaces the one occurrence of `old` inside `key`'s value by `new` (same length).
    func replacing(_ old: String, with new: String, in key: String) throws -> CollateralJSON {
        let o = Array(old.utf8), n = Array(new.utf8)
        precondition(o.count == n.count)
        let range = try valueRange(key)
        let hits = occurrences(of: o, in: Array(bytes[range]))
        guard hits.count == 1 else { throw NotFound(description: "\(old) occurs \(hits.count) times in \(key)") }
        var out = self
        out.bytes.replaceSubrange((range.lowerBound + hits[0])..<(range.lowerBound + hits[0] + o.count), with: n)
        return out
    }

    /// `key`'s value decoded from hex (signatures, CRLs).
    func hexValue(_ key: String) throws -> [UInt8] {
        let text = String(decoding: bytes[try valueRange(key)], as: UTF8.self)
        let decoded = try Hex.decode(text)
        // Re-encoding must give the served text back, so that an edit changes nothing else.
        guard Hex.encode(decoded) == text else { throw NotFound(description: "\(key) is not lowercase hex") }
        return decoded
    }

    /// `key`'s value replaced by the lowercase hex of `value`.
    func settingHexValue(_ key: String, _ value: [UInt8]) throws -> CollateralJSON {
        var out = self
        out.bytes.replaceSubrange(try valueRange(key), with: Array(Hex.encode(value).utf8))
        return out
    }

    /// `key`'s decoded hex value with byte `index` (negative: from the end) XORed with `mask`.
    func flippingHexByte(_ key: String, at index: Int, mask: UInt8 = 0x01) throws -> CollateralJSON {
        var value = try hexValue(key)
        value[index >= 0 ? index : value.count + index] ^= mask
        return try settingHexValue(key, value)
    }

    /// `key`'s decoded hex value with the last byte of the one occurrence of `pattern` XORed with `mask`.
    func flippingHexByte(_ key: String, endOf pattern: [UInt8], mask: UInt8 = 0x01) throws -> CollateralJSON {
        var value = try hexValue(key)
        let hits = occurrences(of: pattern, in: value)
        guard hits.count == 1 else { throw NotFound(description: "pattern occurs \(hits.count) times in \(key)") }
        value[hits[0] + pattern.count - 1] ^= mask
        return try settingHexValue(key, value)
    }

    /// `key`'s value taken from `other` (a piece of another, genuinely signed collateral file).
    func taking(_ key: String, from other: CollateralJSON) throws -> CollateralJSON {
        var out = self
        out.bytes.replaceSubrange(try valueRange(key), with: other.bytes[try other.valueRange(key)])
        return out
    }

    /// `key`'s value replaced by `other`'s value of `otherKey`.
    func taking(_ key: String, fromMember otherKey: String) throws -> CollateralJSON {
        var out = self
        out.bytes.replaceSubrange(try valueRange(key), with: bytes[try valueRange(otherKey)])
        return out
    }

    /// The collateral for `fmspc`, read as ``TDX/CollateralParts`` reads a file.
    func collateral(for fmspc: FixedBytes<6>) throws -> TDX.Collateral {
        var parts = TDX.CollateralParts()
        try parts.add(fileContents: bytes, name: "tdx_quote_collateral.json (edited)")
        return try parts.complete(for: fmspc)
    }
}

/// Every index at which `needle` starts in `haystack`.
private func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
    guard !needle.isEmpty, haystack.count >= needle.count else { return [] }
    return (0...(haystack.count - needle.count)).filter { i in haystack[i..<(i + needle.count)].elementsEqual(needle) }
}

/// One attack on real collateral: an edit and the code the verifier must refuse it with.
private struct RealAttack: Sendable, CustomTestStringConvertible {
    let name: String
    /// Whether the attack changes exactly one byte of the served file.
    let oneByte: Bool
    let expected: AttestationError.Code
    let edit: @Sendable (CollateralJSON) throws -> CollateralJSON
    var testDescription: String { name }
}

@Suite("TDX: attacks on collateral")
struct TDXCollateralAttackTests {
    // MARK: - 1. Real Intel collateral, edited

    static let quotePath = "tdx/dcap-qvl/tdx_quote"
    static let collateralPath = "tdx/dcap-qvl/tdx_quote_collateral.json"
    static let now = instant("2025-07-01T00:00:00Z")
    /// The DER UTCTime of the PCK CRL's nextUpdate (250719100035Z) up to its month: the only
    /// time in July (thisUpdate and every revocation date are 2025-06-19).
    static let pckCRLNextUpdateToMonth: [UInt8] = [0x17, 0x0d] + Array("2507".utf8)
    /// The first serial number the PCK CRL revokes (INTEGER, 20 bytes).
    static let pckCRLFirstRevokedSerial: [UInt8] = [0x02, 0x14] + (try! Hex.decode("6fc34e5023e728923435d61aa4b83c618166ad35"))

    fileprivate static let realAttacks: [RealAttack] = [
        // One byte of the signed TCB Info body: nextUpdate moved from July to August, so stale
        // TCB Info would outlive its window. JSON stays valid; only the signature can tell.
        RealAttack(name: "TCB Info body: one byte (nextUpdate month)", oneByte: true, expected: .tcbInfoSignatureInvalid) {
            try $0.replacing(#"nextUpdate\":\"2025-07"#, with: #"nextUpdate\":\"2025-08"#, in: "tcb_info")
        },
        RealAttack(name: "TCB Info signature: one byte of r", oneByte: true, expected: .tcbInfoSignatureInvalid) {
            try $0.flippingHexByte("tcb_info_signature", at: 5)
        },
        RealAttack(name: "TCB Info signature: one byte of s", oneByte: true, expected: .tcbInfoSignatureInvalid) {
            try $0.flippingHexByte("tcb_info_signature", at: 63)
        },
        RealAttack(name: "QE Identity body: one byte (nextUpdate month)", oneByte: true, expected: .qeIdentitySignatureInvalid) {
            try $0.replacing(#"nextUpdate\":\"2025-07"#, with: #"nextUpdate\":\"2025-08"#, in: "qe_identity")
        },
        RealAttack(name: "QE Identity signature: one byte of r", oneByte: true, expected: .qeIdentitySignatureInvalid) {
            try $0.flippingHexByte("qe_identity_signature", at: 5)
        },
        RealAttack(name: "QE Identity signature: one byte of s", oneByte: true, expected: .qeIdentitySignatureInvalid) {
            try $0.flippingHexByte("qe_identity_signature", at: 63)
        },
        // The last byte of a DER CRL is the last byte of s in its ECDSA-Sig-Value: the CRL still parses.
        RealAttack(name: "PCK CRL signature: last byte", oneByte: true, expected: .crlSignatureInvalid) {
            try $0.flippingHexByte("pck_crl", at: -1)
        },
        // Un-revoking a certificate: one byte of a revoked serial number.
        RealAttack(name: "PCK CRL body: one byte of a revoked serial", oneByte: true, expected: .crlSignatureInvalid) {
            try $0.flippingHexByte("pck_crl", endOf: Self.pckCRLFirstRevokedSerial)
        },
        // Keeping a stale CRL alive: nextUpdate month 07 → 08 ('7' ^ 0x0f = '8'; still a UTCTime).
        RealAttack(name: "PCK CRL body: one byte of nextUpdate", oneByte: true, expected: .crlSignatureInvalid) {
            try $0.flippingHexByte("pck_crl", endOf: Self.pckCRLNextUpdateToMonth, mask: 0x0f)
        },
        RealAttack(name: "Root CA CRL signature: last byte", oneByte: true, expected: .crlSignatureInvalid) {
            try $0.flippingHexByte("root_ca_crl", at: -1)
        },
        // Genuine Intel signatures, wrong documents.
        RealAttack(name: "Intel-signed SGX TCB Info instead of TDX TCB Info", oneByte: false, expected: .collateralTypeMismatch) {
            let sgx = try CollateralJSON("tdx/dcap-qvl/sgx_quote_collateral.json")
            return try $0.taking("tcb_info", from: sgx).taking("tcb_info_signature", from: sgx).taking("tcb_info_issuer_chain", from: sgx)
        },
        RealAttack(name: "Intel-signed SGX QE Identity instead of TD_QE", oneByte: false, expected: .collateralTypeMismatch) {
            let sgx = try CollateralJSON("tdx/dcap-qvl/sgx_quote_collateral.json")
            return try $0.taking("qe_identity", from: sgx).taking("qe_identity_signature", from: sgx).taking("qe_identity_issuer_chain", from: sgx)
        },
        // A CRL that revokes nothing the PCK CA issued (genuinely signed, by another issuer).
        RealAttack(name: "Root CA CRL served as the PCK CRL", oneByte: false, expected: .crlSignatureInvalid) {
            try $0.taking("pck_crl", fromMember: "root_ca_crl")
        },
        RealAttack(name: "PCK CRL served as the Root CA CRL", oneByte: false, expected: .crlSignatureInvalid) {
            try $0.taking("root_ca_crl", fromMember: "pck_crl")
        },
    ]

    static func realQuote() throws -> (TDX.Quote, FixedBytes<6>) {
        let quote = try TDX.Quote(rawRepresentation: TestVectors.bytes(quotePath))
        let chain = try CertificateChain(pemEncoded: String(decoding: quote.pckCertificateChainPEM, as: UTF8.self))
        return (quote, try TDX.PCKExtensions(certificate: chain.leaf).fmspc)
    }

    /// The unedited file verifies (UpToDate): every refusal below is the edit's doing.
    @Test func realCollateralVerifiesUnedited() throws {
        let (quote, fmspc) = try Self.realQuote()
        let collateral = try CollateralJSON(Self.collateralPath).collateral(for: fmspc)
        let verified = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: Self.now)
        #expect(verified.tcb?.status == .upToDate)
    }

    @Test(arguments: realAttacks)
    fileprivate func realCollateralEdited(_ attack: RealAttack) throws {
        let (quote, fmspc) = try Self.realQuote()
        let original = try CollateralJSON(Self.collateralPath)
        let edited = try attack.edit(original)
        if attack.oneByte {
            #expect(edited.bytes.count == original.bytes.count)
            #expect(zip(edited.bytes, original.bytes).filter { $0 != $1 }.count == 1, "the edit changes exactly one byte of the file")
        } else {
            #expect(edited.bytes != original.bytes)
        }
        let collateral = try edited.collateral(for: fmspc)
        // Both with a fresh verifier and with a warm shared cache holding the genuine results.
        let warm = TDX.QuoteVerifier(cache: VerificationCache())
        _ = try warm.verify(quote, collateral: original.collateral(for: fmspc), now: Self.now)
        for verifier in [TDX.QuoteVerifier(), warm] {
            #expect(Outcome { _ = try verifier.verify(quote, collateral: collateral, now: Self.now) } == .refused(attack.expected))
        }
    }

    // MARK: - 2. Minted collateral, correctly signed: only the semantic checks can refuse

    fileprivate struct MintedAttack: Sendable, CustomTestStringConvertible {
        let name: String
        let quoteVersion: UInt16
        /// Applied to both the control and the attacked PKI.
        let base: @Sendable (inout TDXTestPKI.Options) -> Void
        /// Applied on top of `base` for the attacked PKI only.
        let attack: @Sendable (inout TDXTestPKI.Options) -> Void
        let expected: AttestationError.Code
        var testDescription: String { name }
    }

    static let otherSigner = [UInt8](repeating: 0xee, count: 48)

    fileprivate static let mintedAttacks: [MintedAttack] = [
        // The MRSIGNER of Intel's SGX QE (not the TD QE): another enclave signed by Intel.
        MintedAttack(
            name: "QE Identity for another MRSIGNER", quoteVersion: 4, base: { _ in },
            attack: { $0.qeIdentityMRSigner = try! FixedBytes(hex: "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff") },
            expected: .qeIdentityMismatch),
        MintedAttack(
            name: "QE Identity for another ISVPRODID", quoteVersion: 4, base: { _ in },
            attack: { $0.qeIdentityISVProdID = 1 }, expected: .qeIdentityMismatch),
        MintedAttack(
            name: "TCB Info for another PCE ID", quoteVersion: 4, base: { _ in },
            attack: { $0.tcbInfoPCEID = "0001" }, expected: .pceIDMismatch),
        MintedAttack(
            name: "v4: MRSIGNERSEAM is not TCB Info's tdxModule signer", quoteVersion: 4, base: { _ in },
            attack: { $0.mrSignerSeam = try! FixedBytes(otherSigner) }, expected: .tdxModuleMismatch),
        // TD 1.5: TEE_TCB_SVN major 3 needs identity TDX_03; TCB Info lists only TDX_01.
        MintedAttack(
            name: "v5: TDX module identity TDX_03 not listed", quoteVersion: 5,
            base: {
                $0.teeTCBSVN = try! FixedBytes(hex: "03030000000000000000000000000000")
                $0.tcbInfoModuleIdentities = [.init(id: "TDX_01"), .init(id: "TDX_03")]
            },
            attack: { $0.tcbInfoModuleIdentities = [.init(id: "TDX_01")] }, expected: .tdxModuleMismatch),
        // TD 1.5: the identity's MRSIGNERSEAM governs, not the base tdxModule's (here the attacker's).
        MintedAttack(
            name: "v5: MRSIGNERSEAM is not the TDX_01 identity's signer", quoteVersion: 5,
            base: {
                $0.teeTCBSVN = try! FixedBytes(hex: "03010000000000000000000000000000")
                $0.tcbInfoModuleIdentities = [.init(id: "TDX_01")]
                $0.tcbInfoModuleMRSigner = try! FixedBytes(otherSigner)
            },
            attack: { $0.mrSignerSeam = try! FixedBytes(otherSigner) }, expected: .tdxModuleMismatch),
    ]

    @Test(arguments: mintedAttacks)
    fileprivate func mintedCollateralMismatch(_ attack: MintedAttack) throws {
        var options = TDXTestPKI.Options()
        attack.base(&options)
        let control = try TDXTestPKI(options)
        let verified = try TDX.QuoteVerifier(trustAnchor: control.root).verify(quoteBytes: control.quote(version: attack.quoteVersion), collateral: control.collateral, now: TDXTestPKI.validInstant)
        #expect(verified.tcb?.status == .upToDate, "control: the same PKI without the attacked field verifies")

        attack.attack(&options)
        let pki = try TDXTestPKI(options)
        let quote = try pki.quote(version: attack.quoteVersion)
        #expect(Outcome { _ = try TDX.QuoteVerifier(trustAnchor: pki.root).verify(quoteBytes: quote, collateral: pki.collateral, now: TDXTestPKI.validInstant) } == .refused(attack.expected))
    }

    /// TCB Info and QE Identity signed with a key whose certificate chains to the root but is
    /// not the TCB Signing certificate: one platform's extracted PCK key (its chain is PCK → PCK
    /// CA → root). Such a key must not be able to mark every platform UpToDate.
    @Test(arguments: ["TCB Info", "QE Identity"])
    func collateralSignedWithAPlatformKey(document: String) throws {
        var options = TDXTestPKI.Options()
        options.tcbStatus = "OutOfDate"
        let pki = try TDXTestPKI(options)
        let quote = try pki.quote()
        let verifier = TDX.QuoteVerifier(trustAnchor: pki.root)
        #expect(try verifier.verify(quoteBytes: quote, collateral: pki.collateral, now: TDXTestPKI.validInstant).tcb?.status == .outOfDate)

        var forged = pki.collateral
        let pckChain = CertificateChain([pki.pck, pki.pckCA, pki.root])
        if document == "TCB Info" {
            let body = String(decoding: pki.collateral.tcbInfo.signedBytes, as: UTF8.self)
                .replacingOccurrences(of: #""tcbStatus":"OutOfDate","advisoryIDs":["INTEL-SA-00837"]"#, with: #""tcbStatus":"UpToDate","advisoryIDs":[]"#)
            forged.tcbInfo = try TDX.SignedDocument(signedBytes: Array(body.utf8), signatureHex: pki.signatureByPCKKey(over: Array(body.utf8)), name: "tcbInfo")
            #expect(forged.tcbInfo.body.tcbLevels.map(\.tcbStatus) == [.upToDate])
            forged.tcbInfoIssuerChain = pckChain
        } else {
            let body = pki.collateral.qeIdentity.signedBytes
            forged.qeIdentity = try TDX.SignedDocument(signedBytes: body, signatureHex: pki.signatureByPCKKey(over: body), name: "qeIdentity")
            forged.qeIdentityIssuerChain = pckChain
        }
        #expect(Outcome { _ = try verifier.verify(quoteBytes: quote, collateral: forged, now: TDXTestPKI.validInstant) } == .refused(.certificateChainMalformed))

        // The PCK CA's chain has the right length (CA, root), but its leaf is a CA: not a signer.
        var byCA = pki.collateral
        let caChain = CertificateChain([pki.pckCA, pki.root])
        let body = String(decoding: pki.collateral.tcbInfo.signedBytes, as: UTF8.self)
            .replacingOccurrences(of: #""tcbStatus":"OutOfDate","advisoryIDs":["INTEL-SA-00837"]"#, with: #""tcbStatus":"UpToDate","advisoryIDs":[]"#)
        byCA.tcbInfo = try TDX.SignedDocument(signedBytes: Array(body.utf8), signatureHex: pki.signatureByPCKCAKey(over: Array(body.utf8)), name: "tcbInfo")
        byCA.tcbInfoIssuerChain = caChain
        #expect(Outcome { _ = try verifier.verify(quoteBytes: quote, collateral: byCA, now: TDXTestPKI.validInstant) } == .refused(.certificateChainMalformed))
    }

    // MARK: - 3. Tamper walk over the PCK chain inside the quote

    /// Where a flipped base64 character lands, and which codes may refuse it.
    enum Position: Hashable {
        /// The character is no longer base64.
        case notBase64
        /// Inside the r or s value (not its first byte) of a leaf or intermediate's signature.
        case signatureValue(certificate: Int)
        /// Elsewhere in the leaf (0) or the PCK CA (1).
        case body(certificate: Int)
        /// In the root certificate, which must be byte-equal to the pinned one.
        case root

        var allowed: Set<AttestationError.Code> {
            switch self {
            case .notBase64: [.certificateChainMalformed]
            case .signatureValue: [.certificateSignatureInvalid]
            case .body: [.certificateSignatureInvalid, .certificateChainMalformed]
            case .root: [.untrustedRoot, .certificateChainMalformed]
            }
        }
    }

    /// The byte ranges of r and s (each without its first byte, which can decide the INTEGER's
    /// encoding) inside a DER certificate whose last element is an ECDSA signature BIT STRING.
    static func signatureValueRanges(_ der: [UInt8]) -> [Range<Int>] {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
        func header(_ i: Int) -> (content: Int, length: Int) {
            let first = Int(der[i + 1])
            guard first & 0x80 != 0 else { return (i + 2, first) }
            let n = first & 0x7f
            return (i + 2 + n, (0..<n).reduce(0) { $0 << 8 | Int(der[i + 2 + $1]) })
        }
        let outer = header(0)
        let tbs = header(outer.content)
        let alg = header(tbs.content + tbs.length)
        let bitString = alg.content + alg.length
        precondition(der[bitString] == 0x03)
        let bits = header(bitString)
        let seq = bits.content + 1  // after the unused-bits octet
        precondition(der[seq] == 0x30)
        let r = header(seq).content
        precondition(der[r] == 0x02)
        let rValue = header(r)
        let s = rValue.content + rValue.length
        precondition(der[s] == 0x02)
        let sValue = header(s)
        precondition(sValue.content + sValue.length == der.count)
        return [(rValue.content + 1)..<(rValue.content + rValue.length), (sValue.content + 1)..<(sValue.content + sValue.length)]
    }

    /// Flips bit 0 of every byte between BEGIN and END of the three certificates in the real
    /// quote's PEM chain (every base64 character and line break, no stride; the BEGIN/END lines
    /// themselves are not walked) and verifies each: every one must be refused, with a code
    /// allowed for its position. A full walk takes about 3 s in a debug build.
    @Test func pckChainTamperWalk() throws {
        let bytes = try TestVectors.bytes(Self.quotePath)
        let (quote, fmspc) = try Self.realQuote()
        let collateral = try CollateralJSON(Self.collateralPath).collateral(for: fmspc)
        let verifier = TDX.QuoteVerifier(cache: VerificationCache())
        _ = try verifier.verify(quote, collateral: collateral, now: Self.now)

        let pem = quote.pckCertificateChainPEM
        let pemStart = try #require(occurrences(of: pem, in: bytes).first)
        let begin = Array("-----BEGIN CERTIFICATE-----".utf8), end = Array("-----END CERTIFICATE-----".utf8)
        let begins = occurrences(of: begin, in: pem), ends = occurrences(of: end, in: pem)
        try #require(begins.count == 3 && ends.count == 3)
        let alphabet = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))

        var positions = [(offset: Int, position: Position)]()
        for c in 0..<3 {
            let body = (begins[c] + begin.count)..<ends[c]
            let text = Array(pem[body])
            let der = try #require(Data(base64Encoded: Data(text), options: .ignoreUnknownCharacters)).map { $0 }
            let signature = c < 2 ? Self.signatureValueRanges(der) : []
            var k = 0  // index among base64 characters (padding included)
            for i in body {
                let isLineBreak = pem[i] == 0x0a || pem[i] == 0x0d
                defer { if !isLineBreak { k += 1 } }
                let position: Position
                if !alphabet.contains(pem[i] ^ 0x01) {
                    position = .notBase64
                } else if c == 2 {
                    position = .root
                } else {
                    let bytesHit = (6 * k / 8)...((6 * k + 5) / 8)
                    position =
                        signature.contains { $0.contains(bytesHit.lowerBound) && $0.contains(bytesHit.upperBound) }
                        ? .signatureValue(certificate: c) : .body(certificate: c)
                }
                positions.append((pemStart + i, position))
            }
        }

        let clock = ContinuousClock()
        var seen = [Position: [AttestationError.Code: Int]]()
        var wrong = [String]()
        let elapsed = clock.measure {
            for (offset, position) in positions {
                var t = bytes
                t[offset] ^= 0x01
                let outcome = Outcome { _ = try verifier.verify(quoteBytes: t, collateral: collateral, now: Self.now) }
                guard case .refused(let code) = outcome, position.allowed.contains(code) else {
                    wrong.append("offset \(offset) (\(position)): \(outcome)")
                    continue
                }
                seen[position, default: [:]][code, default: 0] += 1
            }
        }
        #expect(positions.count > 3500, "walked \(positions.count) offsets")
        #expect(wrong.isEmpty, "\(wrong.count) of \(positions.count) flips not refused as expected: \(wrong.prefix(20))")
        // Every class of position was reached and refused with its own code.
        #expect(seen[.signatureValue(certificate: 0)]?[.certificateSignatureInvalid] ?? 0 > 0)
        #expect(seen[.signatureValue(certificate: 1)]?[.certificateSignatureInvalid] ?? 0 > 0)
        #expect(seen[.body(certificate: 0)]?[.certificateSignatureInvalid] ?? 0 > 0)
        #expect(seen[.body(certificate: 1)]?[.certificateSignatureInvalid] ?? 0 > 0)
        #expect(seen[.notBase64]?[.certificateChainMalformed] ?? 0 > 0)
        #expect(
            [Position.body(certificate: 0), .body(certificate: 1), .root].contains { (seen[$0]?[.certificateChainMalformed] ?? 0) > 0 },
            "some flips leave valid base64 but unparsable DER")
        #expect(seen[.root]?[.untrustedRoot] ?? 0 > 0)
        print(
            "PCK chain tamper walk: \(positions.count) offsets in \(elapsed); \(seen.sorted { "\($0.key)" < "\($1.key)" }.map { "\($0.key): \($0.value.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: ","))" }.joined(separator: "; "))"
        )
    }
}
