import Attestation
import Crypto
import Foundation
import SwiftASN1
import _CryptoExtras

/// What an attacker without a TPM can build: a software key dressed as an attestation key (a
/// TPMT_PUBLIC with whatever attributes it likes), and quotes it signs over any PCR values and
/// nonce, copying genuine evidence's public parts (PCR values, event log). Every byte is
/// well-formed, every signature verifies: only an anchor can tell it from a TPM.
public struct ForgedTPMQuote: @unchecked Sendable {
    /// The attributes a genuine AK has (fixedTPM, fixedParent, sensitiveDataOrigin,
    /// userWithAuth, restricted, sign).
    public static let akAttributes: UInt32 = 0x0005_0072

    /// The forger's key.
    public enum Key {
        /// ECDSA P-256.
        case p256(P256.Signing.PrivateKey)
        /// RSA 2048, RSASSA-PKCS1-v1_5.
        case rsa(_RSA.Signing.PrivateKey)
    }

    /// The software key.
    public let key: Key

    /// A fresh P-256 (default) or RSA-2048 software key.
    public init(rsa: Bool = false) throws {
        key = rsa ? .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)) : .p256(P256.Signing.PrivateKey())
    }

    /// The key as a TPMT_PUBLIC with `attributes` (SHA-256 name algorithm, empty auth policy).
    public func tpmtPublic(attributes: UInt32 = akAttributes) throws -> [UInt8] {
        var out = [UInt8]()
        func u16(_ v: UInt16) { out += [UInt8(v >> 8), UInt8(v & 0xff)] }
        func u32(_ v: UInt32) { out += withUnsafeBytes(of: v.bigEndian) { Array($0) } }
        func b(_ v: [UInt8]) { u16(UInt16(v.count)); out += v }
        switch key {
        case .p256(let k):
            u16(0x0023); u16(0x000B); u32(attributes); b([])
            u16(0x0010)  // symmetric: NULL
            u16(0x0018); u16(0x000B)  // ECDSA, SHA-256
            u16(0x0003)  // NIST P-256
            u16(0x0010)  // kdf: NULL
            let raw = Array(k.publicKey.rawRepresentation)
            b(Array(raw[0..<32])); b(Array(raw[32..<64]))
        case .rsa(let k):
            u16(0x0001); u16(0x000B); u32(attributes); b([])
            u16(0x0010)
            u16(0x0014); u16(0x000B)  // RSASSA, SHA-256
            u16(2048); u32(0)
            b(try Self.modulus(k.publicKey))
        }
        return out
    }

    /// The key as PEM SubjectPublicKeyInfo (a bare key, no TPM attributes at all).
    public var spkiPEM: [UInt8] {
        switch key {
        case .p256(let k): Array(k.publicKey.pemRepresentation.utf8)
        case .rsa(let k): Array(k.publicKey.pemRepresentation.utf8)
        }
    }

    /// The TPM name (SHA-256) of ``tpmtPublic(attributes:)``.
    public func name(attributes: UInt32 = akAttributes) throws -> [UInt8] {
        [0x00, 0x0B] + Array(SHA256.hash(data: try tpmtPublic(attributes: attributes)))
    }

    /// The qualified name a primary key of the owner hierarchy with this name has.
    public func qualifiedName(attributes: UInt32 = akAttributes) throws -> [UInt8] {
        [0x00, 0x0B] + Array(SHA256.hash(data: [0x40, 0x00, 0x00, 0x01] + (try name(attributes: attributes))))
    }

    /// A quote over `genuine`'s PCR selection and values, carrying `extraData`, signed by this
    /// key and presented with `akPublic` (default: the TPMT_PUBLIC with genuine AK attributes).
    public func forge(
        like genuine: EvidenceBundle.TPMEvidence, extraData: [UInt8], akPublic: [UInt8]? = nil,
        qualifiedSigner: [UInt8]? = nil, akCertificates: [Data]? = nil
    ) throws -> EvidenceBundle.TPMEvidence {
        let real = try TPM.Attest(rawRepresentation: [UInt8](genuine.attest))
        var a = [UInt8]()
        func u16(_ v: UInt16) { a += [UInt8(v >> 8), UInt8(v & 0xff)] }
        func u32(_ v: UInt32) { a += withUnsafeBytes(of: v.bigEndian) { Array($0) } }
        func u64(_ v: UInt64) { a += withUnsafeBytes(of: v.bigEndian) { Array($0) } }
        func b(_ v: [UInt8]) { u16(UInt16(v.count)); a += v }
        u32(TPM.generatedValue); u16(TPM.attestQuote)
        b(try qualifiedSigner ?? qualifiedName())
        b(extraData)
        u64(real.clock); u32(real.resetCount); u32(real.restartCount); a.append(1)
        u64(real.firmwareVersion)
        u32(UInt32(real.selection.count))
        for sel in real.selection {
            u16(sel.bank.rawValue)
            var bitmap = [UInt8](repeating: 0, count: 3)
            for i in sel.indices { bitmap[i / 8] |= 1 << (i % 8) }
            a.append(UInt8(bitmap.count)); a += bitmap
        }
        b(real.pcrDigest)
        let digest = SHA256.hash(data: a)
        var sig = [UInt8]()
        func s16(_ v: UInt16) { sig += [UInt8(v >> 8), UInt8(v & 0xff)] }
        switch key {
        case .p256(let k):
            let raw = Array(try k.signature(for: digest).rawRepresentation)
            s16(0x0018); s16(0x000B)
            s16(32); sig += raw[0..<32]; s16(32); sig += raw[32..<64]
        case .rsa(let k):
            let raw = Array(try k.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
            s16(0x0014); s16(0x000B); s16(UInt16(raw.count)); sig += raw
        }
        return EvidenceBundle.TPMEvidence(
            attest: Data(a), signature: Data(sig), akPublic: Data(try akPublic ?? tpmtPublic()), pcrs: genuine.pcrs,
            akCertificates: akCertificates)
    }

    /// The RSA modulus, from the key's PKCS #1 encoding.
    static func modulus(_ k: _RSA.Signing.PublicKey) throws -> [UInt8] {
        let node = try DER.parse(Array(k.pkcs1DERRepresentation))
        guard case .constructed(let children) = node.content, let first = children.first(where: { _ in true }), case .primitive(let n) = first.content else {
            throw ASN1Error.invalidASN1Object(reason: "RSAPublicKey")
        }
        return Array(n.drop { $0 == 0 })
    }
}
