import Foundation

extension TDX {
    /// Where TDX collateral comes from: files, a folder, or Intel PCS over the network.
    ///
    /// Fetching is kept apart from verification (the verifier never does I/O). A source reports
    /// network or cache trouble as ``AttestationError/Code/collateralUnavailable`` and absent
    /// pieces as ``AttestationError/Code/collateralMissing``, never as a bad quote.
    public protocol CollateralSource: Sendable {
        /// Returns complete collateral for a platform with this FMSPC whose PCK certificate was
        /// issued by the given CA (`platform` or `processor`), valid at `now` where the source can
        /// choose (a cache must not serve a piece whose nextUpdate has passed).
        func collateral(fmspc: FixedBytes<6>, pckCA: PCKCAKind, now: Date) async throws(AttestationError) -> Collateral
    }

    /// Which Intel PCK CA issued a PCK certificate (decides which PCK CRL applies).
    public enum PCKCAKind: String, Sendable, Codable {
        /// Intel SGX PCK Platform CA.
        case platform
        /// Intel SGX PCK Processor CA.
        case processor

        /// Reads the kind from the PCK CA certificate's common name.
        public init?(issuerCommonName cn: String) {
            if cn.contains("Platform") { self = .platform } else if cn.contains("Processor") { self = .processor } else { return nil }
        }
    }
}
