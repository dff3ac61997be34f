import Foundation
import SwiftASN1
import X509

/// An X.509 v2 certificate revocation list (RFC 5280 §5), parsed from DER.
///
/// Written by hand on SwiftASN1 because swift-certificates parses certificates, CSRs and OCSP
/// but not CRLs. Only what revocation checking needs is kept: issuer, validity window, the
/// revoked serial numbers, and the signed bytes with their signature.
public struct CertificateRevocationList: Sendable {
    /// The DER bytes of `tbsCertList`, which the signature covers.
    public let tbsBytes: [UInt8]
    /// The CRL issuer's distinguished name.
    public let issuer: DistinguishedName
    /// When this CRL was issued.
    public let thisUpdate: Date
    /// When the next CRL is due; a CRL without one is rejected as malformed (fail closed).
    public let nextUpdate: Date
    /// Serial numbers listed as revoked (big-endian magnitude, leading zeros stripped), as
    /// slices of the DER: a short list is searched linearly (no per-entry copies or hashing on
    /// the cold path); a long one also gets a set.
    private let revoked: [ArraySlice<UInt8>]
    private let revokedSet: Set<ArraySlice<UInt8>>?
    /// Lists longer than this get a hash set for lookups.
    private static let linearLimit = 64

    /// How many serial numbers are listed.
    public var revokedCount: Int { revoked.count }
    /// The signature algorithm named in the outer `signatureAlgorithm` field, or nil for
    /// RSASSA-PSS (AMD KDS CRLs), which swift-certificates has no case for: see ``isRSAPSS``.
    public let signatureAlgorithm: Certificate.SignatureAlgorithm?
    /// Whether the CRL is signed with RSASSA-PSS / SHA-384 / MGF1-SHA-384 / salt 48 (AMD).
    public let isRSAPSS: Bool
    /// The signature value (for ECDSA, the DER `Ecdsa-Sig-Value`).
    public let signature: [UInt8]

