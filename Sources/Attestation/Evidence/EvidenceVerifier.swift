import ByteEncoding
import Foundation

/// What evidence must bind to count as an answer to one question (and not a replay of another).
public enum ExpectedBinding: Sendable, Hashable {
    /// A key-release binding (Docs/protocol.md): TDX and SEV-SNP REPORTDATA must equal these 64
    /// bytes; a TPM quote's extraData must equal the first 32 (qualifyingData is at most a digest
    /// long). A mismatch is ``AttestationError/Code/bindingMismatch``.
    case reportData([UInt8])
    /// A verifier's nonce: a TPM quote's extraData must equal it; TDX and SEV-SNP REPORTDATA must
    /// be it followed by zero bytes. A mismatch is ``AttestationError/Code/nonceMismatch``.
    case nonce([UInt8])
    /// Nothing bound: recorded reference evidence only (policy derivation, offline checks).
    /// Never for a release decision: it gives no freshness.
    case anyForReferenceEvidence
}

/// Collateral for one verification, already loaded (``AttestationCollateral`` loads it from
/// files, the evidence bundle or Intel PCS / AMD KDS): this library never touches the network.
public struct EvidenceCollateral: Sendable {
    /// TDX collateral (TCB Info, QE Identity, CRLs) for the quote's FMSPC.
    public var tdx: TDX.Collateral?
    /// AMD certificates (VCEK or VLEK, ASK or ASVK, ARK) for SEV-SNP evidence or for the Azure HCL
    /// report inside TPM evidence.
    public var snpCertificates: SEVSNP.CertificateBundle?

    /// Creates collateral.
    public init(tdx: TDX.Collateral? = nil, snpCertificates: SEVSNP.CertificateBundle? = nil) {
        self.tdx = tdx
        self.snpCertificates = snpCertificates
    }
}

/// Evidence parsed from a bundle, its signatures not yet checked: what to fetch collateral for.
public struct ParsedEvidence: Sendable {
    /// The bundle it came from (its collateral, nonce and time stay available).
    public let bundle: EvidenceBundle
    /// The platform's parsed form.
    public let form: Form

    /// The parsed form of each platform's evidence.
    public enum Form: Sendable {
        /// A TDX quote.
        case tdx(TDX.Quote)
        /// An SEV-SNP report, with its Azure HCL envelope when it came in one.
        case snp(SEVSNP.Report, hcl: SEVSNP.HCLReport?)
        /// A TPM quote and its companions, with the Azure HCL report that may anchor its AK.
        case tpm(EvidenceBundle.TPMEvidence, hardwareReport: SEVSNP.HCLReport?)
    }

    /// Parses `bundle` (report bytes as binary, hex or base64 text). Throws
    /// ``AttestationError/Code/malformed`` when the platform's section is missing.
    public init(bundle: EvidenceBundle) throws(AttestationError) {
        self.bundle = bundle
        switch bundle.platform {
        case .tdx:
            guard let report = bundle.report else { throw AttestationError(.malformed, "the tdx evidence bundle has no report (quote)") }
            form = .tdx(try TDX.Quote(rawRepresentation: try EvidenceEncoding.decode([UInt8](report))))
        case .snp:
            guard let raw = bundle.report else { throw AttestationError(.malformed, "the snp evidence bundle has no report") }
            let bytes = try EvidenceEncoding.decode([UInt8](raw))
            if bytes.starts(with: SEVSNP.HCLReport.magic) {
                let hcl = try SEVSNP.HCLReport(rawRepresentation: bytes)
                form = .snp(hcl.report, hcl: hcl)
            } else {
                form = .snp(try SEVSNP.Report(rawRepresentation: bytes), hcl: nil)
            }
        case .tpm:
            guard let t = bundle.tpm else { throw AttestationError(.malformed, "the tpm evidence bundle has no tpm section") }
            var hcl: SEVSNP.HCLReport?
            if let raw = bundle.report {
                let bytes = try EvidenceEncoding.decode([UInt8](raw))
                guard bytes.starts(with: SEVSNP.HCLReport.magic) else {
                    throw AttestationError(.akBindingMismatch, "the TPM evidence's hardware report is not an Azure HCL report")
                }
                hcl = try SEVSNP.HCLReport(rawRepresentation: bytes)
            }
            form = .tpm(t, hardwareReport: hcl)
        }
    }

