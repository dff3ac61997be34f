extension TDX {
    /// Intel's TCB status of a platform, QE, or TDX module level.
    public enum TCBStatus: String, Sendable, Codable, CaseIterable, Comparable {
        /// The platform is patched to the latest TCB.
        case upToDate = "UpToDate"
        /// Patched, but software mitigations are needed.
        case swHardeningNeeded = "SWHardeningNeeded"
        /// Patched, but platform configuration is needed.
        case configurationNeeded = "ConfigurationNeeded"
        /// Both of the above.
        case configurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
        /// The TCB is out of date.
        case outOfDate = "OutOfDate"
        /// Out of date, and configuration is needed.
        case outOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded"
        /// The TCB has been revoked.
        case revoked = "Revoked"

        /// Severity order used to merge statuses (platform, QE, TDX module): the worst one wins.
        var severity: Int { Self.allCases.firstIndex(of: self)! }

        public static func < (a: Self, b: Self) -> Bool { a.severity < b.severity }

        /// Parses the status names Intel uses, case-insensitively. Returns nil for unknown names.
        public init?(name: String) {
            guard let s = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
            self = s
        }
    }

    /// A TCB status with the Intel security advisories that apply to it.
    public struct TCBVerdict: Sendable, Hashable, Codable {
        /// The merged status.
        public var status: TCBStatus
        /// Advisory IDs (for example `INTEL-SA-00615`), in first-seen order without duplicates.
        public var advisoryIDs: [String]

        /// Creates a verdict.
        public init(status: TCBStatus, advisoryIDs: [String]) {
            self.status = status
            self.advisoryIDs = advisoryIDs
        }

        /// Merges `other` into this verdict: the more severe status wins and advisories are united.
        public func merged(with other: TCBVerdict) -> TCBVerdict {
            var ids = advisoryIDs
            for id in other.advisoryIDs where !ids.contains(id) { ids.append(id) }
            return TCBVerdict(status: max(status, other.status), advisoryIDs: ids)
        }
    }
}
