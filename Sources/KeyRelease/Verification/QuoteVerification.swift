import Attestation
import Foundation

/// The operator's "verify this evidence" use case, shared by `keyrelease verify-quote`, its
/// benchmark and (later) the release service: load collateral, verify, validate, report.
public struct QuoteVerification: Sendable {
    /// Which platform's verifier to use.
    public enum Platform: String, Sendable, CaseIterable {
        /// Decide from the evidence's header.
        case auto
        /// Intel TDX DCAP quote.
        case tdx
    }

    /// The platform requested.
    public var platform: Platform
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

    /// Creates the use case; defaults fail closed (UpToDate only, no debug, Intel root).
    public init(platform: Platform = .auto, collateralPaths: [String] = [], collateralSource: (any TDX.CollateralSource)? = nil, now: Date = Date(),
                validator: TDX.Validator = TDX.Validator(), verifier: TDX.QuoteVerifier = TDX.QuoteVerifier(), policy: Policy? = nil, evidenceTime: Date? = nil) {
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
    public static func detectPlatform(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 8 else { return nil }
        let tee = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        let version = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        if (3...5).contains(version) && (tee == TDX.teeTypeTDX || tee == TDX.teeTypeSGX) { return "tdx" }
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
        if !collateralPaths.isEmpty || bundled != nil {
            var parts = TDX.CollateralParts()
            parts.add(folder: (bundled ?? [:]).map { ($0.key, [UInt8]($0.value)) })
            for p in collateralPaths { try parts.add(path: p) }
            return try parts.complete(for: fmspc)
        }
        guard let collateralSource else {
            throw AttestationError(.collateralMissing, "no collateral: pass --collateral FILE|DIR, or --online to fetch it from Intel PCS")
        }
        guard let fmspc, pckChain.certificates.count > 1,
              let kind = TDX.PCKCAKind(issuerCommonName: TDX.CollateralParts.commonName(pckChain.certificates[1].subject) ?? "") else {
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

    /// Verifies evidence bytes without validating them: the verified quote, or the report of why
    /// not.
    public func verify(evidence raw: [UInt8]) async -> Result<TDX.VerifiedQuote, VerificationReport> {
        var bundle: EvidenceBundle?
        if EvidenceBundle.looksLikeBundle(raw) {
            do { bundle = try EvidenceBundle(json: Data(raw)) } catch {
                return .failure(.failed(platform: nil, error: .init(code: error.code.rawValue, message: error.message), at: now))
            }
        }
        let bytes: [UInt8]
        do { bytes = try EvidenceEncoding.decode(bundle.map { [UInt8]($0.report ?? Data()) } ?? raw) } catch {
            return .failure(.failed(platform: nil, error: .init(code: error.code.rawValue, message: error.message), at: now))
        }
        let detected = bundle?.platform.rawValue ?? Self.detectPlatform(bytes)
        let platform = platform == .auto ? detected : platform.rawValue
        guard platform == "tdx" else {
            return .failure(.failed(platform: nil, error: .init(code: AttestationError.Code.malformed.rawValue, message: "cannot tell the evidence's platform: not a DCAP quote (pass --platform)"), at: now))
        }
        // One memo per verification when the caller keeps no cache: the PCK chain parsed to pick
        // collateral is the one the verifier checks, and duplicate signatures are verified once.
        var useCase = self
        if verifier.cache == nil { useCase.verifier = TDX.QuoteVerifier(trustAnchor: verifier.trustAnchor, cache: VerificationCache(capacity: 64)) }
        do {
            let quote = try TDX.Quote(rawRepresentation: bytes)
            let collateral = try await useCase.collateral(for: quote, bundled: bundle?.collateral)
            return .success(try useCase.verifier.verify(quote, collateral: collateral, now: now))
        } catch {
            return .failure(.failed(platform: "tdx", error: .init(code: error.code.rawValue, message: error.message), at: now))
        }
    }

    /// Builds the report for a verified quote by validating it.
    public func report(_ verified: TDX.VerifiedQuote) -> VerificationReport {
        let failures = policy.map { $0.validate(PolicyInput(tdx: verified, evidenceTime: evidenceTime), now: now).failures } ?? validator.validate(verified).failures
        return VerificationReport(platform: "tdx", verified: true, tcbStatus: verified.tcb?.status.rawValue, advisories: verified.tcb?.advisoryIDs ?? [],
                                  accepted: failures.isEmpty, failures: failures.map { .init(code: $0.code.rawValue, message: $0.message) },
                                  claims: .tdx(verified.claims), error: nil, verifiedAt: verified.verifiedAt.iso8601, validUntil: verified.validUntil.iso8601)
    }
}
