import Foundation

extension Policy {
    /// Judges `input` at `now`. Returns `.accepted(input)` or `.rejected` with every failure,
    /// each naming the policy field (for example `tdx.mrTD`). Fails closed: an unknown platform,
    /// a missing measurement, an unknown evidence age or workload identity is a failure.
    public func validate(_ input: PolicyInput, now: Date) -> ValidationResult<PolicyInput> {
        var failures = [ValidationFailure]()
        let p = input.platform.rawValue
        guard let rules = platforms[input.platform] else {
            return .rejected([ValidationFailure(.platformNotAllowed, "policy \"\(name)\" has no \(p) section: \(p) evidence is not allowed")])
        }
        for mismatch in Self.mismatches(input.measurements, rules.measurements) {
            failures.append(ValidationFailure(.measurementMismatch, "\(p).\(mismatch)"))
        }
        if let sets = rules.measurementSets, let failure = Self.judgeSets(input, sets) { failures.append(failure) }
        if input.platform == .tpm {
            if let failure = Self.judgeAttestationKey(input.attestationKey, pins: rules.attestationKeys) { failures.append(failure) }
        }
        if let statuses = rules.tcbStatuses {
            if let s = input.tcbStatus {
                if !statuses.contains(s) {
                    failures.append(ValidationFailure(.tcbStatusNotAccepted, "\(p).tcbStatuses: TCB status \(s) is not accepted (accepted: \(statuses.sorted().joined(separator: ", ")))"))
                }
            } else {
                failures.append(ValidationFailure(.noMatchingTCBLevel, "\(p).tcbStatuses: the evidence has no TCB status (no TCB level matched)"))
            }
        }
        if let least = rules.minimumTCBEvaluationDataNumber {
            let have = input.tcbEvaluationDataNumber
            if have == nil || have! < least {
                failures.append(ValidationFailure(.tcbBelowMinimum, "\(p).minimumTCBEvaluationDataNumber: the collateral's \(have.map(String.init) ?? "absent") is below \(least)"))
            }
        }
        if let minimum = rules.minimumTCB {
            for (component, least) in minimum.sorted(by: { $0.key < $1.key }) {
                let have = input.tcbComponents[component]
                if have == nil || have! < least {
                    failures.append(ValidationFailure(.tcbBelowMinimum, "\(p).minimumTCB.\(component): \(have.map(String.init) ?? "absent") is below \(least)"))
                }
            }
        }
        if input.debug && !rules.allowDebug {
            failures.append(ValidationFailure(.debugNotAllowed, "\(p).allowDebug: the TEE runs in debug mode"))
        }
        if let maxAge = maxEvidenceAge {
            if let t = input.evidenceTime {
                let age = now.timeIntervalSince(t)
                if age > maxAge || age < -60 {
                    failures.append(ValidationFailure(.evidenceTooOld, "maxEvidenceAge: evidence from \(t.iso8601) is \(Int(age)) s old at \(now.iso8601), more than \(Int(maxAge)) s"))
                }
            } else {
                failures.append(ValidationFailure(.evidenceTooOld, "maxEvidenceAge: the evidence's age is unknown (no nonce or collection time)"))
            }
        }
        for (field, expectation, values) in [("workload.imageDigests", workload.imageDigests, input.imageDigests), ("workload.codeHashes", workload.codeHashes, input.codeHashes)] {
            if case .unchecked = expectation { continue }
            guard let values, !values.isEmpty else {
                failures.append(ValidationFailure(.workloadNotAllowed, "\(field): the evidence carries no workload identity"))
                continue
            }
            if !values.allSatisfy(expectation.admits) {
                failures.append(ValidationFailure(.workloadNotAllowed, "\(field): \(values.joined(separator: ", ")) not allowed (allowed: \(expectation.allowed.joined(separator: ", ")))"))
            }
        }
        return failures.isEmpty ? .accepted(input) : .rejected(failures)
    }

    /// Why `measurements` do not meet `expected`, one line per field (`rtmr1: … is not
    /// allowed (allowed: …)`), sorted by field; empty when they do. A field the evidence does not
    /// carry fails unless `unchecked`.
    static func mismatches(_ measurements: [String: String], _ expected: [String: Expectation<String>]) -> [String] {
        var out = [String]()
        for (field, expectation) in expected.sorted(by: { $0.key < $1.key }) {
            if case .unchecked = expectation { continue }
            guard let value = measurements[field] else {
                out.append("\(field): the evidence does not carry this value")
                continue
            }
            if !expectation.admits(value) {
                out.append("\(field): \(value) is not allowed (allowed: \(expectation.allowed.joined(separator: ", ")))")
            }
        }
        return out
    }

    /// The measurement-set rule: nil when one set admits every measurement of `input`; else one
    /// `measurementMismatch` naming the closest set (fewest mismatching fields, the first on a
    /// tie) and each of its fields the evidence does not meet. An empty list admits nothing.
    static func judgeSets(_ input: PolicyInput, _ sets: [[String: Expectation<String>]]) -> ValidationFailure? {
        let p = input.platform.rawValue
        let key = input.platform == .tpm ? "pcrSets" : "measurementSets"
        var closest: (index: Int, mismatches: [String])?
        for (i, set) in sets.enumerated() {
            let m = mismatches(input.measurements, set)
            if m.isEmpty { return nil }
            if closest == nil || m.count < closest!.mismatches.count { closest = (i, m) }
        }
        guard let closest else {
            return ValidationFailure(.measurementMismatch, "\(p).\(key): the policy lists no measurement set, so no evidence is allowed")
        }
        return ValidationFailure(
            .measurementMismatch,
            "\(p).\(key): no set allows all of the evidence's measurements; the closest is \(key)[\(closest.index)] (of \(sets.count)), "
                + "which differs in \(closest.mismatches.count) field\(closest.mismatches.count == 1 ? "" : "s"): "
                + closest.mismatches.map { "\(p).\(key)[\(closest.index)].\($0)" }.joined(separator: "; "))
    }

    /// The TPM anchor rule: with `pins`, the AK must be one of them (by name or key digest);
    /// without, the evidence itself must anchor it. Nil when the AK is trusted.
    public static func judgeAttestationKey(_ ak: TPM.AttestationKeyIdentity?, pins: [String]?) -> ValidationFailure? {
        guard let ak else { return ValidationFailure(.akUntrusted, "tpm: the evidence names no attestation key") }
        if let pins {
            if pins.contains(ak.name) || pins.contains(ak.keyDigest) { return nil }
            return ValidationFailure(.akUntrusted, "tpm.attestationKeys: the AK \(ak.name.isEmpty ? ak.keyDigest : ak.name) is not pinned by this policy")
        }
        if ak.anchor != nil { return nil }
        return ValidationFailure(
            .akUntrusted,
            "tpm: nothing anchors the AK \(ak.name.isEmpty ? ak.keyDigest : ak.name) (no AK certificate chain to a configured root, no verified hardware report, no tpm.attestationKeys pin)")
    }
}