    /// Parses a DER CRL. Throws ``AttestationError/Code/crlMalformed`` on any structural error.
    ///
    /// The CRL's own structure and its revoked list are walked with ``DERElements`` (SwiftASN1's
    /// `DER.parse` builds a node for every element of the whole CRL up front, which for a PCK CRL
    /// cost more than verifying its signature); every field that is read (issuer name, times,
    /// algorithm, signature, serial numbers) is still decoded by SwiftASN1 or checked as strict DER.
    public init(derEncoded der: [UInt8]) throws(AttestationError) {
        do {
            let outer = try DERElements.sole(der[...], "CRL", code: .crlMalformed)
            guard outer.tag == 0x30 else { throw AttestationError(.crlMalformed, "CRL is not a SEQUENCE") }
            func walk(_ e: DERElements.Element, _ what: String) -> DERElements { DERElements(e.content, what, code: .crlMalformed) }
            var parts = walk(outer, "CertificateList")
            guard let tbs = try parts.next(), tbs.tag == 0x30 else { throw AttestationError(.crlMalformed, "missing tbsCertList") }
            guard let algNode = try parts.next(), algNode.tag == 0x30 else { throw AttestationError(.crlMalformed, "missing signatureAlgorithm") }
            guard let sigNode = try parts.next(), sigNode.tag == 0x03 else { throw AttestationError(.crlMalformed, "missing signatureValue") }
            guard try parts.next() == nil else { throw AttestationError(.crlMalformed, "trailing element after signatureValue") }

            var fields = walk(tbs, "tbsCertList")
            var node = try fields.next()
            if let n = node, n.tag == 0x02 { node = try fields.next() }  // version
            guard let n = node, n.tag == 0x30 else { throw AttestationError(.crlMalformed, "missing signature") }
            guard let issuerNode = try fields.next(), issuerNode.tag == 0x30 else { throw AttestationError(.crlMalformed, "missing issuer") }
            let issuer = try DistinguishedName(derEncoded: DER.parse(issuerNode.encoded))
            guard let thisNode = try fields.next() else { throw AttestationError(.crlMalformed, "missing thisUpdate") }
            let this = try Self.date(thisNode.encoded)
            // In order, each at most once: nextUpdate, revokedCertificates, [0] crlExtensions.
            var next: Date?
            var serials = [ArraySlice<UInt8>]()
            var stage = 0
            while let f = try fields.next() {
                if (f.tag == 0x17 || f.tag == 0x18), stage < 1 {
                    next = try Self.date(f.encoded)
                    stage = 1
                } else if f.tag == 0x30, stage < 2 {
                    // revokedCertificates: SEQUENCE OF SEQUENCE { userCertificate INTEGER,
                    // revocationDate Time, crlEntryExtensions OPTIONAL }.
                    var entries = walk(f, "revokedCertificates")
                    while let entry = try entries.next() {
                        guard entry.tag == 0x30 else { throw AttestationError(.crlMalformed, "revoked entry is not a SEQUENCE") }
                        var e = walk(entry, "revoked entry")
                        guard let serial = try e.next(), serial.tag == 0x02 else { throw AttestationError(.crlMalformed, "revoked entry has no serial number") }
                        guard let date = try e.next(), date.tag == 0x17 || date.tag == 0x18 else { throw AttestationError(.crlMalformed, "revoked entry has no revocationDate") }
                        if let ext = try e.next(), ext.tag != 0x30 { throw AttestationError(.crlMalformed, "revoked entry extensions are not a SEQUENCE") }
                        guard try e.next() == nil else { throw AttestationError(.crlMalformed, "trailing element in revoked entry") }
                        try DERElements.checkMinimalInteger(serial.content, code: .crlMalformed)
                        serials.append(serial.content.drop(while: { $0 == 0 }))
                    }
                    stage = 2
                } else if f.tag == 0xA0, stage < 3 {
                    stage = 3  // [0] crlExtensions: nothing we rely on
                } else {
                    throw AttestationError(.crlMalformed, "unexpected element (tag \(f.tag)) in tbsCertList")
                }
            }
            guard let nextUpdate = next else { throw AttestationError(.crlMalformed, "CRL has no nextUpdate") }

            let algTree = try DER.parse(algNode.encoded)
            let alg = try DER.sequence(algTree, identifier: .sequence) { a in
                guard let oidNode = a.next() else { throw AttestationError(.crlMalformed, "empty AlgorithmIdentifier") }
                let oid = try ASN1ObjectIdentifier(derEncoded: oidNode)
                while a.next() != nil {}
                return oid
            }
            let isPSS = alg == RSAPSS.oid
            if isPSS, !RSAPSS.isSHA384Parameters(algTree) {
                throw AttestationError(.crlMalformed, "RSASSA-PSS CRL parameters are not SHA-384 / MGF1-SHA-384 / salt 48")
            }
            let sig = try ASN1BitString(derEncoded: sigNode.encoded)
            self.tbsBytes = Array(tbs.encoded)
            self.issuer = issuer
            self.thisUpdate = this
            self.nextUpdate = nextUpdate
            self.revoked = serials
            self.revokedSet = serials.count > Self.linearLimit ? Set(serials) : nil
            self.signature = [UInt8](sig.bytes)
            self.isRSAPSS = isPSS
            switch alg {
            case [1, 2, 840, 10045, 4, 3, 2]: self.signatureAlgorithm = .ecdsaWithSHA256
            case [1, 2, 840, 10045, 4, 3, 3]: self.signatureAlgorithm = .ecdsaWithSHA384
            case [1, 2, 840, 113549, 1, 1, 11]: self.signatureAlgorithm = .sha256WithRSAEncryption
            case [1, 2, 840, 113549, 1, 1, 12]: self.signatureAlgorithm = .sha384WithRSAEncryption
            case RSAPSS.oid: self.signatureAlgorithm = nil
            default: throw AttestationError(.crlMalformed, "unsupported CRL signature algorithm \(alg)")
            }
        } catch let e as AttestationError {
            throw e
        } catch {
            throw AttestationError(.crlMalformed, "CRL is not valid DER: \(error)")
        }
    }

