import Foundation

/// Several policies, any of which may accept evidence (an operator's fleet of images, say).
/// The decision names the accepting policy, or the one that came closest and why it refused.
public struct PolicySet: Sendable {
    /// The policies, in the order they are tried.
    public let policies: [Policy]

    /// Creates a set; an empty one refuses everything.
    public init(_ policies: [Policy]) { self.policies = policies }

    /// The outcome of judging evidence against the set.
    public enum Decision: Sendable {
        /// Accepted by `policies[index]` (the first that accepts).
        case accepted(index: Int)
        /// Refused by every policy: `index` is the one with the fewest failures (the first of
        /// equals), `failures` all of its failures, `reason` the most telling of them
        /// (``ValidationFailure/mostTelling(_:)``). `index` is nil when the set is empty.
        case refused(index: Int?, failures: [ValidationFailure], reason: ValidationFailure)
    }

    /// Judges `input` at `now` against each policy in turn.
    public func decide(_ input: PolicyInput, now: Date) -> Decision {
        var closest: (index: Int, failures: [ValidationFailure])?
        for (i, p) in policies.enumerated() {
            let failures = p.validate(input, now: now).failures
            if failures.isEmpty { return .accepted(index: i) }
            if closest == nil || failures.count < closest!.failures.count { closest = (i, failures) }
        }
        guard let closest, let reason = ValidationFailure.mostTelling(closest.failures) else {
            let none = ValidationFailure(.platformNotAllowed, "no policy is configured: nothing is accepted")
            return .refused(index: nil, failures: [none], reason: none)
        }
        return .refused(index: closest.index, failures: closest.failures, reason: reason)
    }

    /// Every AK pin of the set's TPM sections (names and SPKI digests): what
    /// ``EvidenceVerifier/AttestationKeyAnchoring/required(pins:)`` may accept before each policy
    /// checks its own.
    public var attestationKeyPins: Set<String> {
        Set(policies.flatMap { $0.platforms[.tpm]?.attestationKeys ?? [] })
    }
}

extension ValidationFailure {
    /// Failure codes from most to least telling: what to report when one reason must be given.
    public static let severityOrder: [Code] = [
        .akUntrusted, .debugNotAllowed, .platformNotAllowed, .tcbStatusNotAccepted, .noMatchingTCBLevel,
        .tcbBelowMinimum, .measurementMismatch, .workloadNotAllowed, .evidenceTooOld,
    ]

    /// The most telling of `failures` (``severityOrder``), nil when there are none.
    public static func mostTelling(_ failures: [ValidationFailure]) -> ValidationFailure? {
        for code in severityOrder { if let f = failures.first(where: { $0.code == code }) { return f } }
        return failures.first
    }
}
