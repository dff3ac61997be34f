import Attestation
import Foundation
import X509

/// The operator's "verify this evidence" use case, shared by `keyrelease verify-quote`, its
/// benchmark and (later) the release service: load collateral, verify, validate, report.
public struct QuoteVerification: Sendable {
    /// The platform requested; nil: decide from the evidence (a bundle's platform, a DCAP
    /// quote's header).
    public var platform: Platform?
    /// Collateral files or folders, merged in order (later pieces replace earlier ones).
    public var collateralPaths: [String]
    /// A network source, used when no collateral path is given.
    public var collateralSource: (any TDX.CollateralSource)?
    /// The instant to verify at.
    public var now: Date
    /// The validator (accepted TCB statuses, debug).
    public var validator: TDX.Validator
    /// The quote verifier (trust anchor, signature cache).
    public var verifier: TDX.QuoteVerifier
    /// A policy file's rules; when set it decides instead of `validator`.
    public var policy: Policy?
    /// When the evidence was produced, if known (for the policy's maximum evidence age).
    public var evidenceTime: Date?
    /// What the evidence must bind (a nonce, a release binding). Nothing bound is for
    /// reference evidence only.
    public var expectedBinding: ExpectedBinding = .anyForReferenceEvidence
    /// How TPM attestation keys must be anchored. The operator's report judges anchoring as a
    /// policy matter (an unanchored AK is verified but not accepted); the service requires it.
    public var attestationKeyAnchoring: EvidenceVerifier.AttestationKeyAnchoring = .judgedByPolicy
    /// The SEV-SNP verifier (pinned AMD roots).
    public var snpVerifier = SEVSNP.ReportVerifier()
    /// An event log given apart from the evidence (`--event-log`); replaces a bundle's own.
    public var eventLog: [UInt8]?
    /// The TPM quote verifier (roots for AK certificate chains).
    public var tpmVerifier = TPM.QuoteVerifier()
    /// Where SEV-SNP certificates come from when the evidence carries none (AMD KDS).
    public var snpCertificateSource: (any SEVSNP.CertificateSource)?
    /// How TDX collateral carried inside a bundle is used.
    public enum BundledCollateral: Sendable {
        /// Merged with (and replaced by) the configured files, or used alone: an operator's
        /// offline check of what they were handed (`verify-quote`).
        case preferred
        /// The verifier judges with its own collateral (configured files, else fetched); the
        /// bundle's is used only when every piece is at least as new
        /// (``TDX/Collateral/isAtLeastAsNew(as:)``), so a client cannot pick an old one. The
        /// key-release service.
        case onlyIfAtLeastAsNew
    }
    /// How TDX collateral inside a bundle is used (default ``BundledCollateral/preferred``).
    public var bundledCollateral = BundledCollateral.preferred
    /// Whether a verified Azure HCL report in TPM evidence may anchor the AK it names (the
    /// cloud-vTPM anchor). Off by default: TPM evidence carrying a report is then refused.
    public var akHardwareBinding = false

    /// Creates the use case; defaults fail closed (UpToDate only, no debug, Intel root).
    public init(
        platform: Platform? = nil, collateralPaths: [String] = [], collateralSource: (any TDX.CollateralSource)? = nil, now: Date = Date(),
        validator: TDX.Validator = TDX.Validator(), verifier: TDX.QuoteVerifier = TDX.QuoteVerifier(), policy: Policy? = nil, evidenceTime: Date? = nil
    ) {
        self.policy = policy
        self.evidenceTime = evidenceTime
        self.platform = platform
        self.collateralPaths = collateralPaths
        self.collateralSource = collateralSource
        self.now = now
        self.validator = validator
        self.verifier = verifier
    }