    /// Whether `certificate`'s serial number is listed.
    public func isRevoked(_ certificate: Certificate) -> Bool {
        isRevoked(serialNumber: certificate.serialNumber.bytes)
    }

    /// Whether a serial number (big-endian bytes as encoded, leading zeros ignored) is listed.
    public func isRevoked<C: Collection>(serialNumber: C) -> Bool where C.Element == UInt8 {
        let serial = serialNumber.drop(while: { $0 == 0 })
        if let revokedSet { return revokedSet.contains(ArraySlice(serial)) }
        return revoked.contains { $0.elementsEqual(serial) }
    }

    /// Whether the signature verifies under `key` (an issuer's public key), for every algorithm
    /// this type parses, RSASSA-PSS included. Checks the signature only, not names or dates.
    public func isValidSignature(under key: Certificate.PublicKey) -> Bool {
        if isRSAPSS {
            return RSAPSS.isValidSHA384Signature(signature, for: tbsBytes, spki: Array(key.subjectPublicKeyInfoBytes))
        }
        guard let signatureAlgorithm else { return false }
        return key.isValidSignature(signature, for: tbsBytes, signatureAlgorithm: signatureAlgorithm)
    }

    /// Checks the signature under `issuer`'s key, the issuer name, and the validity window at `now`.
    /// Fails closed: each failure throws its own code.
    public func verify(issuedBy issuerCert: Certificate, at now: Date, name: String) throws(AttestationError) {
        try verify(issuerName: issuerCert.subject, issuerKey: issuerCert.publicKey, at: now, name: name)
    }

    /// Checks the signature under `issuerKey`, that `issuerName` issued it, and the validity window
    /// at `now`, for issuers that are not an `X509.Certificate` (AMD's RSASSA-PSS ARKs).
    public func verify(issuerName: DistinguishedName, issuerKey: Certificate.PublicKey, at now: Date, name: String) throws(AttestationError) {
        guard issuer == issuerName else {
            throw AttestationError(.crlSignatureInvalid, "\(name) is issued by \(issuer), not by \(issuerName)")
        }
        guard isValidSignature(under: issuerKey) else {
            throw AttestationError(.crlSignatureInvalid, "\(name) signature does not verify under \(issuerName)")
        }
        guard now >= thisUpdate else {
            throw AttestationError(.crlNotYetValid, "\(name) thisUpdate \(thisUpdate.iso8601) is after \(now.iso8601)")
        }
        guard now <= nextUpdate else {
            throw AttestationError(.crlExpired, "\(name) nextUpdate \(nextUpdate.iso8601) is before \(now.iso8601)")
        }
    }

    private static func date(_ encoded: ArraySlice<UInt8>) throws -> Date {
        guard let d = try ASN1Time.date(DER.parse(encoded)) else { throw AttestationError(.crlMalformed, "bad time in CRL") }
        return d
    }
}

/// X.509 `Time` (UTCTime or GeneralizedTime) to `Date`, shared by the hand-written DER parsers.
enum ASN1Time {
    /// Converts a UTCTime or GeneralizedTime node; nil when the calendar rejects the fields.
    /// Throws SwiftASN1's error when the node is neither time type.
    static func date(_ node: ASN1Node) throws -> Date? {
        if node.identifier == .utcTime {
            let t = try UTCTime(derEncoded: node)
            return UTCDate.date(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds)
        }
        let t = try GeneralizedTime(derEncoded: node)
        return UTCDate.date(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds, fraction: t.fractionalSeconds)
    }
}

extension Date {
    /// RFC 3339 / ISO 8601 in UTC with whole seconds, as the CLI prints and parses it.
    public var iso8601: String { ISO8601DateFormatter().string(from: self) }
}
