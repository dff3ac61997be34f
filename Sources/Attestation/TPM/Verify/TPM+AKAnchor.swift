import ByteEncoding
import Foundation

extension TPM {
    /// What vouches for the attestation key of a verified quote. A TPM quote proves only that
    /// *some* key signed it; it is evidence of a TPM only through an anchor the operator
    /// configured. A policy's `tpm.attestationKeys` pin is the fourth way, judged at validation
    /// (``Policy/validate(_:now:)``), since it lives in the policy rather than in the evidence.
    public enum AKAnchor: Sendable, Hashable {
        /// An AK certificate chain ending at a configured AK root; the leaf's subject.
        case certificate(subject: String)
        /// A verified hardware report names the AK (Azure: the `HCLAkPub` key of the runtime data
        /// bound by a verified SEV-SNP report's REPORT_DATA); the report's platform.
        case hardwareReport(platform: String)
        /// Nothing: trusted only because an operator said so for lab use
        /// (`verify-quote --dangerously-trust-presented-ak`). Never set by the service.
        case presentedKeyTrustedForLab

        /// A short label for reports and audit records.
        public var label: String {
            switch self {
            case .certificate: "certificate"
            case .hardwareReport(let p): "hardware-report:\(p)"
            case .presentedKeyTrustedForLab: "presented-key-trusted-for-lab"
            }
        }
    }

    /// The attestation key of a verified quote, as audit records and policies name it.
    public struct AttestationKeyIdentity: Sendable, Hashable, Codable {
        /// The AK's TPM name (nameAlg ‖ H(TPMT_PUBLIC)), lowercase hex.
        public let name: String
        /// `sha256:<hex>` of the AK's DER SubjectPublicKeyInfo.
        public let keyDigest: String
        /// The verified AK certificate's subject, when a chain anchored it.
        public let certificateSubject: String?
        /// The anchor's label (``AKAnchor/label``), or nil when only a policy pin can vouch for it.
        public let anchor: String?

        /// Creates an identity.
        public init(name: String, keyDigest: String, certificateSubject: String?, anchor: String?) {
            self.name = name
            self.keyDigest = keyDigest
            self.certificateSubject = certificateSubject
            self.anchor = anchor
        }
    }

    /// Checks that Azure HCL runtime data (JSON, already bound to a verified report) names `ak`
    /// as its `HCLAkPub` JSON Web Key (RSA `n`/`e`, or EC `crv`/`x`/`y`). Throws
    /// ``AttestationError/Code/akBindingMismatch`` when it names another key or none.
    public static func verifyHCLBinding(runtimeData: [UInt8], ak: PublicKey) throws(AttestationError) {
        let json: JSONValue
        do { json = try JSONValue(parsing: runtimeData) } catch {
            throw AttestationError(.akBindingMismatch, "the HCL runtime data is not JSON: \(error.message)")
        }
        guard let keys = json["keys"]?.array, let jwk = keys.first(where: { $0["kid"]?.string == "HCLAkPub" }) else {
            throw AttestationError(.akBindingMismatch, "the HCL runtime data names no HCLAkPub key")
        }
        func field(_ name: String) -> [UInt8]? { jwk[name]?.string.flatMap(base64URL) }
        let same: Bool
        switch (ak.key, jwk["kty"]?.string) {
        case (.rsa(let k), "RSA"):
            guard let n = field("n"), let e = field("e"), let have = try? RSAKey.components(spki: [UInt8](k.derRepresentation)) else { same = false; break }
            same = n.drop(while: { $0 == 0 }).elementsEqual(have.0.drop(while: { $0 == 0 })) && e.drop(while: { $0 == 0 }).elementsEqual(have.1.drop(while: { $0 == 0 }))
        case (.p256(let raw), "EC"):
            same = jwk["crv"]?.string == "P-256" && (field("x") ?? []) + (field("y") ?? []) == raw
        case (.p384(let raw), "EC"):
            same = jwk["crv"]?.string == "P-384" && (field("x") ?? []) + (field("y") ?? []) == raw
        default:
            same = false
        }
        guard same else { throw AttestationError(.akBindingMismatch, "the HCL report's HCLAkPub is another key than the AK that signed the quote") }
    }

    /// Unpadded base64url (RFC 7515 §2) to bytes; nil if not base64url.
    static func base64URL(_ s: String) -> [UInt8]? {
        Hex.base64Decode(Array(s.utf8)[...], alphabet: .url)
    }
}
