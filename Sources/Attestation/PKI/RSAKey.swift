import Crypto
import SwiftASN1
import _CryptoExtras

/// RSA public keys from untrusted bytes.
///
/// Why by hand: swift-crypto 3.x's `_RSA.Signing.PublicKey(derRepresentation:)` and
/// `(unsafeDERRepresentation:)` free their EVP_PKEY twice when the bytes are neither an SPKI nor a
/// PKCS#1 RSA key, which aborts the process: an attacker-supplied AK or VCEK could take the
/// verifier down. The `fuzz-tpm` target found it on an empty input (fixed upstream in
/// swift-crypto 4). So SPKIs are split here with SwiftASN1 and keys built with
/// `_RSA.Signing.PublicKey(n:e:)`, whose failure path is sound. Remove when swift-crypto ≥ 4.
enum RSAKey {
    /// rsaEncryption (RFC 8017).
    static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 1]
    /// id-RSASSA-PSS (RFC 4055): AMD's certificates carry this algorithm in their SPKI.
    static let rsassaPSS: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 10]

    /// The RSA key in a DER SubjectPublicKeyInfo (rsaEncryption or RSASSA-PSS) or a bare PKCS#1
    /// RSAPublicKey, or nil for anything else, including moduli shorter than `minimumBits`.
    static func signingKey(spki: [UInt8], minimumBits: Int = 2048) -> _RSA.Signing.PublicKey? {
        guard let (n, e) = (try? components(spki: spki)) ?? (try? pkcs1(DER.parse(spki))) else { return nil }
        let bits = n.count * 8 - (n.first.map { $0.leadingZeroBitCount } ?? 8)
        guard bits >= minimumBits, bits <= 16_384, e.count <= 8, e.last.map({ $0 & 1 == 1 }) == true, e != [1] else { return nil }
        return try? _RSA.Signing.PublicKey(n: n, e: e)
    }

    /// Modulus and exponent (big-endian, no leading zeros) of an RSA SPKI.
    static func components(spki: [UInt8]) throws -> ([UInt8], [UInt8]) {
        let root = try DER.parse(spki)
        return try DER.sequence(root, identifier: .sequence) { nodes in
            guard let algorithm = nodes.next(), let key = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "SPKI needs algorithm and key") }
            guard nodes.next() == nil else { throw ASN1Error.invalidASN1Object(reason: "trailing SPKI fields") }
            let oid = try DER.sequence(algorithm, identifier: .sequence) { a in
                guard let o = a.next() else { throw ASN1Error.invalidASN1Object(reason: "empty AlgorithmIdentifier") }
                while a.next() != nil {}
                return try ASN1ObjectIdentifier(derEncoded: o)
            }
            guard oid == rsaEncryption || oid == rsassaPSS else { throw ASN1Error.invalidASN1Object(reason: "not an RSA key") }
            let bits = try ASN1BitString(derEncoded: key)
            guard bits.paddingBits == 0 else { throw ASN1Error.invalidASN1Object(reason: "RSA key bit string is not whole bytes") }
            return try pkcs1(DER.parse(bits.bytes))
        }
    }

    /// Modulus and exponent of a PKCS#1 RSAPublicKey node.
    static func pkcs1(_ node: ASN1Node) throws -> ([UInt8], [UInt8]) {
        try DER.sequence(node, identifier: .sequence) { k in
            guard let nNode = k.next(), let eNode = k.next(), k.next() == nil else { throw ASN1Error.invalidASN1Object(reason: "RSAPublicKey needs n and e") }
            let n = try ArraySlice<UInt8>(derEncoded: nNode), e = try ArraySlice<UInt8>(derEncoded: eNode)
            return (Array(n.drop { $0 == 0 }), Array(e.drop { $0 == 0 }))
        }
    }
}
