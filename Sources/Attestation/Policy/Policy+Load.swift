import ByteEncoding
import Foundation
import Yams

extension Policy {
    /// One problem found in a policy file, with its line and column (1-based).
    public struct Problem: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Line, from 1 (0 when the position is unknown).
        public let line: Int
        /// Column, from 1 (0 when unknown).
        public let column: Int
        /// What is wrong, naming the field.
        public let message: String

        public var description: String { "line \(line), column \(column): \(message)" }
    }

    /// Parses a policy file (YAML, or JSON, which YAML reads too). Throws
    /// ``AttestationError/Code/policyInvalid`` listing every problem with its line.
    public init(yaml text: String) throws(AttestationError) {
        var reader = PolicyReader()
        guard let policy = reader.read(text), reader.problems.isEmpty else {
            throw AttestationError(.policyInvalid, reader.problems.map(\.description).joined(separator: "; "))
        }
        self = policy
    }

    /// Every problem in a policy file (empty when it is valid).
    public static func problems(in text: String) -> [Problem] {
        var reader = PolicyReader()
        _ = reader.read(text)
        return reader.problems
    }
}

/// Walks the YAML node tree, checking the schema and recording every problem with its position.
private struct PolicyReader {
    var problems = [Policy.Problem]()

    mutating func fail(_ node: Node?, _ message: String) {
        problems.append(Policy.Problem(line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, message: message))
    }

    mutating func read(_ text: String) -> Policy? {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let e as YamlError {
            if case .parser(_, let problem, let mark, _) = e {
                problems.append(.init(line: mark.line, column: mark.column, message: "not valid YAML: \(problem)"))
            } else if case .scanner(_, let problem, let mark, _) = e {
                problems.append(.init(line: mark.line, column: mark.column, message: "not valid YAML: \(problem)"))
            } else {
                problems.append(.init(line: 0, column: 0, message: "not valid YAML: \(e)"))
            }
            return nil
        } catch {
            problems.append(.init(line: 0, column: 0, message: "not valid YAML: \(error)"))
            return nil
        }
        guard let root, let top = mapping(root, "the policy") else {
            if root == nil { fail(nil, "the policy file is empty") }
            return nil
        }
        let fields = fieldsOf(top, in: "the policy", known: ["version", "name", "maxEvidenceAge", "platforms", "workload"])
        if let v = fields["version"] {
            if Int(v.scalar?.string ?? "") != Policy.schemaVersion { fail(v, "version: must be \(Policy.schemaVersion)") }
        }
        let name = fields["name"].flatMap { n -> String? in
            guard let s = n.scalar?.string, !s.isEmpty else { fail(n, "name: must be a non-empty string"); return nil }
            return s
        }
        var maxAge: TimeInterval?
        if let a = fields["maxEvidenceAge"] {
            if a.scalar?.string == "unchecked" {
                maxAge = nil
            } else if let s = Int(a.scalar?.string ?? ""), s > 0 {
                maxAge = TimeInterval(s)
            } else {
                fail(a, "maxEvidenceAge: must be a positive number of seconds or unchecked")
            }
        }
        var platforms = [Platform: Policy.PlatformRules]()
        if let pNode = fields["platforms"], let pMap = mapping(pNode, "platforms") {
            let sections = fieldsOf(pMap, in: "platforms", known: Platform.allCases.map(\.rawValue), required: [])
            if sections.isEmpty { fail(pNode, "platforms: at least one of tdx, snp, tpm is required") }
            for (key, node) in sections {
                guard let platform = Platform(rawValue: key) else { continue }
                if let rules = readPlatform(platform, node) { platforms[platform] = rules }
            }
        }
        var workload: Policy.Workload?
        if let wNode = fields["workload"], let wMap = mapping(wNode, "workload") {
            let w = fieldsOf(wMap, in: "workload", known: ["imageDigests", "codeHashes"])
            if let i = w["imageDigests"], let c = w["codeHashes"],
                let images = expectation(i, "workload.imageDigests", format: .digest), let codes = expectation(c, "workload.codeHashes", format: .digest)
            {
                workload = Policy.Workload(imageDigests: images, codeHashes: codes)
            }
        }
        guard problems.isEmpty, let name, let workload else { return nil }
        return Policy(name: name, maxEvidenceAge: maxAge, platforms: platforms, workload: workload)
    }

