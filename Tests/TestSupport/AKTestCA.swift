import Attestation
import Crypto
import Foundation
import SwiftASN1
import X509

/// A small CA that issues AK certificates, as a fleet operator's provisioning CA would after
/// checking the AK against the EK (TCG EK credential profile, `tpm2_makecredential` /
/// `activatecredential`). Tests configure its root as `verification.akRoots`.
public struct AKTestCA: @unchecked Sendable {
    /// The CA's key.
    public let key: P256.Signing.PrivateKey
    /// The self-signed root.
    public let root: Certificate
    /// The root's name.
    public let name: DistinguishedName

    /// A fresh CA named `commonName`, valid from a year ago to a year ahead.
    public init(commonName: String = "licen-broker test AK CA") throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName {
            CommonName(commonName); OrganizationName("licen-broker tests")
        }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Date().addingTimeInterval(-365 * 86400),
            notValidAfter: Date().addingTimeInterval(365 * 86400), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) }, issuerPrivateKey: .init(key))
    }

    /// An AK certificate for `ak` (a TPMT_PUBLIC, TPM2B_PUBLIC or SPKI), DER.
    public func issue(
        for ak: [UInt8], subject: String = "licen test AK", notBefore: Date = Date().addingTimeInterval(-3600),
        notAfter: Date = Date().addingTimeInterval(86400)
    ) throws -> [UInt8] {
        guard let publicKey = try TPM.PublicKey(bytes: ak).certificatePublicKey else { throw AttestationError(.malformed, "AK has no certificate key form") }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey, notValidBefore: notBefore, notValidAfter: notAfter, issuer: name,
            subject: try DistinguishedName { CommonName(subject) }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.notCertificateAuthority) }, issuerPrivateKey: .init(key))
        return try Self.der(cert)
    }

    /// The root as PEM (to write as an `akRoots` file).
    public var rootPEM: String { get throws { try root.serializeAsPEM().pemString } }

    /// DER of a certificate.
    public static func der(_ c: Certificate) throws -> [UInt8] {
        var s = DER.Serializer()
        try s.serialize(c)
        return s.serializedBytes
    }
}