    /// The SEV-SNP report whose AMD certificates verification needs: the report itself, or the
    /// one inside TPM evidence's HCL report; nil for TDX.
    public var snpReport: SEVSNP.Report? {
        switch form {
        case .tdx: nil
        case .snp(let r, _): r
        case .tpm(_, let hcl): hcl?.report
        }
    }
}

/// Verifies evidence of every platform the same way: signatures and chains to the pinned roots
/// with the collateral given, the binding (one check for all platforms), and for TPM evidence an
/// anchored attestation key. Parse → verify; validation against a policy comes after
/// (``PolicySet``). Synchronous and offline: collateral is loaded beforehand.
public struct EvidenceVerifier: Sendable {
    /// The TDX quote verifier (pinned Intel root, signature cache).
    public var tdx: TDX.QuoteVerifier
    /// The SEV-SNP report verifier (pinned AMD roots).
    public var snp: SEVSNP.ReportVerifier
    /// The TPM quote verifier (roots for AK certificate chains).
    public var tpm: TPM.QuoteVerifier
    /// Whether a verified Azure HCL report in TPM evidence may anchor the AK it names. Off by
    /// default: TPM evidence carrying a report is then refused.
    public var akHardwareBinding: Bool
    /// How a TPM attestation key must be anchored.
    public var attestationKeyAnchoring: AttestationKeyAnchoring

    /// What vouches for a TPM attestation key.
    public enum AttestationKeyAnchoring: Sendable, Hashable {
        /// A certificate chain to a configured root, a verified hardware report, or one of these
        /// pins (AK names or `sha256:` SPKI digests, from the policies in force); otherwise
        /// ``AttestationError/Code/akUntrusted``. Each policy still checks its own pins.
        case required(pins: Set<String>)
        /// The AK's anchoring is reported, not required: validation judges it
        /// (``Policy/judgeAttestationKey(_:pins:)``). For operator reports that show an
        /// unanchored AK as not accepted rather than not verified.
        case judgedByPolicy
    }

    /// Creates a verifier; defaults pin the embedded Intel and AMD roots, trust no AK root, and
    /// require every AK to be anchored.
    public init(
        tdx: TDX.QuoteVerifier = TDX.QuoteVerifier(), snp: SEVSNP.ReportVerifier = SEVSNP.ReportVerifier(),
        tpm: TPM.QuoteVerifier = TPM.QuoteVerifier(), akHardwareBinding: Bool = false,
        attestationKeyAnchoring: AttestationKeyAnchoring = .required(pins: [])
    ) {
        self.tdx = tdx
        self.snp = snp
        self.tpm = tpm
        self.akHardwareBinding = akHardwareBinding
        self.attestationKeyAnchoring = attestationKeyAnchoring
    }

    /// Parses and verifies `bundle`; see ``verify(_:collateral:expectedBinding:now:)``.
    public func verify(_ bundle: EvidenceBundle, collateral: EvidenceCollateral, expectedBinding: ExpectedBinding, now: Date) throws(AttestationError) -> VerifiedEvidence {
        try verify(try ParsedEvidence(bundle: bundle), collateral: collateral, expectedBinding: expectedBinding, now: now)
    }

