import Foundation

extension Policy {
    /// A policy that accepts exactly the measurements, TCB statuses, debug mode and workload
    /// identities of `inputs` (golden evidence), and nothing else.
    ///
    /// Measurements: when a platform's golden evidence all shows one combination of values, the
    /// section pins each value (`measurements`); when it shows several, the section lists each
    /// combination as a complete set (`measurementSets`, TPM `pcrSets`), so values of different
    /// golden evidence are never combined. TDX TCB statuses are those seen (`UpToDate` when none
    /// was); SNP minimum TCB components are the lowest seen; TPM attestation keys are pinned.
    /// Workload rules list the identities seen, `unchecked` only if no input carries one.
    ///
    /// Fails closed: golden evidence that would widen the policy is refused unless allowed by
    /// name (``checkGolden(_:allowDebug:allowUnknownTCB:)``). Throws
    /// ``AttestationError/Code/goldenEvidenceRefused`` naming the input (1-based) and why.
    /// - Parameters:
    ///   - allowDebug: take debug TEEs (the section then accepts debug TEEs); default false.
    ///   - allowUnknownTCB: take TDX evidence that matched no TCB level, for its measurements
    ///     only (the policy still refuses evidence without a TCB status); default false.
    public static func derived(
        from inputs: [PolicyInput], name: String, maxEvidenceAge: TimeInterval? = nil,
        allowDebug: Bool = false, allowUnknownTCB: Bool = false
    ) throws(AttestationError) -> Policy {
        for (i, input) in inputs.enumerated() {
            do { try checkGolden(input, allowDebug: allowDebug, allowUnknownTCB: allowUnknownTCB) } catch {
                throw AttestationError(error.code, "golden evidence \(i + 1) of \(inputs.count): \(error.message)")
            }
        }
        var platforms = [Platform: PlatformRules]()
        for platform in Platform.allCases {
            let mine = inputs.filter { $0.platform == platform }
            guard !mine.isEmpty else { continue }
            // One set per distinct combination, in the order first seen.
            var combinations = [[String: Expectation<String>]]()
            for input in mine {
                let names = platform == .tpm ? input.measurements.keys.sorted() : requiredMeasurements(platform)
                var set = [String: Expectation<String>]()
                for field in names { set[field] = input.measurements[field].map { .exactly($0) } ?? .unchecked }
                if !combinations.contains(set) { combinations.append(set) }
            }
            let measurements = combinations.count == 1 ? combinations[0] : [:]
            let measurementSets = combinations.count == 1 ? nil : combinations
            let statuses = orderedUnique(mine.compactMap(\.tcbStatus))
            var minimum: [String: Int]?
            if platform == .snp {
                let keys = Set(mine.flatMap(\.tcbComponents.keys))
                minimum = Dictionary(uniqueKeysWithValues: keys.map { k in (k, mine.compactMap { $0.tcbComponents[k] }.min() ?? 0) })
            }
            // TPM: pin the golden evidence's AKs by name (by key digest when it came without one).
            let keys = orderedUnique(mine.compactMap { $0.attestationKey.map { $0.name.isEmpty ? $0.keyDigest : $0.name } })
            platforms[platform] = PlatformRules(
                measurements: measurements, measurementSets: measurementSets,
                tcbStatuses: platform == .tdx ? Set(statuses.isEmpty ? ["UpToDate"] : statuses) : nil,
                minimumTCB: minimum, allowDebug: mine.contains(where: \.debug),
                attestationKeys: platform == .tpm && !keys.isEmpty ? keys : nil)
        }
        func workload(_ values: [String]) -> Expectation<String> {
            let v = orderedUnique(values)
            return v.isEmpty ? .unchecked : v.count == 1 ? .exactly(v[0]) : .anyOf(v)
        }
        return Policy(
            name: name, maxEvidenceAge: maxEvidenceAge, platforms: platforms,
            workload: Workload(imageDigests: workload(inputs.flatMap { $0.imageDigests ?? [] }), codeHashes: workload(inputs.flatMap { $0.codeHashes ?? [] })))
    }

    /// Refuses golden evidence a derived policy must not silently accept: a debug TEE (its memory
    /// is readable by the host, so a policy derived from it would accept debug TEEs) unless
    /// `allowDebug`, and TDX evidence that matched no TCB level (its platform is not one Intel's
    /// TCB Info vouches for) unless `allowUnknownTCB`. Throws
    /// ``AttestationError/Code/goldenEvidenceRefused`` with every reason; returns when the
    /// evidence may be golden.
    public static func checkGolden(_ input: PolicyInput, allowDebug: Bool = false, allowUnknownTCB: Bool = false) throws(AttestationError) {
        var reasons = [String]()
        if input.debug && !allowDebug {
            reasons.append(
                "the \(input.platform.rawValue) TEE runs in debug mode (the host can read its memory); a policy derived from it would accept debug TEEs, so debug golden evidence must be allowed explicitly, for a lab policy only"
            )
        }
        if input.platform == .tdx && input.tcbStatus == nil && !allowUnknownTCB {
            reasons.append(
                "no TCB level of the collateral matches the platform (no TCB status); it must be allowed explicitly to take its measurements, which the derived policy still refuses until a TCB level matches"
            )
        }
        guard reasons.isEmpty else { throw AttestationError(.goldenEvidenceRefused, reasons.joined(separator: "; ")) }
    }

