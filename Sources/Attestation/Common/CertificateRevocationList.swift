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
    public init(derEncoded der: [UInt8]) throws(AttestationError) {
        do {
            let root = try DER.parse(der)
            var parsed: (tbs: [UInt8], issuer: DistinguishedName, this: Date, next: Date?, serials: [ArraySlice<UInt8>], alg: ASN1ObjectIdentifier, sig: [UInt8], pss: Bool)?
            parsed = try DER.sequence(root, identifier: .sequence) { nodes in
                guard let tbsNode = nodes.next() else { throw AttestationError(.crlMalformed, "missing tbsCertList") }
                let tbs = [UInt8](tbsNode.encodedBytes)
                let (issuer, this, next, serials) = try DER.sequence(tbsNode, identifier: .sequence) { tbsNodes in
                    var node = tbsNodes.next()
                    if let n = node, n.identifier == .integer { node = tbsNodes.next() } // version
                    guard node != nil else { throw AttestationError(.crlMalformed, "missing signature") }
                    guard let issuerNode = tbsNodes.next() else { throw AttestationError(.crlMalformed, "missing issuer") }
                    let issuer = try DistinguishedName(derEncoded: issuerNode)
                    guard let thisNode = tbsNodes.next() else { throw AttestationError(.crlMalformed, "missing thisUpdate") }
                    let this = try Self.date(thisNode)
                    var next: Date?
                    var serials = [ArraySlice<UInt8>]()
                    while let n = tbsNodes.next() {
                        if n.identifier == .utcTime || n.identifier == .generalizedTime {
                            next = try Self.date(n)
                        } else if n.identifier == .sequence {
                            guard case .constructed(let entries) = n.content else { throw AttestationError(.crlMalformed, "revokedCertificates is not a SEQUENCE") }
                            serials.reserveCapacity(entries.underestimatedCount)
                            for entry in entries {
                                try DER.sequence(entry, identifier: .sequence) { e in
                                    guard let serialNode = e.next() else { throw AttestationError(.crlMalformed, "empty revoked entry") }
                                    let serial = try ArraySlice<UInt8>(derEncoded: serialNode)
                                    serials.append(serial.drop(while: { $0 == 0 }))
                                    while e.next() != nil {}
                                }
                            }
                        } // [0] crlExtensions: nothing we rely on
                    }
                    return (issuer, this, next, serials)
                }
                guard let algNode = nodes.next() else { throw AttestationError(.crlMalformed, "missing signatureAlgorithm") }
                let alg = try DER.sequence(algNode, identifier: .sequence) { a in
                    guard let oidNode = a.next() else { throw AttestationError(.crlMalformed, "empty AlgorithmIdentifier") }
                    let oid = try ASN1ObjectIdentifier(derEncoded: oidNode)
                    while a.next() != nil {}
                    return oid
                }
                let isPSS = alg == RSAPSS.oid
                if isPSS, !RSAPSS.isSHA384Parameters(algNode) {
                    throw AttestationError(.crlMalformed, "RSASSA-PSS CRL parameters are not SHA-384 / MGF1-SHA-384 / salt 48")
                }
                guard let sigNode = nodes.next() else { throw AttestationError(.crlMalformed, "missing signatureValue") }
                let sig = try ASN1BitString(derEncoded: sigNode)
                return (tbs, issuer, this, next, serials, alg, [UInt8](sig.bytes), isPSS)
            }
            guard let p = parsed else { throw AttestationError(.crlMalformed, "empty CRL") }
            guard let next = p.next else { throw AttestationError(.crlMalformed, "CRL has no nextUpdate") }
            self.tbsBytes = p.tbs
            self.issuer = p.issuer
            self.thisUpdate = p.this
            self.nextUpdate = next
            self.revoked = p.serials
            self.revokedSet = p.serials.count > Self.linearLimit ? Set(p.serials) : nil
            self.signature = p.sig
            self.isRSAPSS = p.pss
            switch p.alg {
            case [1, 2, 840, 10045, 4, 3, 2]: self.signatureAlgorithm = .ecdsaWithSHA256
            case [1, 2, 840, 10045, 4, 3, 3]: self.signatureAlgorithm = .ecdsaWithSHA384
            case [1, 2, 840, 113549, 1, 1, 11]: self.signatureAlgorithm = .sha256WithRSAEncryption
            case [1, 2, 840, 113549, 1, 1, 12]: self.signatureAlgorithm = .sha384WithRSAEncryption
            case RSAPSS.oid: self.signatureAlgorithm = nil
            default: throw AttestationError(.crlMalformed, "unsupported CRL signature algorithm \(p.alg)")
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

    private static func date(_ node: ASN1Node) throws -> Date {
        guard let d = try ASN1Time.date(node) else { throw AttestationError(.crlMalformed, "bad time in CRL") }
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
