import ByteEncoding
import Foundation
import SwiftASN1
import X509

/// A certificate chain ordered leaf first, as it appears in a PEM bundle.
public struct CertificateChain: Sendable {
    /// The certificates, leaf first.
    public let certificates: [Certificate]
    /// The DER encoding of each certificate, as received.
    public let derEncodings: [[UInt8]]

    /// Wraps already-parsed certificates (leaf first).
    public init(_ certificates: [Certificate]) {
        self.certificates = certificates
        self.derEncodings = certificates.map { cert in
            var serializer = DER.Serializer()
            return (try? serializer.serialize(cert)).map { serializer.serializedBytes } ?? []
        }
    }

    /// Parses every `CERTIFICATE` block of a PEM bundle (text around the blocks is ignored),
    /// reusing certificates `cache` has already parsed (the same DER is the same certificate).
    /// Throws ``AttestationError/Code/certificateChainMalformed`` if a block is not a certificate
    /// or there is none.
    public init(pemEncoded pem: String, cache: VerificationCache? = nil) throws(AttestationError) {
        let docs = try Self.certificateBlocks(Array(pem.utf8))
        var certs = [Certificate]()
        var ders = [[UInt8]]()
        for (i, der) in docs.enumerated() {
            ders.append(der)
            do {
                if let cache { certs.append(try cache.certificate(der: der)) } else { certs.append(try Certificate(derEncoded: der)) }
            } catch {
                throw AttestationError(.certificateChainMalformed, "certificate \(i) in the PEM bundle is not valid X.509: \(error)")
            }
        }
        guard !certs.isEmpty else { throw AttestationError(.certificateChainMalformed, "no certificate in the PEM bundle") }
        self.certificates = certs
        self.derEncodings = ders
    }

    /// Parses certificates given as separate files, each DER or PEM (a PEM file may hold several),
    /// in order. Throws ``AttestationError/Code/certificateChainMalformed``.
    public init(files: [[UInt8]]) throws(AttestationError) {
        var certs = [Certificate]()
        var ders = [[UInt8]]()
        for (n, file) in files.enumerated() {
            let blocks = file.first(where: { !Hex.isSpace($0) }) == UInt8(ascii: "-") ? try Self.certificateBlocks(file) : [file]
            for der in blocks {
                do { certs.append(try Certificate(derEncoded: der)) } catch {
                    throw AttestationError(.certificateChainMalformed, "certificate file \(n) is not valid X.509 (DER or PEM): \(error)")
                }
                ders.append(der)
            }
        }
        guard !certs.isEmpty else { throw AttestationError(.certificateChainMalformed, "no certificate given") }
        self.certificates = certs
        self.derEncodings = ders
    }

    /// The DER bytes of every `CERTIFICATE` block (RFC 7468), in order; other blocks and text
    /// between blocks are skipped. By hand over bytes with Foundation's base64 decoder because
    /// SwiftASN1's `PEMDocument` walks the text as Unicode and cost as much as the certificate
    /// parse itself on the cold verification path.
    static func certificateBlocks(_ text: [UInt8]) throws(AttestationError) -> [[UInt8]] {
        let begin = Array("-----BEGIN CERTIFICATE-----".utf8), end = Array("-----END CERTIFICATE-----".utf8)
        var out = [[UInt8]]()
        var rest = text[...]
        while let b = Hex.find(begin, in: rest) {
            let body = rest[b.upperBound...]
            guard let e = Hex.find(end, in: body) else {
                throw AttestationError(.certificateChainMalformed, "PEM bundle could not be parsed: BEGIN CERTIFICATE without END")
            }
            guard let der = Hex.base64Decode(body[..<e.lowerBound]) else {
                throw AttestationError(.certificateChainMalformed, "PEM bundle could not be parsed: certificate \(out.count) is not base64")
            }
            out.append(der)
            rest = body[e.upperBound...]
        }
        return out
    }

    /// The leaf (first) certificate.
    public var leaf: Certificate { certificates[0] }
}

/// Checks a fixed-shape chain (leaf → intermediates → pinned root) one link at a time.
///
/// Why by hand: the chains here have a known shape and a single pinned anchor, and each failure
/// (wrong root, bad signature, expired, revoked) must surface as its own stable error code; the
/// path-building `X509.Verifier` reports every one of those as an opaque policy failure. Each
/// link still uses swift-certificates for parsing, signature verification and typed extensions.
public struct PinnedChainVerifier: Sendable {
    /// The trust anchor every chain must end at (compared by DER bytes, then by key).
    public let anchor: Certificate

    /// The anchor's DER encoding.
    private let anchorDER: [UInt8]

