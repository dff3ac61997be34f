import ByteEncoding
import Foundation

extension TPM {
    /// Azure confidential-VM vTPM evidence in the JSON shapes Azure's guest tools (and the
    /// trustee `az-snp-vtpm` attester) write, read into an evidence bundle.
    ///
    /// Version 0: `{"quote": {"message", "signature", "pcrs"}, "report", "vcek"}` with byte
    /// arrays and a PEM VCEK. Version 1: `{"version": 1, "tpm_quote": {…}, "hcl_report", "vcek"}`
    /// with hex quote fields, a base64url HCL report and a base64url DER VCEK. In both, `message`
    /// is the TPMS_ATTEST, `signature` a raw RSASSA-SHA256 signature (not a TPMT_SIGNATURE),
    /// `pcrs` the 24 SHA-256 PCR values in index order, and the report the HCL report whose
    /// runtime data names the AK (`HCLAkPub`). The evidence carries no AK public area: it is
    /// rebuilt from `HCLAkPub` with Azure's AK template, so the quote's qualifiedSigner (the
    /// name of the key that really signed) only matches when that template is the AK's.
    /// Nothing is trusted here: verification checks the HCL report, its binding of the runtime
    /// data, and the quote under that AK.
    public struct AzureVTPMEvidence: Sendable {
        /// The TPMS_ATTEST the vTPM signed.
        public let attest: [UInt8]
        /// The raw RSASSA-PKCS1-v1_5 SHA-256 signature over ``attest``.
        public let signature: [UInt8]
        /// SHA-256 PCR values, index 0 first.
        public let pcrs: [[UInt8]]
        /// The HCL report (SNP or TDX report, then the runtime data).
        public let hclReport: [UInt8]
        /// The VCEK as given (PEM, or DER); nil when absent.
        public let vcek: [UInt8]?

        /// Whether `json` has the shape of Azure vTPM evidence (a `quote` or `tpm_quote` object).
        public static func matches(_ json: JSONValue) -> Bool {
            json["tpm_quote"]?["message"] != nil || json["quote"]?["message"] != nil
        }

        /// Parses version 0 or 1 evidence. Throws ``AttestationError/Code/malformed`` for a
        /// missing or mistyped field, ``AttestationError/Code/badEncoding`` for bad hex or base64.
        public init(json bytes: [UInt8]) throws(AttestationError) {
            let json = try JSONValue(parsing: bytes)
            guard let quote = json["tpm_quote"] ?? json["quote"] else {
                throw AttestationError(.malformed, "Azure vTPM evidence has neither tpm_quote nor quote")
            }
            attest = try Self.bytes(quote["message"], "quote message")
            signature = try Self.bytes(quote["signature"], "quote signature")
            guard let list = quote["pcrs"]?.array else { throw AttestationError(.malformed, "Azure vTPM evidence: quote pcrs is not a list") }
            var values = [[UInt8]]()
            for (i, v) in list.enumerated() { values.append(try Self.bytes(v, "PCR \(i)")) }
            pcrs = values
            hclReport = try Self.bytes(json["hcl_report"] ?? json["report"], "HCL report")
            switch json["vcek"] {
            case nil, .null?: vcek = nil
            case .string(let s)?:
                // PEM as is; otherwise base64 (either alphabet) of the DER certificate.
                if s.contains("-----BEGIN") {
                    vcek = Array(s.utf8)
                } else {
                    guard let der = Hex.base64DecodeEitherAlphabet(Array(s.utf8)[...]) else {
                        throw AttestationError(.badEncoding, "Azure vTPM evidence: vcek is neither PEM nor base64")
                    }
                    vcek = der
                }
            case let v?: vcek = try Self.bytes(v, "vcek")
            }
        }

