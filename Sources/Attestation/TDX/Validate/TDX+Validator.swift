extension TDX {
    /// Decides whether a verified quote is acceptable: TCB status and debug mode.
    ///
    /// Defaults fail closed: only `UpToDate` is accepted and debug TDs are rejected. A quote
    /// with no matching TCB level is always rejected, whatever the accepted statuses.
    public struct Validator: Sendable {
        /// TCB statuses accepted (default: UpToDate only).
        public var acceptedTCBStatuses: Set<TCBStatus>
        /// Whether debug TDs are accepted (default: false). A debug TD's memory is readable by
        /// the host, so allowing it hands the key to the host.
        public var allowDebug: Bool

        /// Creates a validator; the defaults accept only UpToDate, non-debug TDs.
        public init(acceptedTCBStatuses: Set<TCBStatus> = [.upToDate], allowDebug: Bool = false) {
            self.acceptedTCBStatuses = acceptedTCBStatuses
            self.allowDebug = allowDebug
        }

        /// Returns `.accepted(claims)` or `.rejected` listing every failure.
        public func validate(_ verified: VerifiedQuote) -> ValidationResult<Claims> {
            var failures = [ValidationFailure]()
            if let tcb = verified.tcb {
                if !acceptedTCBStatuses.contains(tcb.status) {
                    let accepted = acceptedTCBStatuses.map(\.rawValue).sorted().joined(separator: ", ")
                    failures.append(
                        ValidationFailure(
                            .tcbStatusNotAccepted,
                            "TCB status \(tcb.status.rawValue)\(tcb.advisoryIDs.isEmpty ? "" : " (\(tcb.advisoryIDs.joined(separator: ", ")))") is not accepted (accepted: \(accepted))"))
                }
            } else {
                failures.append(ValidationFailure(.noMatchingTCBLevel, verified.tcbUnmatchedReason ?? "no TCB level matches"))
            }
            if verified.quote.report.debug && !allowDebug {
                failures.append(ValidationFailure(.debugNotAllowed, "TD_ATTRIBUTES \(verified.quote.report.tdAttributes) has DEBUG set; debug TDs are rejected"))
            }
            return failures.isEmpty ? .accepted(verified.claims) : .rejected(failures)
        }
    }
}