    /// Tells the platform from the first bytes of decoded evidence (a DCAP header's TEE type).
    public static func detectPlatform(_ bytes: [UInt8]) -> Platform? {
        guard bytes.count >= 8 else { return nil }
        let tee = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        let version = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        if (3...5).contains(version) && (tee == TDX.teeTypeTDX || tee == TDX.teeTypeSGX) { return .tdx }
        return nil
    }

    /// Loads collateral for `quote`: from the paths, else from the source.
    public func collateral(for quote: TDX.Quote, bundled: [String: Data]? = nil) async throws(AttestationError) -> TDX.Collateral {
        let pckChain: CertificateChain
        if let cache = verifier.cache {
            pckChain = try cache.chain(pem: quote.pckCertificateChainPEM)
        } else {
            pckChain = try CertificateChain(pemEncoded: String(decoding: quote.pckCertificateChainPEM, as: UTF8.self))
        }
        let fmspc = try? TDX.PCKExtensions.of(pckChain, cache: verifier.cache).fmspc
        if bundledCollateral == .onlyIfAtLeastAsNew {
            var own = self
            own.bundledCollateral = .preferred
            let mine = try await own.collateral(for: quote, bundled: nil)
            guard let bundled, !bundled.isEmpty else { return mine }
            var parts = TDX.CollateralParts(cache: verifier.cache)
            parts.add(folder: bundled.map { ($0.key, [UInt8]($0.value)) })
            guard let theirs = try? parts.complete(for: fmspc), theirs.isAtLeastAsNew(as: mine) else { return mine }
            return theirs
        }
        if !collateralPaths.isEmpty || bundled != nil {
            var parts = TDX.CollateralParts(cache: verifier.cache)
            parts.add(folder: (bundled ?? [:]).map { ($0.key, [UInt8]($0.value)) })
            for p in collateralPaths { try parts.add(path: p) }
            return try parts.complete(for: fmspc)
        }
        guard let collateralSource else {
            throw AttestationError(.collateralMissing, "no TDX collateral (TCB Info, QE Identity, CRLs) was supplied and no collateral source is configured")
        }
        guard let fmspc, pckChain.certificates.count > 1,
            let kind = TDX.PCKCAKind(issuerCommonName: TDX.CollateralParts.commonName(pckChain.certificates[1].subject) ?? "")
        else {
            throw AttestationError(.certificateChainMalformed, "cannot tell FMSPC and PCK CA from the quote's PCK chain")
        }
        return try await collateralSource.collateral(fmspc: fmspc, pckCA: kind, now: now)
    }

    /// Verifies and validates evidence bytes (binary or hex text). Never throws: every outcome,
    /// including errors, is a report.
    public func run(evidence raw: [UInt8]) async -> VerificationReport {
        switch await verify(evidence: raw) {
        case .success(let v): return report(v)
        case .failure(let r): return r
        }
    }

    /// Verifies evidence bytes in any form ``bundle(from:)`` reads, without validating them: the
    /// verified evidence, or the report of why not.
    public func verify(evidence raw: [UInt8]) async -> Result<VerifiedEvidence, VerificationReport> {
        switch bundle(from: raw) {
        case .success(let bundle): return await verify(bundle: bundle)
        case .failure(let report): return .failure(report)
        }
    }

