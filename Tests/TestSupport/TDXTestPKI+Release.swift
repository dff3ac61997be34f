import Attestation
import Foundation

extension TDXTestPKI {
    /// A policy (schema 1) for this PKI's quotes: every TDX measurement `unchecked`, UpToDate
    /// only, debug as given, no workload rule, evidence at most `maxAge` seconds old.
    public static func policyYAML(name: String, allowDebug: Bool = false, maxAge: Int = 300) -> String {
        let unchecked = Policy.requiredMeasurements(.tdx).map { "      \($0): unchecked" }.joined(separator: "\n")
        return """
            version: 1
            name: "\(name)"
            maxEvidenceAge: \(maxAge)
            platforms:
              tdx:
                measurements:
            \(unchecked)
                tcbStatuses: [UpToDate]
                allowDebug: \(allowDebug)
            workload:
              imageDigests: unchecked
              codeHashes: unchecked
            """
    }

    /// This PKI's collateral, handed out through the online-source interface.
    public var collateralSource: some TDX.CollateralSource { FixedCollateralSource(collateral: collateral) }
}

/// Collateral handed out as-is through ``TDX/CollateralSource``.
public struct FixedCollateralSource: TDX.CollateralSource {
    /// The collateral.
    public let collateral: TDX.Collateral
    /// Wraps `collateral`.
    public init(collateral: TDX.Collateral) { self.collateral = collateral }
    /// Returns the collateral whatever is asked.
    public func collateral(fmspc: FixedBytes<6>, pckCA: TDX.PCKCAKind, now: Date) async throws(AttestationError) -> TDX.Collateral { collateral }
}
