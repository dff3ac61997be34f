import ByteEncoding
import Crypto
import Foundation
import X509

extension SEVSNP {
    /// Verifies an SEV-SNP attestation report against AMD certificates at an instant the caller
    /// passes in.
    ///
    /// Checks, each failure with its own ``AttestationError/Code``: the chain VCEK → ASK → ARK or
    /// VLEK → ASVK → ARK, ending at the pinned ARK of the product (RSASSA-PSS signatures, names,
    /// validity windows, optional AMD CRLs); the report's SIGNING_KEY against the certificate kind;
    /// the product (CPUID in v3+ reports, the chain, the certificate's productName); the VCEK's
    /// hwID against CHIP_ID; the certificate's TCB SVNs against REPORTED_TCB; and the ECDSA
    /// P-384 / SHA-384 report signature over bytes 0x000–0x29F. Fails closed: anything it cannot
    /// check is an error. Debug and policy are ``Validator``'s business.
    public struct ReportVerifier: Sendable {
        /// The pinned ARKs by product (default: the embedded ``AMDRootKeys``).
        public let trustAnchors: [Product: AMDCertificate]
        /// Cache of certificate signatures already verified; nil to verify every time. Report
        /// signatures are never cached.
        public let cache: VerificationCache?

        /// Creates a verifier pinned to `trustAnchors`. Pass a `cache` to reuse verified chain
        /// signatures across calls (validity windows and revocation are still checked every time).
        public init(trustAnchors: [Product: AMDCertificate] = AMDRootKeys.all, cache: VerificationCache? = nil) {
            self.trustAnchors = trustAnchors
            self.cache = cache
        }

        /// A chain checked from an endorsement key to a pinned ARK.
        public struct VerifiedChain: Sendable {
            /// The product of the pinned ARK the chain ends at.
            public let product: Product
            /// VCEK or VLEK.
            public let signingKey: SigningKey
            /// The VCEK or VLEK.
            public let endorsementKey: AMDCertificate
            /// The ASK (VCEK) or ASVK (VLEK).
            public let intermediate: AMDCertificate
            /// The pinned ARK.
            public let ark: AMDCertificate
        }