    /// Reads evidence in every form it ships in, as one evidence bundle: an evidence bundle
    /// (`licen-evidence/v1`); Azure vTPM evidence JSON (``TPM/AzureVTPMEvidence``); a go-tpm-tools
    /// `attest.Attestation` protobuf (platform tpm); a DCAP quote (told by its header) or, for
    /// the requested platform, an SEV-SNP or Azure HCL report, each as binary, hex, base64 or
    /// base64url text. The one reader of `verify-quote`, `bench verify` and `policy derive`.
    /// What cannot be read is the report of why (never a throw).
    public func bundle(from raw: [UInt8]) -> Result<EvidenceBundle, VerificationReport> {
        func failed(_ platform: Platform?, _ code: String, _ message: String) -> Result<EvidenceBundle, VerificationReport> {
            .failure(.failed(platform: platform, error: .init(code: code, message: message), at: now))
        }
        if EvidenceBundle.looksLikeBundle(raw) {
            // Azure's JSON is told by its members; anything else is read as a bundle, whose
            // parser says what is wrong.
            if let json = try? JSONValue(parsing: raw), json["format"] == nil, TPM.AzureVTPMEvidence.matches(json) {
                do { return .success(try TPM.AzureVTPMEvidence(json: raw).bundle()) } catch {
                    return failed(.tpm, error.code.rawValue, error.message)
                }
            }
            do { return .success(try EvidenceBundle(json: Data(raw))) } catch {
                return failed(nil, error.code.rawValue, error.message)
            }
        }
        let bytes: [UInt8]
        do { bytes = try EvidenceEncoding.decode(raw) } catch {
            return failed(nil, error.code.rawValue, error.message)
        }
        switch platform {
        case .tdx?, .snp?:
            return .success(EvidenceBundle(platform: platform!, report: Data(bytes)))
        case .tpm?:
            // Separate tpm2-tools files arrive packed as a bundle; a lone file may be go-tpm-tools'
            // attest.Attestation protobuf (AK, quotes, event log, AK certificates).
            if let pb = try? TPM.GoTPMAttestation(protobuf: bytes) { return .success(pb.bundle()) }
            // A TPMS_ATTEST alone lacks its companions (usage); anything else is not TPM evidence.
            if bytes.starts(with: [0xff, 0x54, 0x43, 0x47]) {
                return failed(
                    .tpm, "usage",
                    "a TPMS_ATTEST alone cannot be verified: its signature, AK and PCR values must come with it "
                        + "(an evidence bundle, or a go-tpm-tools attest.Attestation protobuf)")
            }
            return failed(
                .tpm, AttestationError.Code.malformed.rawValue,
                "not TPM evidence: neither a TPMS_ATTEST (magic TPM_GENERATED_VALUE), an evidence bundle, Azure vTPM evidence, nor a go-tpm-tools attest.Attestation protobuf")
        case nil:
            guard let detected = Self.detectPlatform(bytes) else {
                return failed(
                    nil, AttestationError.Code.malformed.rawValue,
                    "cannot tell the evidence's platform: it is neither a DCAP quote nor an evidence bundle, and no platform was named")
            }
            return .success(EvidenceBundle(platform: detected, report: Data(bytes)))
        }
    }

    /// Verifies an evidence bundle without validating it. A platform, when set, must
    /// match the bundle's.
    public func verify(bundle: EvidenceBundle) async -> Result<VerifiedEvidence, VerificationReport> {
        if let platform, platform != bundle.platform {
            // The operator asked for another platform than the bundle declares: a usage problem,
            // not a verdict on the evidence.
            return .failure(
                .failed(platform: bundle.platform, error: .init(code: "usage", message: "the evidence is \(bundle.platform.rawValue), but \(platform.rawValue) evidence was asked for"), at: now))
        }
        let parsed: ParsedEvidence
        do throws(AttestationError) { parsed = try parse(bundle) } catch {
            return .failure(.failed(platform: bundle.platform, error: .init(code: error.code.rawValue, message: error.message), at: now))
        }
        do throws(AttestationError) { return .success(try await verified(parsed)) } catch {
            // The evidence parsed: its claims are shown, marked unverified (claimsVerified false).
            var report = VerificationReport.failed(platform: bundle.platform, error: .init(code: error.code.rawValue, message: error.message), at: now)
            report.claims = Self.unverifiedClaims(of: parsed)
            return .failure(report)
        }
    }

