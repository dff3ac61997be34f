import Crypto
import Foundation
import X509

extension TDX {
    /// Verifies a TDX quote against Intel collateral at an instant the caller passes in.
    ///
    /// Checks, each failure with its own ``AttestationError/Code``: the Root CA CRL (signed by the
    /// pinned root, within its window); TCB Info and QE Identity (their chain: a TCB Signing
    /// certificate issued by the pinned root; signature, issueDate/nextUpdate, type); the PCK
    /// chain to the pinned root, with both CRLs; the QE report signature by the PCK key; QE
    /// report data = SHA-256(attestation key ‖ QE auth data) ‖ zeros; the quote signature by the
    /// attestation key; the QE against QE Identity;
    /// FMSPC and PCE ID against TCB Info; the TDX module identity. It then matches TCB levels.
    /// Fails closed: anything it cannot check is an error.
    public struct QuoteVerifier: Sendable {
        /// The pinned trust anchor (default: the embedded Intel SGX Root CA).
        public let trustAnchor: Certificate
        /// Cache of signatures already verified; nil to verify every signature every time.
        public let cache: VerificationCache?
        private let chains: PinnedChainVerifier
        private let anchorDER: [UInt8]

        /// Creates a verifier. Pass a `cache` to reuse verified signatures across calls (validity
        /// windows and revocation are still checked every time).
        public init(trustAnchor: Certificate = TDX.intelSGXRootCA, cache: VerificationCache? = nil) {
            // The embedded root's DER is a constant; any other anchor is serialized once here.
            let der = trustAnchor == TDX.intelSGXRootCA ? TDX.intelSGXRootCADER : CertificateChain([trustAnchor]).derEncodings[0]
            self.init(trustAnchor: trustAnchor, der: der, cache: cache)
        }

        private init(trustAnchor: Certificate, der: [UInt8], cache: VerificationCache?) {
            self.trustAnchor = trustAnchor
            self.cache = cache
            self.chains = PinnedChainVerifier(anchor: trustAnchor, der: der)
            self.anchorDER = der
            // Chains in quotes and collateral repeat the anchor: never parse it again.
            cache?.remember(trustAnchor, der: der)
        }

        /// This verifier with `cache` (its anchor already encoded).
        public func with(cache: VerificationCache) -> QuoteVerifier {
            QuoteVerifier(trustAnchor: trustAnchor, der: anchorDER, cache: cache)
        }