        /// Verifies `report` with `certificates` (and optional AMD CRLs) at `now`. Returns a
        /// ``VerifiedReport`` or throws ``AttestationError``.
        public func verify(_ report: Report, certificates: CertificateBundle, crls: [CertificateRevocationList] = [], now: Date) throws(AttestationError) -> VerifiedReport {
            guard let signingKey = report.signerInfo.signingKey else {
                throw AttestationError(.signingKeyMismatch, "SIGNING_KEY \(report.signerInfo.signingKeyField) is neither VCEK (0) nor VLEK (1)")
            }
            guard !report.signerInfo.maskChipKey else {
                throw AttestationError(.reportSignatureInvalid, "SIGNER_INFO has MASK_CHIP_KEY set: the report carries no signature")
            }
            let leaf: AMDCertificate
            switch (signingKey, certificates.vcek, certificates.vlek) {
            case (.vcek, let c?, _), (.vlek, _, let c?): leaf = c
            case (.vcek, nil, _?), (.vlek, _?, nil):
                throw AttestationError(.signingKeyMismatch, "the report is signed by a \(signingKey.rawValue.uppercased()), but only a \(signingKey == .vcek ? "VLEK" : "VCEK") was supplied")
            default:
                // Absent collateral, not a bad chain: the verdict needs a certificate nobody gave.
                throw AttestationError(.collateralMissing, "no \(signingKey.rawValue.uppercased()) certificate was supplied")
            }
            let chain = try verifyChain(endorsementKey: leaf, certificates: certificates, crls: crls, now: now)

            // Product: the CPUID of v3+ reports must name the chain's product. A v2 report has no
            // CPUID, and no Turin firmware emits v2, so a Turin chain for one is refused.
            if report.version >= 3 {
                guard let reported = report.product else {
                    throw AttestationError(.unsupportedProduct, String(format: "CPUID family 0x%02x model 0x%02x is not Milan, Genoa or Turin", report.cpuidFamilyID, report.cpuidModelID))
                }
                guard reported == chain.product else {
                    throw AttestationError(.unsupportedProduct, "the report's CPUID names \(reported.amdName), the certificate chain \(chain.product.amdName)")
                }
            } else if chain.product == .turin {
                throw AttestationError(.unsupportedProduct, "a version \(report.version) report cannot come from Turin, whose chain was supplied")
            }
            let ext = try VCEKExtensions(certificate: leaf)
            guard ext.productName.lowercased().hasPrefix(chain.product.rawValue) else {
                throw AttestationError(.unsupportedProduct, "\(signingKey.rawValue.uppercased()) productName \(ext.productName) is not \(chain.product.amdName)")
            }

            // Chip: the VCEK is derived per chip, so its hwID must be this report's CHIP_ID
            // (Turin VCEKs carry the first 8 bytes). VLEKs are not chip-bound and have no hwID.
            if signingKey == .vcek {
                guard let hwID = ext.hwID else {
                    throw AttestationError(.certificateExtensionMissing, "VCEK has no hwID extension (\(VCEKExtensions.hwIDOID))")
                }
                let expected = chain.product == .turin ? Array(report.chipID.bytes.prefix(8)) : report.chipID.bytes
                guard hwID == expected else {
                    throw AttestationError(.chipIDMismatch, "VCEK hwID \(Hex.encode(hwID.prefix(8)))… is not the report's CHIP_ID \(Hex.encode(report.chipID.bytes.prefix(8)))…")
                }
            }

            // TCB: the key is derived for REPORTED_TCB, and the certificate states that TCB.
            let tcb = report.reportedTCB
            var mismatches = [String]()
            for (name, cert, reported) in [("bootloader", ext.bootloader, tcb.bootloader), ("tee", ext.tee, tcb.tee), ("snp", ext.snp, tcb.snp), ("microcode", ext.microcode, tcb.microcode)]
            where cert != Int(reported) {
                mismatches.append("\(name) \(cert) ≠ \(reported)")
            }
            if chain.product == .turin, ext.fmc != tcb.fmc.map { Int($0) } {
                mismatches.append("fmc \(ext.fmc.map(String.init) ?? "absent") ≠ \(tcb.fmc.map(String.init) ?? "absent")")
            }
            guard mismatches.isEmpty else {
                throw AttestationError(.tcbMismatch, "\(signingKey.rawValue.uppercased()) TCB differs from REPORTED_TCB \(tcb.raw): \(mismatches.joined(separator: ", "))")
            }

            try verifySignature(of: report, endorsementKey: leaf)

            let expiries = [chain.endorsementKey, chain.intermediate, chain.ark].map(\.notValidAfter) + crls.map(\.nextUpdate)
            return VerifiedReport(
                report: report, product: chain.product, signingKey: signingKey, endorsementKeyExtensions: ext,
                verifiedAt: now, validUntil: expiries.min() ?? now)
        }

        /// What ``inspect(_:certificates:now:)`` checks when certificates are given.
        public static let inspectionChecks = [
            "VCEK/VLEK → ASK/ASVK chain to the pinned AMD ARK (signatures, validity at the instant)",
            "certificate against the report (signing key, product, chip ID, REPORTED_TCB)",
            "report signature by the VCEK/VLEK",
        ]
        /// What it leaves unchecked with certificates: AMD CRLs (without certificates, everything
        /// of ``inspectionChecks`` too).
        public static let inspectionUnchecked = ["AMD CRLs (ASK/ASVK, VCEK/VLEK revocation)"]