    /// Inspects evidence without collateral: parses it and checks the signatures and chains it
    /// carries (TDX: ``TDX/QuoteVerifier/inspect(_:now:)``; SEV-SNP: the report and its chain
    /// when certificates are configured or bundled, ``SEVSNP/ReportVerifier/inspect(_:certificates:now:)``;
    /// TPM: ``TPM/QuoteVerifier/inspect(_:)``). The report says `inspected`, what was
    /// `checked` and what was not; it is never verified nor accepted (no verdict without
    /// collateral and policy), and its exit code is 0 when every check that ran passed.
    public func inspect(evidence raw: [UInt8]) async -> VerificationReport {
        func failed(_ report: VerificationReport) -> VerificationReport {
            var report = report
            report.inspected = true
            return report
        }
        let bundle: EvidenceBundle
        switch self.bundle(from: raw) {
        case .success(let b): bundle = b
        case .failure(let r): return failed(r)
        }
        if let platform, platform != bundle.platform {
            return failed(
                .failed(platform: bundle.platform, error: .init(code: "usage", message: "the evidence is \(bundle.platform.rawValue), but \(platform.rawValue) evidence was asked for"), at: now))
        }
        let parsed: ParsedEvidence
        do throws(AttestationError) { parsed = try parse(bundle) } catch {
            return failed(.failed(platform: bundle.platform, error: .init(code: error.code.rawValue, message: error.message), at: now))
        }
        var report = VerificationReport(
            platform: bundle.platform, verified: false, tcbStatus: nil, advisories: [], accepted: false, failures: [],
            claims: Self.unverifiedClaims(of: parsed), error: nil, verifiedAt: now.iso8601, validUntil: nil)
        report.inspected = true
        do throws(AttestationError) {
            switch parsed.form {
            case .tdx(let quote):
                (report.checked, report.unchecked) = (TDX.QuoteVerifier.inspectionChecks, TDX.QuoteVerifier.inspectionUnchecked)
                try verifier.inspect(quote, now: now)
            case .snp(let r, let hcl):
                let hasCertificates = !collateralPaths.isEmpty || !(bundle.collateral ?? [:]).isEmpty || snpCertificateSource != nil
                (report.checked, report.unchecked) =
                    hasCertificates
                    ? (SEVSNP.ReportVerifier.inspectionChecks, SEVSNP.ReportVerifier.inspectionUnchecked)
                    : ([], SEVSNP.ReportVerifier.inspectionChecks + SEVSNP.ReportVerifier.inspectionUnchecked)
                if hcl != nil { report.checked! += ["HCL runtime data hashed into REPORT_DATA"] }
                try hcl?.verifyRuntimeDataBinding()
                let certificates = hasCertificates ? try await snpCertificates(for: r, bundle: bundle) : nil
                _ = try snpVerifier.inspect(r, certificates: certificates, now: now)
            case .tpm(let t, let hcl):
                (report.checked, report.unchecked) = (
                    TPM.QuoteVerifier.inspectionChecks,
                    TPM.QuoteVerifier.inspectionUnchecked + (hcl == nil ? [] : ["hardware report (Azure HCL report) and the AK it names"])
                )
                try tpmVerifier.inspect(t)
            }
        } catch {
            report.error = .init(code: error.code.rawValue, message: error.message)
        }
        return report
    }

    /// What parsed evidence states, unverified; nil when even that cannot be read (a TDX quote
    /// whose PCK chain does not parse, a TPMS_ATTEST that does not).
    public static func unverifiedClaims(of evidence: ParsedEvidence) -> VerificationReport.Claims? {
        switch evidence.form {
        case .tdx(let quote): return (try? TDX.Claims(unverified: quote)).map { .tdx($0) }
        case .snp(let report, _): return .snp(SEVSNP.Claims(unverified: report))
        case .tpm(let t, _): return (try? TPM.Claims(unverified: t)).map { .tpm($0) }
        }
    }

    /// The evidence verifier this use case configures: its verifiers, the AK hardware binding
    /// switch and how AKs must be anchored.
    public var evidenceVerifier: EvidenceVerifier {
        EvidenceVerifier(tdx: verifier, snp: snpVerifier, tpm: tpmVerifier, akHardwareBinding: akHardwareBinding, attestationKeyAnchoring: attestationKeyAnchoring)
    }