        /// Verifies `quote` with `collateral` at `now`. Returns a ``VerifiedQuote`` (whose TCB
        /// verdict may be nil: no level matched) or throws ``AttestationError``.
        public func verify(_ quote: Quote, collateral: Collateral, now: Date) throws(AttestationError) -> VerifiedQuote {
            // Without a shared cache, a memo for this call (certificates parsed once).
            guard cache != nil else {
                return try with(cache: .perVerification()).verify(quote, collateral: collateral, now: now)
            }

            // PCK chain first, so a quote from another root reads as untrustedRoot rather than as a
            // CRL problem; revocation is checked once the CRLs themselves are verified.
            let pckChain = try verifiedPCKChain(of: quote, now: now)

            // Root CA CRL: signed by the anchor, current.
            try verify(crl: collateral.rootCACRL, issuer: trustAnchor, issuerDER: anchorDER, now: now, name: "Root CA CRL")

            // TCB Info and QE Identity: chain, signature, window, type.
            try requireTCBSigningShape(collateral.tcbInfoIssuerChain, name: "TCB Info issuer chain")
            try chains.verify(collateral.tcbInfoIssuerChain, at: now, crls: [collateral.rootCACRL], name: "TCB Info issuer chain", cache: cache)
            try verify(document: collateral.tcbInfo, chain: collateral.tcbInfoIssuerChain, code: .tcbInfoSignatureInvalid, name: "TCB Info")
            let tcbInfo = collateral.tcbInfo.body
            try window(issue: tcbInfo.issueDate, next: tcbInfo.nextUpdate, now: now, name: "TCB Info", notYet: .tcbInfoNotYetValid, expired: .tcbInfoExpired)
            guard tcbInfo.id == "TDX", tcbInfo.version >= 3 else {
                throw AttestationError(.collateralTypeMismatch, "TCB Info is id \(tcbInfo.id) version \(tcbInfo.version), a TDX quote needs id TDX version 3 or later")
            }
            // Both documents are normally signed through the same TCB Signing chain: the same
            // certificates checked at the same instant against the same CRL give the same result.
            try requireTCBSigningShape(collateral.qeIdentityIssuerChain, name: "QE Identity issuer chain")
            if collateral.qeIdentityIssuerChain.derEncodings != collateral.tcbInfoIssuerChain.derEncodings {
                try chains.verify(collateral.qeIdentityIssuerChain, at: now, crls: [collateral.rootCACRL], name: "QE Identity issuer chain", cache: cache)
            }
            try verify(document: collateral.qeIdentity, chain: collateral.qeIdentityIssuerChain, code: .qeIdentitySignatureInvalid, name: "QE Identity")
            let qeIdentity = collateral.qeIdentity.body
            try window(issue: qeIdentity.issueDate, next: qeIdentity.nextUpdate, now: now, name: "QE Identity", notYet: .qeIdentityNotYetValid, expired: .qeIdentityExpired)
            guard qeIdentity.id == "TD_QE", [2, 3].contains(qeIdentity.version) else {
                throw AttestationError(.collateralTypeMismatch, "QE Identity is id \(qeIdentity.id) version \(qeIdentity.version), a TDX quote needs TD_QE version 2 or 3")
            }

            // PCK CRL, from the CA the verified chain presents; then revocation of the whole chain.
            let pckCA = pckChain.certificates[1]
            try verify(crl: collateral.pckCRL, issuer: pckCA, issuerDER: pckChain.derEncodings[1], now: now, name: "PCK CRL")
            try chains.checkRevocation(pckChain, crls: [collateral.rootCACRL, collateral.pckCRL], name: "PCK chain")
            let pck = try PCKExtensions.of(pckChain, cache: cache)
            try verifySignatures(of: quote, pckChain: pckChain)

            // QE Identity.
            let qe = quote.qeReport
            guard qe.mrSigner == qeIdentity.mrsigner else {
                throw AttestationError(.qeIdentityMismatch, "QE MRSIGNER \(qe.mrSigner) is not \(qeIdentity.mrsigner)")
            }
            guard qe.isvProdID == qeIdentity.isvprodid else {
                throw AttestationError(.qeIdentityMismatch, "QE ISVPRODID \(qe.isvProdID) is not \(qeIdentity.isvprodid)")
            }
            let miscMask = UInt32(littleEndian: qeIdentity.miscselectMask.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            let miscWant = UInt32(littleEndian: qeIdentity.miscselect.bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            guard qe.miscSelect & miscMask == miscWant & miscMask else {
                throw AttestationError(.qeIdentityMismatch, "QE MISCSELECT does not match QE Identity under its mask")
            }
            for i in 0..<16 where qe.attributes.bytes[i] & qeIdentity.attributesMask.bytes[i] != qeIdentity.attributes.bytes[i] & qeIdentity.attributesMask.bytes[i] {
                throw AttestationError(.qeIdentityMismatch, "QE ATTRIBUTES byte \(i) does not match QE Identity under its mask")
            }
            let qeLevel = qeIdentity.tcbLevels.first { Int(qe.isvSVN) >= $0.isvsvn }
            let qeTCB = qeLevel.map { TCBVerdict(status: $0.tcbStatus, advisoryIDs: $0.advisoryIDs) }

            // Platform TCB.
            guard pck.fmspc == tcbInfo.fmspc else {
                throw AttestationError(.fmspcMismatch, "TCB Info is for FMSPC \(tcbInfo.fmspc), the PCK certificate says \(pck.fmspc)")
            }
            guard pck.pceID == tcbInfo.pceID else {
                throw AttestationError(.pceIDMismatch, "TCB Info is for PCE ID \(tcbInfo.pceID), the PCK certificate says \(pck.pceID)")
            }
            let platformTCB = try matchPlatformLevel(tcbInfo: tcbInfo, pck: pck, report: quote.report)
            let module = try matchModule(tcbInfo: tcbInfo, report: quote.report)

            var reason: String?
            var merged: TCBVerdict?
            if platformTCB == nil {
                reason = "no TCB level of TCB Info (FMSPC \(tcbInfo.fmspc)) matches the platform (CPUSVN \(pck.cpuSVN), PCESVN \(pck.pceSVN), TEE_TCB_SVN \(quote.report.teeTCBSVN))"
            } else if qeTCB == nil {
                reason = "QE ISVSVN \(qe.isvSVN) is below every QE Identity TCB level"
            } else if case .unmatched(let why) = module {
                reason = why
            } else {
                merged = platformTCB!.merged(with: qeTCB!)
                if case .matched(let m) = module { merged = merged!.merged(with: m) }
            }
            let moduleTCB: TCBVerdict? = if case .matched(let m) = module { m } else { nil }

            let expiries =
                [tcbInfo.nextUpdate, qeIdentity.nextUpdate, collateral.pckCRL.nextUpdate, collateral.rootCACRL.nextUpdate]
                + (pckChain.certificates + collateral.tcbInfoIssuerChain.certificates + collateral.qeIdentityIssuerChain.certificates).map(\.notValidAfter)
            var verified = VerifiedQuote(
                quote: quote, pck: pck, tcb: merged, tcbUnmatchedReason: reason, platformTCB: platformTCB, qeTCB: qeTCB,
                moduleTCB: moduleTCB, verifiedAt: now, validUntil: expiries.min()!)
            verified.tcbEvaluationDataNumber = min(tcbInfo.tcbEvaluationDataNumber, qeIdentity.tcbEvaluationDataNumber)
            return verified
        }

        /// What ``inspect(_:now:)`` checks, in order.
        public static let inspectionChecks = [
            "PCK certificate chain to the pinned Intel SGX Root CA (signatures, validity at the instant)",
            "QE report signature by the PCK key",
            "QE report data binds the attestation key",
            "quote signature by the attestation key",
        ]
        /// What ``inspect(_:now:)`` leaves unchecked: everything that needs Intel collateral.
        public static let inspectionUnchecked = [
            "PCK certificate revocation (PCK CRL, Root CA CRL)",
            "TCB Info (signature, validity, FMSPC, TCB level, TDX module)",
            "QE Identity (signature, validity, QE identity and TCB)",
        ]

        /// Checks what a quote proves without collateral, at `now`: ``inspectionChecks`` (the
        /// same steps ``verify(_:collateral:now:)`` runs), nothing of ``inspectionUnchecked``.
        /// Not a verdict: a revoked PCK or an out-of-date TCB passes. Throws the first failure.
        public func inspect(_ quote: Quote, now: Date) throws(AttestationError) {
            guard cache != nil else { return try with(cache: .perVerification()).inspect(quote, now: now) }
            try verifySignatures(of: quote, pckChain: try verifiedPCKChain(of: quote, now: now))
        }

        /// Parses and verifies in one step.
        public func verify(quoteBytes: [UInt8], collateral: Collateral, now: Date) throws(AttestationError) -> VerifiedQuote {
            try verify(Quote(rawRepresentation: quoteBytes), collateral: collateral, now: now)
        }

        // MARK: - Steps

        /// The quote's PCK chain (PCK, PCK CA, Root CA) checked to the pinned root at `now`,
        /// without revocation.
        private func verifiedPCKChain(of quote: Quote, now: Date) throws(AttestationError) -> CertificateChain {
            let pckChain: CertificateChain
            if let cache {
                pckChain = try cache.chain(pem: quote.pckCertificateChainPEM)
            } else {
                pckChain = try CertificateChain(pemEncoded: String(decoding: quote.pckCertificateChainPEM, as: UTF8.self))
            }
            guard pckChain.certificates.count == 3 else {
                throw AttestationError(.certificateChainMalformed, "PCK chain has \(pckChain.certificates.count) certificates, expected PCK, PCK CA, Root CA")
            }
            try chains.verify(pckChain, at: now, name: "PCK chain", cache: cache)
            return pckChain
        }

        /// The QE report signed by the PCK key and binding the attestation key, and the quote
        /// signed by that attestation key.
        private func verifySignatures(of quote: Quote, pckChain: CertificateChain) throws(AttestationError) {
            guard let pckKey = P256.Signing.PublicKey(pckChain.leaf.publicKey) else {
                throw AttestationError(.certificateChainMalformed, "PCK certificate key is not P-256")
            }
            guard checkRaw(signature: quote.qeReportSignature, over: quote.qeReport.rawRepresentation, key: pckKey, keyBytes: pckChain.derEncodings[0]) else {
                throw AttestationError(.qeReportSignatureInvalid, "QE report signature does not verify under the PCK key")
            }
            let expected = SHA256.hash(data: quote.attestationKey.bytes + quote.qeAuthData)
            let rd = quote.qeReport.reportData.bytes
            guard rd[0..<32].elementsEqual(expected), rd[32..<64].allSatisfy({ $0 == 0 }) else {
                throw AttestationError(.qeReportDataMismatch, "QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes")
            }
            guard let akey = try? P256.Signing.PublicKey(rawRepresentation: quote.attestationKey.bytes) else {
                throw AttestationError(.quoteSignatureInvalid, "attestation key is not a point on P-256")
            }
            // Never cached: every quote is signed afresh, so a warm verifier still pays this one verify.
            guard checkRaw(signature: quote.signature, over: quote.signedBytes, key: akey, keyBytes: quote.attestationKey.bytes, cacheable: false) else {
                throw AttestationError(.quoteSignatureInvalid, "quote signature does not verify under the attestation key")
            }
        }

        private func verify(crl: CertificateRevocationList, issuer: Certificate, issuerDER: [UInt8], now: Date, name: String) throws(AttestationError) {
            if let cache {
                // The signature check is the only cached part; names and the window are re-checked.
                guard crl.issuer == issuer.subject else { try crl.verify(issuedBy: issuer, at: now, name: name); return }
                let ok = cache.check([crl.tbsBytes, crl.signature, issuerDER]) {
                    crl.isValidSignature(under: issuer.publicKey)
                }
                guard ok else { throw AttestationError(.crlSignatureInvalid, "\(name) signature does not verify under \(issuer.subject)") }
                guard now >= crl.thisUpdate else { throw AttestationError(.crlNotYetValid, "\(name) thisUpdate \(crl.thisUpdate.iso8601) is after \(now.iso8601)") }
                guard now <= crl.nextUpdate else { throw AttestationError(.crlExpired, "\(name) nextUpdate \(crl.nextUpdate.iso8601) is before \(now.iso8601)") }
            } else {
                try crl.verify(issuedBy: issuer, at: now, name: name)
            }
        }

        /// Why: a chain to the pinned root proves that Intel issued the leaf, not that Intel
        /// issued it to sign collateral. A PCK certificate chains to the root too (PCK → PCK CA →
        /// root) and its key lives in a platform: without this, one platform's extracted PCK key
        /// could sign TCB Info or QE Identity that vouch for every platform. Intel's TCB Signing
        /// certificate is issued directly by the root, so a collateral signing chain is exactly
        /// [TCB Signing, Root CA]; anything longer throws
        /// ``AttestationError/Code/certificateChainMalformed`` (fails closed).
        /// The leaf must not be a CA either: the PCK CA is also issued directly by the root.
        private func requireTCBSigningShape(_ chain: CertificateChain, name: String) throws(AttestationError) {
            guard chain.certificates.count == 2 else {
                throw AttestationError(
                    .certificateChainMalformed, "\(name) has \(chain.certificates.count) certificates, expected TCB Signing, Root CA (collateral signers are issued directly by the root)")
            }
            if case .isCertificateAuthority = (try? chain.leaf.extensions.basicConstraints) ?? .notCertificateAuthority {
                throw AttestationError(.certificateChainMalformed, "\(name): the signer \(chain.leaf.subject) is a CA, not a TCB Signing certificate")
            }
        }

        private func verify<B>(document: SignedDocument<B>, chain: CertificateChain, code: AttestationError.Code, name: String) throws(AttestationError) {
            guard let key = P256.Signing.PublicKey(chain.leaf.publicKey) else {
                throw AttestationError(.certificateChainMalformed, "\(name) signing key is not P-256")
            }
            guard checkRaw(signature: document.signature, over: document.signedBytes, key: key, keyBytes: chain.derEncodings[0]) else {
                throw AttestationError(code, "\(name) signature does not verify under \(chain.leaf.subject)")
            }
        }

        private func window(issue: Date, next: Date, now: Date, name: String, notYet: AttestationError.Code, expired: AttestationError.Code) throws(AttestationError) {
            guard now >= issue else { throw AttestationError(notYet, "\(name) issueDate \(issue.iso8601) is after \(now.iso8601)") }
            guard now <= next else { throw AttestationError(expired, "\(name) nextUpdate \(next.iso8601) is before \(now.iso8601)") }
        }

        /// `keyBytes` identifies the key in the cache: the raw key, or the DER of the certificate
        /// that holds it (already at hand, where re-encoding the key from BoringSSL is not).
        private func checkRaw(signature: FixedBytes<64>, over data: [UInt8], key: P256.Signing.PublicKey, keyBytes: [UInt8], cacheable: Bool = true) -> Bool {
            let verify = {
                guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature.bytes) else { return false }
                return key.isValidSignature(sig, for: data)
            }
            guard cacheable, let cache else { return verify() }
            return cache.check([data, signature.bytes, keyBytes], verify: verify)
        }

        /// Intel's ordering: levels sorted by SGX components, then PCESVN, then TDX components,
        /// highest first; the first level the platform meets or exceeds in every component wins.
        private func matchPlatformLevel(tcbInfo: TCBInfo, pck: PCKExtensions, report: TDReport) throws(AttestationError) -> TCBVerdict? {
            let levels = tcbInfo.tcbLevels.sorted { a, b in
                if a.sgxComponents != b.sgxComponents { return a.sgxComponents.lexicographicallyPrecedes(b.sgxComponents) == false }
                if a.pceSVN != b.pceSVN { return a.pceSVN > b.pceSVN }
                return b.tdxComponents.lexicographicallyPrecedes(a.tdxComponents)
            }
            let cpu = pck.cpuSVN.bytes
            let tee = report.teeTCBSVN.bytes
            for level in levels {
                guard level.sgxComponents.count == 16, level.tdxComponents.count == 16 else {
                    throw AttestationError(.collateralMalformed, "TCB Info level has \(level.sgxComponents.count) SGX and \(level.tdxComponents.count) TDX components, expected 16 each")
                }
                guard pck.pceSVN >= level.pceSVN,
                    zip(cpu, level.sgxComponents).allSatisfy({ $0 >= $1 }),
                    zip(tee, level.tdxComponents).allSatisfy({ $0 >= $1 })
                else { continue }
                return TCBVerdict(status: level.tcbStatus, advisoryIDs: level.advisoryIDs)
            }
            return nil
        }

        private enum ModuleMatch { case noIdentityLevels, matched(TCBVerdict), unmatched(String) }

        /// The TDX module: MRSIGNERSEAM and SEAMATTRIBUTES against `tdxModule` (or the identity
        /// `TDX_<major>` when TCB Info lists module identities), then the identity's ISVSVN levels.
        private func matchModule(tcbInfo: TCBInfo, report: TDReport) throws(AttestationError) -> ModuleMatch {
            guard let base = tcbInfo.tdxModule else {
                throw AttestationError(.collateralMalformed, "TDX TCB Info has no tdxModule")
            }
            var (signer, attributes, mask) = (base.mrsigner, base.attributes, base.attributesMask)
            var levels: [TCBInfo.TDXModuleIdentity.ModuleLevel]?
            let isvsvn = Int(report.teeTCBSVN.bytes[0]), major = report.teeTCBSVN.bytes[1]
            if major > 0, !tcbInfo.tdxModuleIdentities.isEmpty {
                let want = String(format: "TDX_%02X", major)
                guard let identity = tcbInfo.tdxModuleIdentities.first(where: { $0.id.uppercased() == want }) else {
                    throw AttestationError(.tdxModuleMismatch, "TCB Info has no TDX module identity \(want)")
                }
                (signer, attributes, mask) = (identity.mrsigner, identity.attributes, identity.attributesMask)
                levels = identity.tcbLevels
            }
            guard report.mrSignerSeam == signer else {
                throw AttestationError(.tdxModuleMismatch, "MRSIGNERSEAM \(report.mrSignerSeam) is not \(signer)")
            }
            for i in 0..<8 {
                let actual = report.seamAttributes.bytes[i]
                guard actual & mask.bytes[i] == attributes.bytes[i] & mask.bytes[i], actual & ~mask.bytes[i] == 0 else {
                    throw AttestationError(.tdxModuleMismatch, "SEAMATTRIBUTES byte \(i) does not match TCB Info under its mask")
                }
            }
            guard let levels else { return .noIdentityLevels }
            guard let level = levels.first(where: { isvsvn >= $0.isvsvn }) else {
                return .unmatched("TDX module ISVSVN \(isvsvn) is below every level of TDX_\(String(format: "%02X", major))")
            }
            return .matched(TCBVerdict(status: level.tcbStatus, advisoryIDs: level.advisoryIDs))
        }
    }
}
