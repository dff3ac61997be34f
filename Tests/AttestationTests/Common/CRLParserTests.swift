@testable import Attestation
import ByteEncoding
import Crypto
import Foundation
import SwiftASN1
import TestSupport
import Testing
import X509

/// The CRL parser walks the CRL lazily (``DERElements``); these tests hold it to SwiftASN1's
/// eager parse of the same bytes and to strict DER.
@Suite("Common: CRL parser (lazy DER walk)")
struct CRLParserTests {
    /// The real Intel PCK CRL and Root CA CRL of the dcap-qvl collateral.
    static func intelCRLs() throws -> [[UInt8]] {
        let j = try JSONValue(parsing: TestVectors.bytes("tdx/dcap-qvl/tdx_quote_collateral.json"))
        return try ["pck_crl", "root_ca_crl"].map { try Hex.decode(j[$0]!.string!) }
    }

    /// The revoked serials as SwiftASN1 reads them from a full parse (the oracle).
    static func eagerSerials(_ der: [UInt8]) throws -> [[UInt8]] {
        guard case .constructed(let top) = try DER.parse(der).content, let tbs = Array(top).first,
            case .constructed(let fields) = tbs.content
        else { Issue.record("not a CRL"); return [] }
        for f in fields where f.identifier == .sequence {
            guard case .constructed(let entries) = f.content else { continue }
            let list = Array(entries)
            // The revoked list is the SEQUENCE whose children are SEQUENCEs starting with an INTEGER.
            guard let first = list.first, case .constructed(let c) = first.content, Array(c).first?.identifier == .integer else { continue }
            return try list.map { e in
                guard case .constructed(let c) = e.content, let serial = Array(c).first else { return [] }
                return Array(try ArraySlice<UInt8>(derEncoded: serial).drop(while: { $0 == 0 }))
            }
        }
        return []
    }

    @Test func intelCRLsMatchTheEagerParse() throws {
        for der in try Self.intelCRLs() {
            let crl = try CertificateRevocationList(derEncoded: der)
            let serials = try Self.eagerSerials(der)
            #expect(crl.revokedCount == serials.count)
            for s in serials { #expect(crl.isRevoked(serialNumber: s)) }
            #expect(!crl.isRevoked(serialNumber: [0x01, 0x02, 0x03]))
            #expect(crl.signatureAlgorithm == .ecdsaWithSHA256)
            #expect(crl.nextUpdate > crl.thisUpdate)
            // The signed bytes are exactly the tbsCertList element.
            guard case .constructed(let top) = try DER.parse(der).content, let tbs = Array(top).first else { Issue.record("not a CRL"); continue }
            #expect(crl.tbsBytes == Array(tbs.encodedBytes))
        }
        // The PCK CRL lists serials: the revoked-list walk really ran.
        #expect(try CertificateRevocationList(derEncoded: Self.intelCRLs()[0]).revokedCount > 0)
    }

    @Test func longListsUseTheSetAndFindEverySerial() throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("CRL test CA") }
        let revoked = (1...200).map { i -> [UInt8] in [UInt8(i & 0x7F), UInt8(truncatingIfNeeded: i * 7), 0x80 | UInt8(i % 3)] }
        let der = try TDXTestPKI.crl(issuer: name, key: key, this: Date(timeIntervalSince1970: 1_700_000_000), next: Date(timeIntervalSince1970: 1_800_000_000), revoked: revoked)
        let crl = try CertificateRevocationList(derEncoded: der)
        #expect(crl.revokedCount == 200)
        for s in revoked { #expect(crl.isRevoked(serialNumber: s)) }
        #expect(!crl.isRevoked(serialNumber: [0x7F, 0x7F, 0x7F]))
        #expect(crl.isValidSignature(under: Certificate.PublicKey(key.publicKey)))
    }

    @Test func everyTruncationAndTrailingByteIsMalformed() throws {
        let der = try Self.intelCRLs()[0]
        for n in 0..<der.count {
            #expect(code { try CertificateRevocationList(derEncoded: Array(der[..<n])) } == .crlMalformed, "prefix \(n)")
        }
        #expect(code { try CertificateRevocationList(derEncoded: der + [0]) } == .crlMalformed)
    }

    @Test func nonMinimalLengthsAndIndefiniteFormsAreMalformed() throws {
        let der = try Self.intelCRLs()[1]  // the Root CA CRL: short enough for a one-byte long form
        #expect(der[0] == 0x30)
        // Re-encode the outer length with one more length byte than needed.
        let (lenBytes, body): ([UInt8], ArraySlice<UInt8>) = der[1] < 0x80 ? ([der[1]], der[2...]) : (Array(der[2..<2 + Int(der[1] & 0x7F)]), der[(2 + Int(der[1] & 0x7F))...])
        let padded = [0x30, 0x80 | UInt8(lenBytes.count + 1), 0] + lenBytes + Array(body)
        #expect(code { try CertificateRevocationList(derEncoded: padded) } == .crlMalformed)
        let indefinite = [0x30, 0x80] + Array(body) + [0, 0]
        #expect(code { try CertificateRevocationList(derEncoded: indefinite) } == .crlMalformed)
        // INTEGER contents (revoked serials) must be minimal.
        #expect(throws: AttestationError.self) { try DERElements.checkMinimalInteger([0x00, 0x01], code: .crlMalformed) }
        #expect(throws: AttestationError.self) { try DERElements.checkMinimalInteger([0xFF, 0x80], code: .crlMalformed) }
        #expect(throws: AttestationError.self) { try DERElements.checkMinimalInteger([], code: .crlMalformed) }
        try DERElements.checkMinimalInteger([0x00, 0x80], code: .crlMalformed)
        try DERElements.checkMinimalInteger([0x7F], code: .crlMalformed)
    }

    @Test func everySingleByteChangeIsRejectedOrParsedConsistently() throws {
        // Flipping any byte either fails as crlMalformed or parses into a CRL whose signature no
        // longer verifies under the issuer (the Intel Root CA signs the Root CA CRL): never a crash,
        // never a different valid CRL.
        let der = try Self.intelCRLs()[1]
        let rootKey = TDX.intelSGXRootCA.publicKey
        #expect(try CertificateRevocationList(derEncoded: der).isValidSignature(under: rootKey))
        for i in 0..<der.count {
            var t = der
            t[i] ^= 0x01
            switch Result(catching: { () throws(AttestationError) in try CertificateRevocationList(derEncoded: t) }) {
            case .success(let crl): #expect(!crl.isValidSignature(under: rootKey), "byte \(i)")
            case .failure(let e): #expect(e.code == .crlMalformed, "byte \(i)")
            }
        }
    }

    private func code(_ body: () throws -> Void) -> AttestationError.Code? {
        do { try body(); return nil } catch let e as AttestationError { return e.code } catch { return nil }
    }
}
