import Attestation
import Foundation

/// The outcome of verifying and validating one piece of evidence, in the shape the operator CLI
/// prints with `--json` (a stable contract: fields are only ever added).
public struct VerificationReport: Error, Sendable, Encodable {
    /// `{code, message}` of a failure or an error.
    public struct Problem: Sendable, Codable, Hashable {
        /// Stable code.
        public let code: String
        /// Operator-facing explanation (never key material).
        public let message: String

        /// A problem with this code and message.
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// Claims of any platform, encoded as that platform's claims object.
    public enum Claims: Sendable, Encodable {
        /// TDX claims.
        case tdx(TDX.Claims)
        /// SEV-SNP claims.
        case snp(SEVSNP.Claims)
        /// TPM claims (`pcrs`, `extraData`, `akName`, …).
        case tpm(TPM.Claims)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .tdx(let c): try c.encode(to: encoder)
            case .snp(let c): try c.encode(to: encoder)
            case .tpm(let c): try c.encode(to: encoder)
            }
        }
    }

    /// `tdx`, `snp` or `tpm`, or null when the platform could not be told.
    public var platform: Platform?
    /// Signatures, chains and collateral all good.
    public var verified: Bool
    /// Intel's merged TCB status, or null (not verified, or no TCB level matched).
    public var tcbStatus: String?
    /// Advisory IDs of the TCB verdict.
    public var advisories: [String]
    /// Verified and every validation check passed.
    public var accepted: Bool
    /// Every validation failure (empty unless verified and rejected).
    public var failures: [Problem]
    /// What the evidence says, whenever it parsed: verified or not (see ``claimsVerified``).
    /// Null only for input that did not parse as evidence.
    public var claims: Claims?
    /// Whether ``claims`` come from evidence that passed verification. False: the evidence
    /// parsed but failed verification (a bad signature, a broken chain, expired or missing
    /// collateral), so its claims are only what it states, vouched for by nobody.
    public var claimsVerified: Bool = false
    /// Whether this is an inspection (``QuoteVerification/inspect(evidence:)``): signatures and
    /// chains checked without collateral, no verdict (`verified` and `accepted` stay false).
    public var inspected: Bool = false
    /// For an inspection, the checks it covers (the first failing one is ``error``); null otherwise.
    public var checked: [String]? = nil
    /// For an inspection, what it did not check (collateral, revocation, anchoring); null otherwise.
    public var unchecked: [String]? = nil
    /// The workload identity the evidence vouches for (SNP manifest bound by HOST_DATA, or the
    /// replayed event log's workload events), or null when it carries none.
    public var workload: VerifiedEvidence.Workload? = nil
    /// The error that stopped verification, or null.
    public var error: Problem?
    /// The instant verification was done for (ISO 8601).
    public var verifiedAt: String
    /// When this verdict stops holding (earliest collateral or certificate expiry), if verified.
    public var validUntil: String?

    /// Process exit code for the CLI: 0 accepted; 1 authentic but rejected; 2 evidence invalid;
    /// 3 usage, I/O, or collateral missing or unusable (``usageCodes``).
    public var exitCode: Int32 {
        if inspected {
            // No verdict: 0 when every check that ran passed.
            guard let error else { return 0 }
            return Self.usageCodes.contains(error.code) ? 3 : 2
        }
        if accepted { return 0 }
        if verified { return 1 }
        guard let error else { return 2 }
        return Self.usageCodes.contains(error.code) ? 3 : 2
    }

    /// Error codes that mean "could not judge" rather than "evidence invalid": collateral that
    /// is absent, unreachable, not collateral at all, or for another platform (another FMSPC, PCE
    /// ID or TEE type: the quote's own PCK certificate names its platform, so the mismatch is in
    /// what the operator supplied), and usage or I/O problems.
    public static let usageCodes: Set<String> = [
        AttestationError.Code.collateralMissing.rawValue, AttestationError.Code.collateralUnavailable.rawValue,
        AttestationError.Code.collateralMalformed.rawValue, AttestationError.Code.fmspcMismatch.rawValue,
        AttestationError.Code.pceIDMismatch.rawValue, AttestationError.Code.collateralTypeMismatch.rawValue, "usage", "io",
    ]

    /// A report for input that could not be judged or evidence that failed verification.
    public static func failed(platform: Platform?, error: Problem, at now: Date) -> VerificationReport {
        VerificationReport(platform: platform, verified: false, tcbStatus: nil, advisories: [], accepted: false, failures: [], claims: nil, error: error, verifiedAt: now.iso8601, validUntil: nil)
    }

    /// Human-readable lines for the terminal.
    public var text: String {
        var lines = ["platform:    \(platform?.rawValue ?? "unknown")"]
        if inspected {
            lines.append("inspected:   signatures and chains only, without collateral: no verdict")
            for c in checked ?? [] { lines.append("  checked:   \(c)") }
            for c in unchecked ?? [] { lines.append("  unchecked: \(c)") }
            if let error { lines.append("  error: \(error.code): \(error.message)") } else { lines.append("  every check that ran passed") }
        } else {
            lines.append("verified:    \(verified ? "yes" : "no")")
        }
        if verified {
            // Only TDX has a TCB status (Intel's verdict); SEV-SNP and TPM evidence have none to show.
            if platform == .tdx {
                lines.append("tcb status:  \(tcbStatus ?? "none (no TCB level matches)")\(advisories.isEmpty ? "" : " [\(advisories.joined(separator: ", "))]")")
            }
            if let validUntil { lines.append("valid until: \(validUntil)") }
        }
        if !inspected {
            lines.append("accepted:    \(accepted ? "yes" : "no")")
            for f in failures { lines.append("  rejected: \(f.code): \(f.message)") }
            if let error { lines.append("  error: \(error.code): \(error.message)") }
        }
        let claimsHeader = claimsVerified ? "claims:" : inspected ? "claims (not verified against collateral):" : "claims (unverified: the evidence failed verification):"
        if case .tdx(let c) = claims {
            lines.append(claimsHeader)
            lines.append("  mrTD:        \(c.mrTD)")
            for (i, r) in c.rtmrs.enumerated() { lines.append("  rtmr\(i):       \(r)") }
            lines.append("  mrSeam:      \(c.mrSeam)")
            lines.append("  reportData:  \(c.reportData)")
            lines.append("  tdAttributes:\(c.tdAttributes) (debug \(c.debug))")
            lines.append("  teeTCBSVN:   \(c.teeTCBSVN)")
            lines.append("  fmspc:       \(c.fmspc)")
        }
        if case .tpm(let c) = claims {
            lines.append(claimsHeader)
            lines.append("  extraData:   \(c.extraData)")
            lines.append("  akName:      \(c.akName ?? "-")")
            for bank in c.pcrs.keys.sorted() {
                for (i, v) in c.pcrs[bank]!.sorted(by: { Int($0.key)! < Int($1.key)! }) { lines.append("  \(bank):\(i) \(v)") }
            }
        }
        if case .snp(let c) = claims {
            lines.append(claimsHeader)
            lines.append("  measurement: \(c.measurement)")
            lines.append("  reportData:  \(c.reportData)")
            lines.append("  hostData:    \(c.hostData)")
            lines.append("  policy:      debug \(c.debug)")
            lines.append("  vmpl:        \(c.vmpl)  guestSVN \(c.guestSVN)")
            lines.append("  chipID:      \(c.chipID)")
        }
        return lines.joined(separator: "\n")
    }

    /// Pretty, key-sorted JSON.
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    enum CodingKeys: String, CodingKey { case platform, verified, tcbStatus, advisories, accepted, failures, claims, claimsVerified, error, verifiedAt, validUntil, inspected, checked, unchecked }

    public func encode(to encoder: any Encoder) throws {
        // Encode nulls explicitly so scripts can rely on every key being present.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(platform, forKey: .platform)
        try c.encode(verified, forKey: .verified)
        try c.encode(tcbStatus, forKey: .tcbStatus)
        try c.encode(advisories, forKey: .advisories)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(failures, forKey: .failures)
        try c.encode(claims, forKey: .claims)
        try c.encode(claimsVerified, forKey: .claimsVerified)
        try c.encode(error, forKey: .error)
        try c.encode(verifiedAt, forKey: .verifiedAt)
        try c.encode(validUntil, forKey: .validUntil)
        try c.encode(inspected, forKey: .inspected)
        try c.encode(checked, forKey: .checked)
        try c.encode(unchecked, forKey: .unchecked)
    }
}