        /// A byte array, or text: hex (the quote fields of version 1) or base64 / base64url.
        private static func bytes(_ v: JSONValue?, _ name: String) throws(AttestationError) -> [UInt8] {
            if let a = v?.array {
                var out = [UInt8]()
                out.reserveCapacity(a.count)
                for e in a {
                    guard let b = e.int, (0...255).contains(b) else { throw AttestationError(.malformed, "Azure vTPM evidence: \(name) is not a list of bytes") }
                    out.append(UInt8(b))
                }
                return out
            }
            guard let s = v?.string else { throw AttestationError(.malformed, "Azure vTPM evidence: \(name) is missing") }
            return try EvidenceEncoding.decode(Array(s.utf8))
        }

        /// The evidence as a bundle: the TPM pieces (the signature as a TPMT_SIGNATURE, the AK
        /// rebuilt from the HCL report's `HCLAkPub`), the HCL report, and the VCEK as collateral.
        /// Throws ``AttestationError/Code/akBindingMismatch`` when the runtime data names no RSA
        /// `HCLAkPub`.
        public func bundle() throws(AttestationError) -> EvidenceBundle {
            let hcl = try SEVSNP.HCLReport(rawRepresentation: hclReport)
            let ak = try Self.akPublicArea(runtimeData: hcl.runtimeData)
            guard signature.count <= 0xFFFF else { throw AttestationError(.malformed, "Azure vTPM evidence: signature too long") }
            let tpmtSignature: [UInt8] = [0x00, 0x14, 0x00, 0x0B, UInt8(signature.count >> 8), UInt8(signature.count & 0xFF)] + signature
            let values = Dictionary(uniqueKeysWithValues: pcrs.enumerated().map { (String($0.offset), Hex.encode($0.element)) })
            let tpm = EvidenceBundle.TPMEvidence(attest: Data(attest), signature: Data(tpmtSignature), akPublic: Data(ak), pcrs: ["sha256": values])
            return EvidenceBundle(platform: .tpm, report: Data(hclReport), collateral: vcek.map { ["vcek": Data($0)] }, tpm: tpm)
        }

        /// Azure's AK template (RSA-2048, SHA-256 name, fixedTPM | fixedParent |
        /// sensitiveDataOrigin | userWithAuth | noDA | restricted | sign, RSASSA-SHA256) around
        /// the `HCLAkPub` modulus and exponent: the TPMT_PUBLIC whose name the quote's
        /// qualifiedSigner qualifies.
        static func akPublicArea(runtimeData: [UInt8]) throws(AttestationError) -> [UInt8] {
            let json: JSONValue
            do { json = try JSONValue(parsing: runtimeData) } catch {
                throw AttestationError(.akBindingMismatch, "the HCL runtime data is not JSON: \(error.message)")
            }
            guard let jwk = json["keys"]?.array?.first(where: { $0["kid"]?.string == "HCLAkPub" }), jwk["kty"]?.string == "RSA",
                let n = jwk["n"]?.string.flatMap(base64URL), let e = jwk["e"]?.string.flatMap(base64URL), !n.isEmpty, n.count <= 512, e.count <= 4
            else {
                throw AttestationError(.akBindingMismatch, "the HCL runtime data names no RSA HCLAkPub key")
            }
            let modulus = Array(n.drop(while: { $0 == 0 }))
            let exponent = e.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let bits = UInt16(modulus.count * 8)
            // An exponent of 0 in TPMS_RSA_PARMS means the default 65537.
            let stored = exponent == 65537 ? 0 : exponent
            var area: [UInt8] = [
                0x00, 0x01, 0x00, 0x0B, 0x00, 0x05, 0x04, 0x72, 0x00, 0x00, 0x00, 0x10, 0x00, 0x14, 0x00, 0x0B,
                UInt8(bits >> 8), UInt8(bits & 0xFF),
                UInt8(stored >> 24), UInt8(stored >> 16 & 0xFF), UInt8(stored >> 8 & 0xFF), UInt8(stored & 0xFF),
            ]
            area += [UInt8(modulus.count >> 8), UInt8(modulus.count & 0xFF)] + modulus
            return area
        }
    }
}