    private static func orderedUnique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// The policy as a version-1 YAML document that ``init(yaml:)`` reads back to an equal policy
    /// (a section with both ``PlatformRules/measurements`` and ``PlatformRules/measurementSets``
    /// is written with both, which the reader refuses rather than drop either).
    public var yaml: String {
        func exp(_ e: Expectation<String>, indent: String) -> String {
            switch e {
            case .unchecked: return "unchecked"
            case .exactly(let v): return "\"\(v)\""
            case .anyOf(let vs): return "\n" + vs.map { "\(indent)- \"\($0)\"" }.joined(separator: "\n")
            }
        }
        /// The lines of one measurement mapping at `indent` (TPM: by bank, then PCR index).
        func lines(_ m: [String: Expectation<String>], _ platform: Platform, indent: String) -> [String] {
            guard platform == .tpm else {
                return Policy.requiredMeasurements(platform).map { "\(indent)\($0): \(exp(m[$0] ?? .unchecked, indent: indent + "  "))" }
            }
            var out = [String]()
            let byBank = Dictionary(grouping: m.keys.filter { $0.hasPrefix("pcr.") }) { $0.split(separator: ".")[1] }
            for bank in byBank.keys.sorted() {
                out.append("\(indent)\(bank):")
                for key in byBank[bank]!.sorted(by: { Int($0.split(separator: ".")[2])! < Int($1.split(separator: ".")[2])! }) {
                    out.append("\(indent)  \"\(key.split(separator: ".")[2])\": \(exp(m[key]!, indent: indent + "    "))")
                }
            }
            return out
        }
        /// The per-field mapping under `key`, and the list of complete sets under `setsKey`.
        func measurementBlocks(_ r: PlatformRules, _ platform: Platform, key: String, setsKey: String) -> [String] {
            var out = [String]()
            if r.measurementSets == nil || !r.measurements.isEmpty {
                out.append("    \(key):")
                out += lines(r.measurements, platform, indent: "      ")
            }
            if let sets = r.measurementSets {
                out.append("    \(setsKey):")
                for set in sets {
                    // Each set is one list item: its first line carries the dash.
                    var item = lines(set, platform, indent: "        ")
                    if item.isEmpty { item = ["        {}"] }
                    item[0] = "      - " + item[0].dropFirst(8)
                    out += item
                }
            }
            return out
        }
        var out = [
            "# licen-broker attestation policy, schema version 1 (see policies/README.md)",
            "version: 1",
            "name: \"\(name)\"",
            "maxEvidenceAge: \(maxEvidenceAge.map { String(Int($0)) } ?? "unchecked")",
            "platforms:",
        ]
        for platform in Platform.allCases {
            guard let r = platforms[platform] else { continue }
            out.append("  \(platform.rawValue):")
            if platform == .tpm {
                out += measurementBlocks(r, platform, key: "pcrs", setsKey: "pcrSets")
                if let keys = r.attestationKeys {
                    out.append("    attestationKeys:")
                    for k in keys { out.append("      - \"\(k)\"") }
                }
                continue
            }
            out += measurementBlocks(r, platform, key: "measurements", setsKey: "measurementSets")
            if let s = r.tcbStatuses { out.append("    tcbStatuses: [\(s.sorted().joined(separator: ", "))]") }
            if let n = r.minimumTCBEvaluationDataNumber { out.append("    minimumTCBEvaluationDataNumber: \(n)") }
            if platform == .snp {
                if let m = r.minimumTCB {
                    out.append("    minimumTCB:")
                    for k in m.keys.sorted() { out.append("      \(k): \(m[k]!)") }
                } else {
                    out.append("    minimumTCB: unchecked")
                }
            }
            out.append("    allowDebug: \(r.allowDebug)")
        }
        out.append("workload:")
        out.append("  imageDigests: \(exp(workload.imageDigests, indent: "    "))")
        out.append("  codeHashes: \(exp(workload.codeHashes, indent: "    "))")
        return out.joined(separator: "\n") + "\n"
    }
}

extension PolicyInput {
    /// The policy view of a verified TDX quote: its measurements, debug bit and TCB status.
    public init(tdx verified: TDX.VerifiedQuote, evidenceTime: Date? = nil, imageDigests: [String]? = nil, codeHashes: [String]? = nil) {
        let c = verified.claims
        var m = ["mrTD": c.mrTD.hex, "mrSeam": c.mrSeam.hex, "mrConfigID": c.mrConfigID.hex, "mrOwner": c.mrOwner.hex, "mrOwnerConfig": c.mrOwnerConfig.hex]
        for (i, r) in c.rtmrs.enumerated() { m["rtmr\(i)"] = r.hex }
        self.init(
            platform: .tdx, measurements: m, debug: c.debug, tcbStatus: verified.tcb?.status.rawValue, evidenceTime: evidenceTime,
            imageDigests: imageDigests ?? verified.eventLog?.imageDigests, codeHashes: codeHashes ?? verified.eventLog?.codeHashes)
        tcbEvaluationDataNumber = verified.tcbEvaluationDataNumber
    }
}

extension PolicyInput {
    /// The policy view of a verified SEV-SNP report: the names of ``Policy/requiredMeasurements(_:)``
    /// for `.snp` (lowercase hex; decimal for guestSVN and vmpl), the POLICY debug bit, and the
    /// REPORTED_TCB components (bootloader, tee, snp, microcode, and fmc on Turin).
    public init(snp verified: SEVSNP.VerifiedReport, evidenceTime: Date? = nil, imageDigests: [String]? = nil, codeHashes: [String]? = nil) {
        let c = verified.claims
        let m = [
            "measurement": c.measurement.hex, "hostData": c.hostData.hex, "idKeyDigest": c.idKeyDigest.hex,
            "familyID": c.familyID.hex, "imageID": c.imageID.hex, "guestSVN": String(c.guestSVN), "vmpl": String(c.vmpl),
        ]
        self.init(
            platform: .snp, measurements: m, debug: c.debug, tcbStatus: nil, tcbComponents: c.reportedTCB.components,
            evidenceTime: evidenceTime, imageDigests: imageDigests, codeHashes: codeHashes)
    }
}
