import Crypto
import _CryptoExtras
import SwiftASN1

/// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt: the only PSS profile accepted.
///
/// Why by hand: AMD signs its whole SEV-SNP PKI (ARK, ASK/ASVK, VCEK/VLEK, CRLs) with RSASSA-PSS,
/// which swift-certificates cannot verify (it refuses to even build a `Certificate` with a PSS
/// signature). Callers split the signed bytes and signature with SwiftASN1 and verify here with
/// `_CryptoExtras` `_RSA.Signing.PublicKey.isValidSignature(_:for:padding: .PSS)`, which uses
/// MGF1 with the digest's hash and a salt as long as the digest. Any other PSS parameter set is
/// rejected (fail closed) rather than verified under different assumptions.
enum RSAPSS {
    /// `id-RSASSA-PSS` (1.2.840.113549.1.1.10).
    static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 10]
    /// `id-sha384` (2.16.840.1.101.3.4.2.2).
    static let sha384: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 2]
    /// `id-mgf1` (1.2.840.113549.1.1.8).
    static let mgf1: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 8]

    /// Whether `algorithmIdentifier` (the whole AlgorithmIdentifier SEQUENCE) is RSASSA-PSS with
    /// hashAlgorithm SHA-384, maskGenAlgorithm MGF1(SHA-384) and saltLength 48. Absent fields take
    /// their RFC 4055 defaults (SHA-1, MGF1-SHA-1, 20), so they never match.
    static func isSHA384Parameters(_ algorithmIdentifier: ASN1Node) -> Bool {
        do {
            return try DER.sequence(algorithmIdentifier, identifier: .sequence) { nodes -> Bool in
                guard let oidNode = nodes.next(), try ASN1ObjectIdentifier(derEncoded: oidNode) == oid,
                    let params = nodes.next(), nodes.next() == nil,
                    case .constructed(let fields) = params.content, params.identifier == .sequence
                else { return false }
                var hash: ASN1ObjectIdentifier?, mgfHash: ASN1ObjectIdentifier?, mgf: ASN1ObjectIdentifier?, salt: Int?
                for field in fields {
                    guard case .constructed(let inner) = field.content, let value = Array(inner).first else { return false }
                    switch field.identifier {
                    case ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific):
                        hash = try algorithmOID(value)
                    case ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific):
                        let pair = try DER.sequence(value, identifier: .sequence) { n in
                            guard let o = n.next(), let p = n.next() else { throw ASN1Error.invalidASN1Object(reason: "MGF without parameters") }
                            return (try ASN1ObjectIdentifier(derEncoded: o), try algorithmOID(p))
                        }
                        mgf = pair.0
                        mgfHash = pair.1
                    case ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific):
                        salt = try Int(derEncoded: value)
                    case ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific):
                        guard try Int(derEncoded: value) == 1 else { return false }
                    default:
                        return false
                    }
                }
                return hash == sha384 && mgf == mgf1 && mgfHash == sha384 && salt == 48
            }
        } catch {
            return false
        }
    }

    /// Verifies an RSASSA-PSS / SHA-384 signature over `message` under the RSA key in `spki`
    /// (DER SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey). False for any key that is not RSA
    /// or any signature that fails.
    static func isValidSHA384Signature(_ signature: [UInt8], for message: [UInt8], spki: [UInt8]) -> Bool {
        guard let key = RSAKey.signingKey(spki: spki) else { return false }
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA384.hash(data: message), padding: .PSS)
    }

    private static func algorithmOID(_ node: ASN1Node) throws -> ASN1ObjectIdentifier {
        try DER.sequence(node, identifier: .sequence) { n in
            guard let o = n.next() else { throw ASN1Error.invalidASN1Object(reason: "empty AlgorithmIdentifier") }
            while n.next() != nil {}
            return try ASN1ObjectIdentifier(derEncoded: o)
        }
    }
}