    /// Verifies parsed evidence at `now`: the platform's signatures and chains with `collateral`,
    /// the event log and workload manifest the bundle carries, the binding, and the TPM anchor.
    /// Throws ``AttestationError`` with the first failure's code.
    public func verify(_ evidence: ParsedEvidence, collateral: EvidenceCollateral, expectedBinding: ExpectedBinding, now: Date) throws(AttestationError) -> VerifiedEvidence {
        let bundle = evidence.bundle
        let eventLog = bundle.eventLog.map { [UInt8]($0) }
        let verified: VerifiedEvidence
        switch evidence.form {
        case .tdx(let quote):
            guard let c = collateral.tdx else { throw AttestationError(.collateralMissing, "no TDX collateral (TCB Info, QE Identity, CRLs) was supplied") }
            // One memo per verification when the caller keeps no cache.
            let verifier = tdx.cache == nil ? tdx.with(cache: .perVerification()) : tdx
            var q = try verifier.verify(quote, collateral: c, now: now)
            if let eventLog { try q.attach(ccEventLog: eventLog) }
            verified = .tdx(q)
        case .snp(let report, let hcl):
            try hcl?.verifyRuntimeDataBinding()
            let r = try verifySNP(report, collateral: collateral, now: now)
            let workload = try bundle.workloadManifest.map { m throws(AttestationError) in try VerifiedEvidence.Workload(snpManifest: [UInt8](m), hostData: r.claims.hostData) }
            verified = .snp(r, workload: workload)
        case .tpm(let t, let hcl):
            // The binding is checked below with the other platforms', after the signature.
            var q = try tpm.verify(t, eventLog: eventLog, expectedNonce: .anyForReferenceEvidence, now: now)
            if let hcl {
                guard akHardwareBinding else {
                    throw AttestationError(.akBindingMismatch, "the TPM evidence carries a hardware report, but AK binding by hardware report is not enabled")
                }
                try hcl.verifyRuntimeDataBinding()
                _ = try verifySNP(hcl.report, collateral: collateral, now: now)
                try q.anchor(byHardwareReport: "snp", runtimeData: hcl.runtimeData)
            }
            if case .required(let pins) = attestationKeyAnchoring, q.anchor == nil {
                let id = q.attestationKeyIdentity
                guard pins.contains(id.name) || pins.contains(id.keyDigest) else {
                    throw AttestationError(
                        .akUntrusted,
                        "nothing anchors the attestation key \(id.name.isEmpty ? id.keyDigest : id.name): no certificate chain to a configured AK root, "
                            + "no verified hardware report naming it, and no policy pins it")
                }
            }
            verified = .tpm(q)
        }
        try Self.check(verified, binds: expectedBinding)
        return verified
    }

    private func verifySNP(_ report: SEVSNP.Report, collateral: EvidenceCollateral, now: Date) throws(AttestationError) -> SEVSNP.VerifiedReport {
        guard let certificates = collateral.snpCertificates else {
            throw AttestationError(.collateralMissing, "no AMD certificates (VCEK or VLEK, and the ASK/ARK bundle) were supplied")
        }
        return try snp.verify(report, certificates: certificates, now: now)
    }

    /// The one binding check: what the evidence signed as its user data against what this
    /// verification expects.
    static func check(_ verified: VerifiedEvidence, binds expected: ExpectedBinding) throws(AttestationError) {
        let carried: [UInt8], field: String
        switch verified {
        case .tdx(let q): (carried, field) = (q.claims.reportData.bytes, "the TD quote's REPORTDATA")
        case .snp(let r, _): (carried, field) = (r.claims.reportData.bytes, "the SNP report's REPORT_DATA")
        case .tpm(let q): (carried, field) = (q.attest.extraData, "the TPM quote's extraData")
        }
        let isTPM: Bool
        if case .tpm = verified { isTPM = true } else { isTPM = false }
        switch expected {
        case .anyForReferenceEvidence:
            return
        case .reportData(let rd):
            guard rd.count == 64 else { throw AttestationError(.bindingMismatch, "the expected binding is \(rd.count) bytes, not 64") }
            let want = isTPM ? Array(rd.prefix(32)) : rd
            guard carried == want else { throw AttestationError(.bindingMismatch, "\(field) does not bind this request") }
        case .nonce(let n):
            let matches = isTPM ? carried == n : (n.count <= carried.count && carried.starts(with: n) && carried.dropFirst(n.count).allSatisfy { $0 == 0 })
            guard matches else { throw AttestationError(.nonceMismatch, "\(field) is \(Hex.encode(carried)), expected the nonce \(Hex.encode(n))") }
        }
    }
}