        /// Checks what a report proves with the certificates at hand and no CRL: with
        /// `certificates`, ``inspectionChecks`` (``verify(_:certificates:crls:now:)`` without
        /// CRLs); without, nothing (the report only parsed). Returns what was checked and what
        /// was not. Not a verdict. Throws the first failure.
        public func inspect(_ report: Report, certificates: CertificateBundle?, now: Date) throws(AttestationError) -> (checked: [String], unchecked: [String]) {
            guard let certificates else { return ([], Self.inspectionChecks + Self.inspectionUnchecked) }
            _ = try verify(report, certificates: certificates, now: now)
            return (Self.inspectionChecks, Self.inspectionUnchecked)
        }

        /// Parses and verifies in one step (binary, hex or base64 report).
        public func verify(reportBytes: [UInt8], certificates: CertificateBundle, crls: [CertificateRevocationList] = [], now: Date) throws(AttestationError) -> VerifiedReport {
            try verify(Report(bytesOrText: reportBytes), certificates: certificates, crls: crls, now: now)
        }

        /// Fetches the certificates for `report` from `source`, then verifies. Fetch failures
        /// surface as the source throws them (``AttestationError/Code/collateralUnavailable``).
        public func verify(_ report: Report, source: some CertificateSource, crls: [CertificateRevocationList] = [], now: Date) async throws(AttestationError) -> VerifiedReport {
            let bundle = try await source.certificates(for: report, now: now)
            return try verify(report, certificates: bundle, crls: crls, now: now)
        }

        /// Verifies only the ECDSA P-384 / SHA-384 signature over bytes 0x000–0x29F under the
        /// P-384 key of `endorsementKey` (a VCEK or VLEK whose chain the caller has verified).
        /// R and S are 72-byte little-endian fields; the top 24 bytes of each must be zero.
        /// Throws ``AttestationError/Code/reportSignatureInvalid``.
        public func verifySignature(of report: Report, endorsementKey: AMDCertificate) throws(AttestationError) {
            guard let key = try? P384.Signing.PublicKey(derRepresentation: endorsementKey.subjectPublicKeyInfo) else {
                throw AttestationError(.certificateChainMalformed, "\(endorsementKey.commonName ?? "endorsement key") does not hold a P-384 public key")
            }
            let r = report.signatureR.bytes, s = report.signatureS.bytes
            guard r[48...].allSatisfy({ $0 == 0 }), s[48...].allSatisfy({ $0 == 0 }),
                let signature = try? P384.Signing.ECDSASignature(rawRepresentation: Array(r[..<48].reversed()) + Array(s[..<48].reversed())),
                key.isValidSignature(signature, for: report.signedBytes)
            else {
                throw AttestationError(.reportSignatureInvalid, "report signature does not verify under the \(endorsementKey.commonName ?? "endorsement key") public key")
            }
        }

        /// Verifies the chain from `endorsementKey` (VCEK or VLEK) through the ASK or ASVK in
        /// `certificates` to the pinned ARK, with `crls` (issued by the ARK) at `now`.
        public func verifyChain(endorsementKey leaf: AMDCertificate, certificates: CertificateBundle, crls: [CertificateRevocationList] = [], now: Date) throws(AttestationError) -> VerifiedChain {
            let role = CertificateBundle.Role(commonName: leaf.commonName ?? "")
            let signingKey: SigningKey
            switch role {
            case .vcek: signingKey = .vcek
            case .vlek: signingKey = .vlek
            default: throw AttestationError(.certificateChainMalformed, "\(leaf.subject) is neither a VCEK nor a VLEK")
            }
            let pool = signingKey == .vcek ? certificates.asks : certificates.asvks
            let kind = signingKey == .vcek ? "ASK" : "ASVK"
            guard let candidate = pool.values.first(where: { $0.subject == leaf.issuer }) ?? pool.values.sorted(by: { $0.derRepresentation.lexicographicallyPrecedes($1.derRepresentation) }).first
            else {
                throw AttestationError(.collateralMissing, "no \(kind) was supplied for \(leaf.issuerCommonName ?? "the \(signingKey.rawValue.uppercased())")")
            }
            // The candidate is from the ASK pool for a VCEK and the ASVK pool for a VLEK, so its role
            // fits; if its name is not the leaf's issuer, `link` reports the broken chain.
            let (product, ark) = try verifyIntermediate(candidate, certificates: certificates, now: now)
            let name = "\(signingKey.rawValue.uppercased()) chain"
            try link(leaf, signedBy: candidate, name: name)
            try PinnedChainVerifier.checkValidity(subject: leaf.subject, notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter, at: now, name: name)
            try checkRevocation([candidate, leaf], ark: ark, crls: crls, now: now)
            return VerifiedChain(product: product, signingKey: signingKey, endorsementKey: leaf, intermediate: candidate, ark: ark)
        }

