import Foundation

extension SEVSNP {
    /// Where a verifier gets the AMD certificates for a report (for example the AMD KDS, or a
    /// cache in front of it). Fetch trouble throws ``AttestationError/Code/collateralUnavailable``
    /// so that "KDS is down" never reads as "bad report".
    public protocol CertificateSource: Sendable {
        /// The VCEK or VLEK for `report` with its ASK/ASVK (and optionally ARK), current at `now`.
        func certificates(for report: Report, now: Date) async throws(AttestationError) -> CertificateBundle
    }
}
