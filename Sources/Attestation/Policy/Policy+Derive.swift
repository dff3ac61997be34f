import Foundation

extension Policy {
    /// A policy that accepts exactly the measurements, TCB statuses, debug mode and workload
    /// identities of `inputs` (golden evidence), and nothing else. Fields with several observed
    /// values become lists. Workload rules are `unchecked` only if no input carries an identity.
    public static func derived(from inputs: [PolicyInput], name: String, maxEvidenceAge: TimeInterval? = nil) -> Policy {
        var platforms = [Platform: PlatformRules]()
        for platform in Platform.allCases {
            let mine = inputs.filter { $0.platform == platform }
            guard !mine.isEmpty else { continue }
            var measurements = [String: Expectation<String>]()
            let names = platform == .tpm ? Set(mine.flatMap(\.measurements.keys)).sorted() : requiredMeasurements(platform)
            for field in names {
                let values = orderedUnique(mine.compactMap { $0.measurements[field] })
                measurements[field] = values.isEmpty ? .unchecked : values.count == 1 ? .exactly(values[0]) : .anyOf(values)
            }
            let statuses = mine.compactMap(\.tcbStatus)
            var minimum: [String: Int]?
            if platform == .snp {
                let keys = Set(mine.flatMap(\.tcbComponents.keys))
                minimum = Dictionary(uniqueKeysWithValues: keys.map { k in (k, mine.compactMap { $0.tcbComponents[k] }.min() ?? 0) })
            }
            // TPM: pin the golden evidence's AKs by name (by key digest when it came without one).
            let keys = orderedUnique(mine.compactMap { $0.attestationKey.map { $0.name.isEmpty ? $0.keyDigest : $0.name } })
            platforms[platform] = PlatformRules(measurements: measurements, tcbStatuses: platform == .tdx ? Set(statuses.isEmpty ? ["UpToDate"] : statuses) : nil,
                                                minimumTCB: minimum, allowDebug: mine.contains(where: \.debug),
                                                attestationKeys: platform == .tpm && !keys.isEmpty ? keys : nil)
        }
        func workload(_ values: [String]) -> Expectation<String> {
            let v = orderedUnique(values)
            return v.isEmpty ? .unchecked : v.count == 1 ? .exactly(v[0]) : .anyOf(v)
        }
        return Policy(name: name, maxEvidenceAge: maxEvidenceAge, platforms: platforms,
                      workload: Workload(imageDigests: workload(inputs.flatMap { $0.imageDigests ?? [] }), codeHashes: workload(inputs.flatMap { $0.codeHashes ?? [] })))
    }

    private static func orderedUnique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// The policy as a version-1 YAML document that ``init(yaml:)`` reads back to an equal policy.
    public var yaml: String {
        func exp(_ e: Expectation<String>, indent: String) -> String {
            switch e {
            case .unchecked: return "unchecked"
            case .exactly(let v): return "\"\(v)\""
            case .anyOf(let vs): return "\n" + vs.map { "\(indent)- \"\($0)\"" }.joined(separator: "\n")
            }
        }
        var out = ["# licen-broker attestation policy, schema version 1 (see policies/README.md)",
                   "version: 1",
                   "name: \"\(name)\"",
                   "maxEvidenceAge: \(maxEvidenceAge.map { String(Int($0)) } ?? "unchecked")",
                   "platforms:"]
        for platform in Platform.allCases {
            guard let r = platforms[platform] else { continue }
            out.append("  \(platform.rawValue):")
            if platform == .tpm {
                out.append("    pcrs:")
                let byBank = Dictionary(grouping: r.measurements.keys.filter { $0.hasPrefix("pcr.") }) { $0.split(separator: ".")[1] }
                for bank in byBank.keys.sorted() {
                    out.append("      \(bank):")
                    for key in byBank[bank]!.sorted(by: { Int($0.split(separator: ".")[2])! < Int($1.split(separator: ".")[2])! }) {
                        out.append("        \"\(key.split(separator: ".")[2])\": \(exp(r.measurements[key]!, indent: "          "))")
                    }
                }
                if let keys = r.attestationKeys {
                    out.append("    attestationKeys:")
                    for k in keys { out.append("      - \"\(k)\"") }
                }
                continue
            }
            out.append("    measurements:")
            for field in Policy.requiredMeasurements(platform) {
                out.append("      \(field): \(exp(r.measurements[field] ?? .unchecked, indent: "        "))")
            }
            if let s = r.tcbStatuses { out.append("    tcbStatuses: [\(s.sorted().joined(separator: ", "))]") }
            if let n = r.minimumTCBEvaluationDataNumber { out.append("    minimumTCBEvaluationDataNumber: \(n)") }
            if platform == .snp {
                if let m = r.minimumTCB {
                    out.append("    minimumTCB:")
                    for k in m.keys.sorted() { out.append("      \(k): \(m[k]!)") }
                } else { out.append("    minimumTCB: unchecked") }
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
        self.init(platform: .tdx, measurements: m, debug: c.debug, tcbStatus: verified.tcb?.status.rawValue, evidenceTime: evidenceTime,
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
        let m = ["measurement": c.measurement.hex, "hostData": c.hostData.hex, "idKeyDigest": c.idKeyDigest.hex,
                 "familyID": c.familyID.hex, "imageID": c.imageID.hex, "guestSVN": String(c.guestSVN), "vmpl": String(c.vmpl)]
        self.init(platform: .snp, measurements: m, debug: c.debug, tcbStatus: nil, tcbComponents: c.reportedTCB.components,
                  evidenceTime: evidenceTime, imageDigests: imageDigests, codeHashes: codeHashes)
    }
}