        /// Verifies an ASK or ASVK against the pinned ARK its issuer names, at `now`; an ARK for
        /// that product in `certificates` must be byte-equal to the pinned one. Returns the
        /// product and the pinned ARK. Throws ``AttestationError/Code/untrustedRoot`` when the
        /// issuer is no pinned ARK or a different ARK was supplied.
        public func verifyIntermediate(_ intermediate: AMDCertificate, certificates: CertificateBundle = CertificateBundle(), now: Date) throws(AttestationError) -> (Product, AMDCertificate) {
            guard case .ark(let product)? = CertificateBundle.Role(commonName: intermediate.issuerCommonName ?? ""),
                let ark = trustAnchors[product]
            else {
                throw AttestationError(.untrustedRoot, "\(intermediate.subject) is issued by \(intermediate.issuer), which is no pinned AMD ARK")
            }
            if let supplied = certificates.arks[product], supplied.derRepresentation != ark.derRepresentation {
                throw AttestationError(.untrustedRoot, "the supplied \(supplied.commonName ?? "ARK") is not the pinned ARK-\(product.amdName)")
            }
            let name = "\(intermediate.commonName ?? "ASK") chain"
            try link(intermediate, signedBy: ark, name: name)
            for c in [ark, intermediate] {
                try PinnedChainVerifier.checkValidity(subject: c.subject, notBefore: c.notValidBefore, notAfter: c.notValidAfter, at: now, name: name)
            }
            return (product, ark)
        }

        /// Names chain and the RSASSA-PSS signature verifies (cached when a cache is set).
        private func link(_ cert: AMDCertificate, signedBy issuer: AMDCertificate, name: String) throws(AttestationError) {
            guard cert.issuer == issuer.subject else {
                throw AttestationError(.certificateSignatureInvalid, "\(name): \(cert.subject) names issuer \(cert.issuer), but the next certificate is \(issuer.subject)")
            }
            let valid = cache?.check([cert.tbsBytes, cert.signature, issuer.subjectPublicKeyInfo]) { cert.isSigned(by: issuer) } ?? cert.isSigned(by: issuer)
            guard valid else {
                throw AttestationError(.certificateSignatureInvalid, "\(name): signature on \(cert.subject) does not verify under \(issuer.subject)")
            }
        }

        /// AMD's CRLs are issued and RSASSA-PSS-signed by the ARK and list revoked ASKs/ASVKs (and
        /// endorsement keys). Each CRL must verify under the pinned ARK and be current.
        private func checkRevocation(_ certs: [AMDCertificate], ark: AMDCertificate, crls: [CertificateRevocationList], now: Date) throws(AttestationError) {
            guard !crls.isEmpty else { return }
            let arkKey: Certificate.PublicKey
            do { arkKey = try Certificate.PublicKey(derEncoded: ark.subjectPublicKeyInfo) } catch {
                throw AttestationError(.certificateChainMalformed, "pinned \(ark.commonName ?? "ARK") key cannot be read: \(error)")
            }
            for crl in crls {
                try crl.verify(issuerName: ark.subject, issuerKey: arkKey, at: now, name: "AMD CRL of \(ark.commonName ?? "ARK")")
                for c in certs where crl.isRevoked(serialNumber: c.serialNumber) {
                    throw AttestationError(.certificateRevoked, "\(c.subject) serial \(Hex.encode(c.serialNumber)) is revoked by the CRL of \(crl.issuer)")
                }
            }
        }
    }
}