    mutating func readPlatform(_ platform: Platform, _ node: Node) -> Policy.PlatformRules? {
        let p = platform.rawValue
        guard let map = mapping(node, "platforms.\(p)") else { return nil }
        let known: [String] =
            switch platform {
            case .tdx: ["measurements", "measurementSets", "tcbStatuses", "allowDebug", "minimumTCBEvaluationDataNumber"]
            case .snp: ["measurements", "measurementSets", "minimumTCB", "allowDebug"]
            case .tpm: ["pcrs", "pcrSets", "attestationKeys"]
            }
        let required: [String] =
            switch platform {
            case .tdx: ["tcbStatuses", "allowDebug"]
            case .snp: ["minimumTCB", "allowDebug"]
            case .tpm: []
            }
        let f = fieldsOf(map, in: "platforms.\(p)", known: known, required: required)
        // Exactly one form of measurements: per field, or complete sets. Both would leave a
        // reader guessing which one is meant; neither would check nothing.
        let (perField, sets) = platform == .tpm ? ("pcrs", "pcrSets") : ("measurements", "measurementSets")
        switch (f[perField], f[sets]) {
        case (nil, nil): fail(map.first?.0, "platforms.\(p): missing field \(perField) (or \(sets), a list of complete measurement sets)")
        case (_?, let n?): fail(n, "platforms.\(p): \(perField) and \(sets) cannot both be given: write per-field \(perField), or a list of complete \(sets)")
        default: break
        }
        var minimumEvaluation: Int?
        if let n = f["minimumTCBEvaluationDataNumber"] {
            if let v = Int(n.scalar?.string ?? ""), v >= 0 { minimumEvaluation = v } else { fail(n, "tdx.minimumTCBEvaluationDataNumber: must be a non-negative integer") }
        }
        var attestationKeys: [String]?
        if let a = f["attestationKeys"] {
            if case .sequence(let seq) = a, !seq.isEmpty {
                attestationKeys = []
                for item in seq {
                    let v = (item.scalar?.string ?? "").lowercased()
                    let isDigest = v.hasPrefix("sha256:") && v.count == 71 && (try? Hex.decode(String(v.dropFirst(7)))) != nil
                    let isName = [68, 84, 100].contains(v.count) && (try? Hex.decode(v)) != nil && ["000b", "000c", "000d"].contains(String(v.prefix(4)))
                    guard isDigest || isName else {
                        fail(item, "tpm.attestationKeys: \"\(item.scalar?.string ?? "?")\" is neither an AK name (000b… hex) nor sha256:<64 hex> of its public key")
                        continue
                    }
                    attestationKeys!.append(v)
                }
            } else {
                fail(a, "tpm.attestationKeys: must be a non-empty list of AK names or sha256:<hex> key digests (omit it to require a certificate or hardware anchor)")
            }
        }
        var measurements = [String: Expectation<String>]()
        if let m = f[perField] { measurements = readMeasurements(platform, m, "\(p).\(perField)") ?? [:] }
        var measurementSets: [[String: Expectation<String>]]?
        if let node = f[sets] {
            if case .sequence(let seq) = node, !seq.isEmpty {
                measurementSets = seq.enumerated().compactMap { i, item in readMeasurements(platform, item, "\(p).\(sets)[\(i)]") }
            } else {
                fail(node, "\(p).\(sets): must be a non-empty list of complete measurement sets, each a mapping like \(perField)")
            }
        }
        var statuses: Set<String>?
        if let s = f["tcbStatuses"] {
            if case .sequence(let seq) = s, !seq.isEmpty {
                statuses = []
                for item in seq {
                    guard let name = item.scalar?.string, let status = TDX.TCBStatus(name: name) else {
                        fail(item, "tdx.tcbStatuses: unknown status \"\(item.scalar?.string ?? "?")\" (known: \(TDX.TCBStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
                        continue
                    }
                    statuses!.insert(status.rawValue)
                }
            } else {
                fail(s, "tdx.tcbStatuses: must be a non-empty list of TCB statuses")
            }
        }
        var minimum: [String: Int]?
        if let m = f["minimumTCB"], m.scalar?.string != "unchecked" {
            if let mMap = mapping(m, "snp.minimumTCB") {
                minimum = [:]
                for (field, n) in fieldsOf(mMap, in: "snp.minimumTCB", known: ["bootloader", "tee", "snp", "microcode", "fmc"], required: ["bootloader", "tee", "snp", "microcode"]) {
                    guard let v = Int(n.scalar?.string ?? ""), (0...255).contains(v) else { fail(n, "snp.minimumTCB.\(field): must be an integer 0…255"); continue }
                    minimum![field] = v
                }
            }
        }
        var allowDebug = false
        if let d = f["allowDebug"] {
            switch d.scalar?.string {
            case "true": allowDebug = true;
            case "false": allowDebug = false;
            default: fail(d, "\(p).allowDebug: must be true or false")
            }
        }
        var rules = Policy.PlatformRules(
            measurements: measurements, measurementSets: measurementSets, tcbStatuses: statuses, minimumTCB: minimum,
            allowDebug: allowDebug, attestationKeys: attestationKeys)
        rules.minimumTCBEvaluationDataNumber = minimumEvaluation
        return rules
    }

    /// One platform's measurements, as `measurements` (or `pcrs`) or one entry of
    /// `measurementSets` (or `pcrSets`): TDX and SNP name every required measurement; TPM lists
    /// PCRs by bank and index (at least one bank). `field` names the place for messages.
    mutating func readMeasurements(_ platform: Platform, _ node: Node, _ field: String) -> [String: Expectation<String>]? {
        guard let map = mapping(node, field) else { return nil }
        var measurements = [String: Expectation<String>]()
        guard platform == .tpm else {
            for (name, n) in fieldsOf(map, in: field, known: Policy.requiredMeasurements(platform)) {
                if let e = expectation(n, "\(field).\(name)", format: Self.format(platform, name)) { measurements[name] = e }
            }
            return measurements
        }
        let bankFields = fieldsOf(map, in: field, known: ["sha1", "sha256", "sha384"], required: [])
        if bankFields.isEmpty { fail(node, "\(field): at least one bank (sha1, sha256, sha384) is required") }
        for (bank, bNode) in bankFields {
            guard let indices = mapping(bNode, "\(field).\(bank)") else { continue }
            for (k, v) in indices {
                guard let i = Int(k.scalar?.string ?? ""), (0...23).contains(i) else { fail(k, "\(field).\(bank): PCR index must be 0…23"); continue }
                let size = ["sha1": 20, "sha256": 32, "sha384": 48][bank]!
                if let e = expectation(v, "\(field).\(bank).\(i)", format: .hex(size)) { measurements["pcr.\(bank).\(i)"] = e }
            }
        }
        return measurements
    }

    enum Format { case hex(Int), decimal, digest }

    static func format(_ platform: Platform, _ field: String) -> Format {
        switch (platform, field) {
        case (.snp, "hostData"): .hex(32)
        case (.snp, "familyID"), (.snp, "imageID"): .hex(16)
        case (.snp, "guestSVN"), (.snp, "vmpl"): .decimal
        default: .hex(48)
        }
    }

    /// `unchecked`, a single value (exactly), or a non-empty list (any of).
    mutating func expectation(_ node: Node, _ field: String, format: Format) -> Expectation<String>? {
        func value(_ n: Node) -> String? {
            guard let raw = n.scalar?.string else { fail(n, "\(field): expected a value"); return nil }
            let s = raw.lowercased()
            switch format {
            case .hex(let size):
                guard s.count == size * 2, (try? Hex.decode(s)) != nil else { fail(n, "\(field): \"\(raw)\" is not \(size) bytes of hex"); return nil }
            case .decimal:
                guard Int(s) != nil else { fail(n, "\(field): \"\(raw)\" is not an integer"); return nil }
            case .digest:
                guard s.hasPrefix("sha256:"), s.count == 71, (try? Hex.decode(String(s.dropFirst(7)))) != nil else {
                    fail(n, "\(field): \"\(raw)\" is not sha256:<64 hex digits>"); return nil
                }
            }
            return s
        }
        switch node {
        case .scalar(let s) where s.string == "unchecked": return .unchecked
        case .scalar: return value(node).map { .exactly($0) }
        case .sequence(let seq):
            guard !seq.isEmpty else { fail(node, "\(field): an empty list allows nothing; write unchecked or list values"); return nil }
            let values = seq.compactMap(value)
            return values.count == seq.count ? .anyOf(values) : nil
        default:
            fail(node, "\(field): expected unchecked, a value, or a list of values")
            return nil
        }
    }

    mutating func mapping(_ node: Node, _ field: String) -> [(Node, Node)]? {
        guard case .mapping(let m) = node else { fail(node, "\(field): expected a mapping"); return nil }
        return m.map { ($0.key, $0.value) }
    }

    /// Returns the fields by name; reports unknown fields (with a suggestion), duplicates and
    /// missing required ones (all of `known` unless `required` is given).
    mutating func fieldsOf(_ pairs: [(Node, Node)], in context: String, known: [String], required: [String]? = nil) -> [String: Node] {
        var out = [String: Node]()
        for (k, v) in pairs {
            guard let key = k.scalar?.string else { fail(k, "\(context): keys must be strings"); continue }
            guard known.contains(key) else {
                // The nearest known name (the first on a tie), so "measurementSet" suggests
                // measurementSets rather than measurements.
                let hint = known.map { ($0, Self.distance($0.lowercased(), key.lowercased())) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
                fail(k, "\(context): unknown field \"\(key)\"\(hint.map { " (did you mean \"\($0)\"?)" } ?? "") — known: \(known.joined(separator: ", "))")
                continue
            }
            if out[key] != nil { fail(k, "\(context): \(key) appears twice") }
            out[key] = v
        }
        let line = pairs.first?.0
        for r in required ?? known where out[r] == nil {
            fail(line, "\(context): missing field \(r) (write unchecked to not check it)")
        }
        return out
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
