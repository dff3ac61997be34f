import Attestation
import AttestationCollateral

/// The one place that turns a library error into the flags that fix it. The libraries speak
/// their own terms ("no TDX collateral was supplied"); the operator needs the CLI's
/// (`--collateral`, `--online`). Keyed by error code and, where one code has several remedies,
/// by the evidence's platform (nil: not known, e.g. a failure outside verify-quote).
enum OperatorHint {
    /// The flags that address `code` for `platform`'s evidence, or nil when no flag does.
    static func hint(code: String, platform: Platform?) -> String? {
        switch (code, platform) {
        case ("collateralMissing", .tdx?):
            return "pass --collateral FILE|DIR, or --online to fetch it from Intel PCS"
        case ("collateralMissing", .snp?), ("collateralMissing", .tpm?):
            return "pass --cert FILE (VCEK or VLEK, and the ASK/ARK bundle), or --online to fetch them from AMD KDS (--kds-product milan|genoa|turin for a version 2 report)"
        case ("collateralMissing", nil):
            return "pass --collateral FILE|DIR (TDX) or --cert FILE (SEV-SNP), or --online"
        case ("untrustedRoot", .tpm?):
            return "pass --ak-root FILE for each CA that AK certificate chains may end at"
        case ("akBindingMismatch", .tpm?):
            return "--ak-from-hardware-report lets a verified Azure HCL report anchor the AK it names"
        case ("malformed", nil):
            return "for evidence that is neither a DCAP quote nor an evidence bundle, name its platform with --platform snp|tpm"
        case ("goldenEvidenceRefused", _):
            return "policy derive --allow-debug or --allow-unknown-tcb takes such evidence explicitly, for a lab policy"
        default:
            return nil
        }
    }

    /// `message` followed by the hint for `code`, if there is one.
    static func message(_ message: String, code: String, platform: Platform?) -> String {
        guard let hint = hint(code: code, platform: platform) else { return message }
        return "\(message); \(hint)"
    }

    /// `report` with the hint added to its error message.
    static func adding(to report: VerificationReport) -> VerificationReport {
        var report = report
        if let e = report.error {
            report.error = .init(code: e.code, message: message(e.message, code: e.code, platform: report.platform))
        }
        return report
    }
}