    /// Verifies an evidence bundle without validating it, keeping the error typed (the
    /// key-release service tells a collateral outage from invalid evidence by its code): parse,
    /// load collateral (files, bundle, network), then ``EvidenceVerifier``.
    public func verified(bundle: EvidenceBundle) async throws(AttestationError) -> VerifiedEvidence {
        try await verified(try parse(bundle))
    }

    /// Parses `bundle` with this use case's event log (which replaces the bundle's) and checks
    /// it is evidence of the requested platform.
    public func parse(_ bundle: EvidenceBundle) throws(AttestationError) -> ParsedEvidence {
        var bundle = bundle
        if let eventLog { bundle.eventLog = Data(eventLog) }
        if let platform, platform != bundle.platform {
            throw AttestationError(.wrongTEEType, "the evidence is \(bundle.platform.rawValue), not \(platform.rawValue)")
        }
        return try ParsedEvidence(bundle: bundle)
    }

    /// Verifies parsed evidence without validating it: load collateral (files, bundle,
    /// network), then ``EvidenceVerifier``.
    public func verified(_ parsed: ParsedEvidence) async throws(AttestationError) -> VerifiedEvidence {
        // One memo per verification when the caller keeps no cache: the PCK chain parsed to pick
        // collateral is the one the verifier checks.
        var useCase = self
        if verifier.cache == nil { useCase.verifier = verifier.with(cache: .perVerification()) }
        let collateral = try await useCase.collateral(for: parsed)
        return try useCase.evidenceVerifier.verify(parsed, collateral: collateral, expectedBinding: expectedBinding, now: now)
    }

    /// Loads what verifying `evidence` needs: TDX collateral for a quote, AMD certificates for an
    /// SEV-SNP report (or the HCL report in TPM evidence, when hardware binding is on).
    public func collateral(for evidence: ParsedEvidence) async throws(AttestationError) -> EvidenceCollateral {
        switch evidence.form {
        case .tdx(let quote):
            return EvidenceCollateral(tdx: try await collateral(for: quote, bundled: evidence.bundle.collateral))
        case .snp(let report, _):
            return EvidenceCollateral(snpCertificates: try await snpCertificates(for: report, bundle: evidence.bundle))
        case .tpm(_, let hcl):
            // Without hardware binding the verifier refuses the report before it needs certificates.
            guard let hcl, akHardwareBinding else { return EvidenceCollateral() }
            return EvidenceCollateral(snpCertificates: try await snpCertificates(for: hcl.report, bundle: evidence.bundle))
        }
    }

    /// AMD certificates for `report`: the bundle's, the configured files, and AMD KDS when a
    /// source is set.
    private func snpCertificates(for report: SEVSNP.Report, bundle: EvidenceBundle) async throws(AttestationError) -> SEVSNP.CertificateBundle {
        var files = (bundle.collateral ?? [:]).sorted { $0.key < $1.key }.map { [UInt8]($0.value) }
        for p in collateralPaths {
            guard let d = FileManager.default.contents(atPath: p) else { throw AttestationError(.collateralMissing, "cannot read certificate file \(p)") }
            // A file the operator named that holds no AMD certificate is unusable collateral,
            // told apart from a bad chain in the evidence.
            do { _ = try SEVSNP.CertificateBundle(files: [[UInt8](d)]) } catch {
                throw AttestationError(.collateralMalformed, "certificate file \(p): \(error.message)")
            }
            files.append([UInt8](d))
        }
        if let snpCertificateSource {
            // Online: what the source fetches, plus whatever came with the evidence (a VLEK).
            var certificates = try await snpCertificateSource.certificates(for: report, now: now)
            for f in files { try certificates.add(file: f) }
            return certificates
        }
        guard !files.isEmpty else {
            throw AttestationError(.collateralMissing, "no AMD certificates (VCEK or VLEK, and the ASK/ARK bundle) were supplied and no certificate source is configured")
        }
        return try SEVSNP.CertificateBundle(files: files)
    }