    /// Creates a verifier pinned to `anchor`.
    public init(anchor: Certificate) {
        var serializer = DER.Serializer()
        self.init(anchor: anchor, der: (try? serializer.serialize(anchor)).map { serializer.serializedBytes } ?? [])
    }

    /// Creates a verifier pinned to `anchor` whose DER encoding `der` the caller already has.
    public init(anchor: Certificate, der: [UInt8]) {
        self.anchor = anchor
        anchorDER = der
    }

    /// Verifies `chain` at `now`: the last certificate must be the anchor (byte-equal), each
    /// certificate must be signed by the next, names must chain, every certificate must be within
    /// its validity window, issuers must be CAs, and none may appear in `crls` (each CRL applying to
    /// the certificates its issuer signed). Throws the first failure, each with its own code.
    public func verify(_ chain: CertificateChain, at now: Date, crls: [CertificateRevocationList] = [], name: String, cache: VerificationCache? = nil) throws(AttestationError) {
        let certs = chain.certificates
        guard certs.count >= 2 else {
            throw AttestationError(.certificateChainMalformed, "\(name) has \(certs.count) certificate(s); leaf and root at least are required")
        }
        guard let root = certs.last, chain.derEncodings.last == anchorDER || root == anchor else {
            throw AttestationError(.untrustedRoot, "\(name) ends at \(certs.last!.subject), not at the pinned root \(anchor.subject)")
        }
        for (i, cert) in certs.enumerated() {
            let issuer = i + 1 < certs.count ? certs[i + 1] : anchor
            // The pinned anchor itself (byte-equal DER) is trusted by configuration, not by its
            // self-signature: checking that would prove nothing and cost a verify per chain. It
            // need not be self-signed (an intermediate CA may be pinned).
            let isPinnedAnchor = i == certs.count - 1 && chain.derEncodings[i] == anchorDER
            guard isPinnedAnchor || cert.issuer == issuer.subject else {
                throw AttestationError(.certificateSignatureInvalid, "\(name): \(cert.subject) names issuer \(cert.issuer), but the next certificate is \(issuer.subject)")
            }
            let issuerDER = i + 1 < certs.count ? chain.derEncodings[i + 1] : chain.derEncodings[i]
            let valid =
                isPinnedAnchor
                || (cache?.check([chain.derEncodings[i], issuerDER]) { issuer.publicKey.isValidSignature(cert.signature, for: cert) }
                    ?? issuer.publicKey.isValidSignature(cert.signature, for: cert))
            guard valid else {
                throw AttestationError(.certificateSignatureInvalid, "\(name): signature on \(cert.subject) does not verify under \(issuer.subject)")
            }
            if i > 0 {
                let bc = try? cert.extensions.basicConstraints
                guard case .isCertificateAuthority = bc else {
                    throw AttestationError(.certificateSignatureInvalid, "\(name): \(cert.subject) signs certificates but is not a CA")
                }
            }
            try Self.checkValidity(subject: cert.subject, notBefore: cert.notValidBefore, notAfter: cert.notValidAfter, at: now, name: name)
        }
        try checkRevocation(chain, crls: crls, name: name)
    }

    /// Throws ``AttestationError/Code/certificateNotYetValid`` or
    /// ``AttestationError/Code/certificateExpired`` when `now` is outside [notBefore, notAfter]
    /// (both ends inclusive, as RFC 5280 §4.1.2.5 defines the window).
    static func checkValidity(subject: DistinguishedName, notBefore: Date, notAfter: Date, at now: Date, name: String) throws(AttestationError) {
        guard now >= notBefore else {
            throw AttestationError(.certificateNotYetValid, "\(name): \(subject) is valid from \(notBefore.iso8601), after \(now.iso8601)")
        }
        guard now <= notAfter else {
            throw AttestationError(.certificateExpired, "\(name): \(subject) expired at \(notAfter.iso8601), before \(now.iso8601)")
        }
    }

    /// Throws ``AttestationError/Code/certificateRevoked`` if any certificate of `chain` is listed
    /// in a CRL of its issuer. The CRLs must already be verified.
    public func checkRevocation(_ chain: CertificateChain, crls: [CertificateRevocationList], name: String) throws(AttestationError) {
        for cert in chain.certificates {
            // The serial lookup first: comparing distinguished names costs more, and only a
            // listed serial needs to know whether the CRL is its issuer's.
            for crl in crls where crl.isRevoked(cert) && crl.issuer == cert.issuer {
                throw AttestationError(.certificateRevoked, "\(name): \(cert.subject) serial \(cert.serialNumber) is revoked by the CRL of \(crl.issuer)")
            }
        }
    }
}