    /// Builds the report for verified evidence by validating it (the policy if one is set, else
    /// the platform's default validator).
    public func report(_ verified: VerifiedEvidence) -> VerificationReport {
        let failures: [ValidationFailure]
        if let policy {
            failures = policy.validate(verified.policyInput(evidenceTime: evidenceTime), now: now).failures
        } else {
            switch verified {
            case .tdx(let q): failures = validator.validate(q).failures
            case .snp(let r, _): failures = SEVSNP.Validator(allowDebug: validator.allowDebug).validate(r).failures
            case .tpm(let q):
                // No debug or TCB notion: judge PCRs with --policy. The AK must still be anchored.
                failures = Policy.judgeAttestationKey(q.attestationKeyIdentity, pins: nil).map { [$0] } ?? []
            }
        }
        let problems = failures.map { VerificationReport.Problem(code: $0.code.rawValue, message: $0.message) }
        var report = Self.report(verified, failures: problems, now: now)
        report.workload = verified.workload
        report.claimsVerified = true
        return report
    }

    private static func report(_ verified: VerifiedEvidence, failures problems: [VerificationReport.Problem], now: Date) -> VerificationReport {
        let failures = problems
        switch verified {
        case .tdx(let q):
            return VerificationReport(
                platform: .tdx, verified: true, tcbStatus: q.tcb?.status.rawValue, advisories: q.tcb?.advisoryIDs ?? [],
                accepted: failures.isEmpty, failures: problems, claims: .tdx(q.claims), error: nil,
                verifiedAt: q.verifiedAt.iso8601, validUntil: q.validUntil.iso8601)
        case .snp(let r, _):
            return VerificationReport(
                platform: .snp, verified: true, tcbStatus: nil, advisories: [], accepted: failures.isEmpty, failures: problems,
                claims: .snp(r.claims), error: nil, verifiedAt: r.verifiedAt.iso8601, validUntil: r.validUntil.iso8601)
        case .tpm(let q):
            return VerificationReport(
                platform: .tpm, verified: true, tcbStatus: nil, advisories: [], accepted: failures.isEmpty, failures: problems,
                claims: .tpm(q.claims), error: nil, verifiedAt: now.iso8601, validUntil: nil)
        }
    }
}

extension QuoteVerification {
    /// The verification an operator's configuration describes, shared by the key-release
    /// service and the coordinator: `collateralFiles` (TDX collateral and SEV-SNP certificate
    /// files), `akRootFiles` (PEM or DER certificates trusted to certify TPM attestation keys),
    /// whether a verified HCL report may bind an AK, and whether Intel PCS and AMD KDS are asked
    /// online. `.collateralMissing` names an AK root file that cannot be read; one that does not
    /// parse fails with the certificate parser's error.
    public init(collateralFiles: [String], akRootFiles: [String], akHardwareBinding: Bool, online: Bool) throws(AttestationError) {
        self.init(collateralPaths: collateralFiles)
        if !akRootFiles.isEmpty {
            var roots = [Certificate]()
            for file in akRootFiles {
                guard let data = FileManager.default.contents(atPath: file) else { throw AttestationError(.collateralMissing, "cannot read AK root \(file)") }
                do { roots += try CertificateChain(files: [[UInt8](data)]).certificates } catch {
                    throw AttestationError(error.code, "AK root \(file): \(error.message)")
                }
            }
            tpmVerifier = TPM.QuoteVerifier(akRoots: roots)
        }
        self.akHardwareBinding = akHardwareBinding
        if online {
            collateralSource = IntelPCSCollateralSource()
            snpCertificateSource = AMDKDSCertificateSource()
        }
    }
}
