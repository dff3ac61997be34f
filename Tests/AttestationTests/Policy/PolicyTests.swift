import Attestation
import Foundation
import TestSupport
import Testing

@Suite("Policy: schema, line-precise errors, derive, validation")
struct PolicyTests {
    static func goldenTDX() throws -> (PolicyInput, Date) {
        let row = TDXRow.all[0]
        let (quote, collateral) = try row.load()
        let v = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant(row.at))
        return (PolicyInput(tdx: v), instant(row.at))
    }

    @Test func derivedPolicyRoundTripsAndAcceptsItsEvidence() throws {
        let (input, now) = try Self.goldenTDX()
        let policy = try Policy.derived(from: [input], name: "golden")
        let reread = try Policy(yaml: policy.yaml)
        #expect(reread == policy)
        #expect(Policy.problems(in: policy.yaml).isEmpty)
        #expect(reread.validate(input, now: now).isAccepted)
    }

    /// A policy can refuse judgements made with collateral from before a TCB recovery: the
    /// dcap-qvl v4 collateral's TCB evaluation data number is what the verified quote reports.
    @Test func minimumTCBEvaluationDataNumber() throws {
        let (input, now) = try Self.goldenTDX()
        let number = try #require(input.tcbEvaluationDataNumber)
        #expect(number > 0)
        var policy = try Policy.derived(from: [input], name: "recovery")
        policy.platforms[.tdx]!.minimumTCBEvaluationDataNumber = number
        let reread = try Policy(yaml: policy.yaml)
        #expect(reread == policy)
        #expect(reread.validate(input, now: now).isAccepted)
        policy.platforms[.tdx]!.minimumTCBEvaluationDataNumber = number + 1
        let failures = try Policy(yaml: policy.yaml).validate(input, now: now).failures
        #expect(failures.map(\.code) == [.tcbBelowMinimum])
        #expect(failures.first?.message.contains("minimumTCBEvaluationDataNumber") == true)
        #expect(!Policy.problems(in: policy.yaml.replacingOccurrences(of: "minimumTCBEvaluationDataNumber: \(number + 1)", with: "minimumTCBEvaluationDataNumber: -1")).isEmpty)
    }

    /// A TPM section may pin attestation keys by name or key digest; anything else is refused.
    @Test func attestationKeyPins() throws {
        let base = """
            version: 1
            name: "tpm"
            maxEvidenceAge: unchecked
            platforms:
              tpm:
                pcrs:
                  sha256:
                    "0": unchecked
                attestationKeys: KEYS
            workload:
              imageDigests: unchecked
              codeHashes: unchecked
            """
        let name = "000b" + String(repeating: "ab", count: 32), digest = "sha256:" + String(repeating: "CD", count: 32)
        let p = try Policy(yaml: base.replacingOccurrences(of: "KEYS", with: "[\"\(name)\", \"\(digest)\"]"))
        #expect(p.platforms[.tpm]?.attestationKeys == [name, digest.lowercased()])
        for bad in ["[]", "unchecked", "[\"abcd\"]", "[\"000b1234\"]", "[\"sha1:\(String(repeating: "00", count: 20))\"]"] {
            #expect(!Policy.problems(in: base.replacingOccurrences(of: "KEYS", with: bad)).isEmpty, "\(bad)")
        }
        // Omitted: the evidence must anchor the AK itself.
        #expect(try Policy(yaml: base.replacingOccurrences(of: "    attestationKeys: KEYS\n", with: "")).platforms[.tpm]?.attestationKeys == nil)
        // Judged by name or by key digest; neither, or no anchor without pins: akUntrusted.
        let ak = TPM.AttestationKeyIdentity(name: name, keyDigest: "sha256:" + String(repeating: "ee", count: 32), certificateSubject: nil, anchor: nil)
        #expect(Policy.judgeAttestationKey(ak, pins: [name]) == nil)
        #expect(Policy.judgeAttestationKey(ak, pins: [ak.keyDigest]) == nil)
        #expect(Policy.judgeAttestationKey(ak, pins: [digest.lowercased()])?.code == .akUntrusted)
        #expect(Policy.judgeAttestationKey(ak, pins: nil)?.code == .akUntrusted)
        #expect(Policy.judgeAttestationKey(nil, pins: [name])?.code == .akUntrusted)
    }

    @Test(arguments: Policy.requiredMeasurements(.tdx))
    func changingOneMeasurementRejectsNamingIt(field: String) throws {
        let (input, now) = try Self.goldenTDX()
        var policy = try Policy.derived(from: [input], name: "golden")
        let original = try #require(input.measurements[field])
        let changed = String(original.dropLast()) + (original.hasSuffix("0") ? "1" : "0")
        policy.platforms[.tdx]!.measurements[field] = .exactly(changed)
        let failures = try Policy(yaml: policy.yaml).validate(input, now: now).failures
        #expect(failures.count == 1)
        #expect(failures.first?.code == .measurementMismatch)
        #expect(failures.first?.message.hasPrefix("tdx.\(field):") == true)
    }

    @Test func everyFailureIsListed() throws {
        let (input, now) = try Self.goldenTDX()
        var policy = try Policy.derived(from: [input], name: "strict", maxEvidenceAge: 300)
        policy.platforms[.tdx]!.measurements["mrTD"] = .exactly(String(repeating: "a", count: 96))
        policy.platforms[.tdx]!.tcbStatuses = ["OutOfDate"]
        policy.workload.imageDigests = .exactly("sha256:" + String(repeating: "b", count: 64))
        var debugInput = input
        debugInput.debug = true
        let codes = Set(policy.validate(debugInput, now: now).failures.map(\.code))
        #expect(codes == [.measurementMismatch, .tcbStatusNotAccepted, .workloadNotAllowed, .evidenceTooOld, .debugNotAllowed])
        // Evidence of a known, recent time passes the age rule; an old one does not.
        var fresh = input
        fresh.evidenceTime = now.addingTimeInterval(-10)
        #expect(!policy.validate(fresh, now: now).failures.contains { $0.code == .evidenceTooOld })
        fresh.evidenceTime = now.addingTimeInterval(-301)
        #expect(policy.validate(fresh, now: now).failures.contains { $0.code == .evidenceTooOld })
    }

    @Test func platformWithoutSectionIsRejected() throws {
        let (input, now) = try Self.goldenTDX()
        var snpOnly = input
        snpOnly.platform = .snp
        let failures = try Policy.derived(from: [input], name: "tdx only").validate(snpOnly, now: now).failures
        #expect(failures.map(\.code) == [.platformNotAllowed])
    }

    static let valid = """
        version: 1
        name: example
        maxEvidenceAge: 300
        platforms:
          tdx:
            measurements:
              mrTD: "\(String(repeating: "ab", count: 48))"
              rtmr0: ["\(String(repeating: "01", count: 48))", "\(String(repeating: "02", count: 48))"]
              rtmr1: unchecked
              rtmr2: unchecked
              rtmr3: unchecked
              mrSeam: unchecked
              mrConfigID: unchecked
              mrOwner: unchecked
              mrOwnerConfig: unchecked
            tcbStatuses: [UpToDate, SWHardeningNeeded]
            allowDebug: false
        workload:
          imageDigests: unchecked
          codeHashes: ["sha256:\(String(repeating: "cd", count: 32))"]
        """

    @Test func validFileLoads() throws {
        let p = try Policy(yaml: Self.valid)
        #expect(p.maxEvidenceAge == 300)
        #expect(p.platforms[.tdx]?.tcbStatuses == ["UpToDate", "SWHardeningNeeded"])
        #expect(p.platforms[.tdx]?.measurements["rtmr0"]?.allowed.count == 2)
        #expect(p.workload.imageDigests == .unchecked)
    }

    /// (what to change, expected line, text the message must contain)
    static let broken: [(String, String, Int, String)] = [
        ("    mrTD: ", "    mrtd: ", 7, "unknown field \"mrtd\" (did you mean \"mrTD\"?)"),
        ("      rtmr1: unchecked\n", "", 7, "missing field rtmr1"),
        ("maxEvidenceAge: 300", "maxEvidenceAge: soon", 3, "maxEvidenceAge"),
        ("[UpToDate, SWHardeningNeeded]", "[UpToDate, UpToDat]", 16, "unknown status \"UpToDat\""),
        ("allowDebug: false", "allowDebug: maybe", 17, "allowDebug"),
        ("  codeHashes: [\"sha256:", "  codeHashes: [\"sha1:", 20, "not sha256:"),
        ("    mrTD: \"abab", "    mrTD: \"ab", 7, "not 48 bytes of hex"),
        ("version: 1", "version: 2", 1, "version"),
    ]

    @Test(arguments: 0..<broken.count)
    func typosAreReportedWithTheirLine(index: Int) throws {
        let (from, to, line, text) = Self.broken[index]
        let yaml = Self.valid.replacingOccurrences(of: from, with: to)
        #expect(yaml != Self.valid)
        let problems = Policy.problems(in: yaml)
        #expect(problems.contains { $0.line == line && $0.message.contains(text) }, "\(problems)")
        #expect(throws: AttestationError.self) { _ = try Policy(yaml: yaml) }
    }

    @Test func emptyListAndBrokenYAML() {
        #expect(
            Policy.problems(in: Self.valid.replacingOccurrences(of: "codeHashes: [\"sha256:\(String(repeating: "cd", count: 32))\"]", with: "codeHashes: []"))
                .contains { $0.message.contains("allows nothing") })
        #expect(Policy.problems(in: "version: [1\nname").first?.message.contains("not valid YAML") == true)
        #expect(!Policy.problems(in: "").isEmpty)
    }

    // MARK: - Measurement sets and what derive refuses

    /// A verified MANIFEST row as golden evidence, with the instant it verifies at.
    static func golden(_ row: TDXRow) throws -> (PolicyInput, Date) {
        let (quote, collateral) = try row.load()
        return (PolicyInput(tdx: try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant(row.at))), instant(row.at))
    }

    static func golden(_ row: SEVSNPRow) throws -> (PolicyInput, Date) {
        let (report, bundle) = try row.load()
        return (PolicyInput(snp: try SEVSNP.ReportVerifier().verify(report, certificates: bundle, now: instant(row.at))), instant(row.at))
    }

    /// Two real TDX quotes (dcap-qvl v4 and go-tdx-guest v5, both UpToDate): the policy derived
    /// from both accepts each, but not evidence that takes one field from the other, which a
    /// per-field list of the values seen would accept.
    @Test func twoGoldensGiveCompleteSetsThatRefuseACrossCombination() throws {
        let (a, atA) = try Self.golden(TDXRow.all[0]), (b, atB) = try Self.golden(TDXRow.all[4])
        let policy = try Policy.derived(from: [a, b], name: "two goldens")
        let tdx = try #require(policy.platforms[.tdx])
        #expect(tdx.measurements.isEmpty)
        #expect(tdx.measurementSets?.count == 2)
        #expect(tdx.allowDebug == false && tdx.tcbStatuses == ["UpToDate"])
        #expect(policy.yaml.contains("    measurementSets:\n      - mrTD: \"\(a.measurements["mrTD"]!)\""), "\(policy.yaml)")
        let reread = try Policy(yaml: policy.yaml)
        #expect(reread == policy)
        #expect(reread.validate(a, now: atA).isAccepted)
        #expect(reread.validate(b, now: atB).isAccepted)

        let differing = Policy.requiredMeasurements(.tdx).filter { a.measurements[$0] != b.measurements[$0] }
        #expect(differing.count >= 5, "\(differing)")
        // The per-field form with every value seen: the cross product, which these sets refuse.
        var perField = policy
        perField.platforms[.tdx]!.measurementSets = nil
        for field in Policy.requiredMeasurements(.tdx) {
            let values = [a.measurements[field]!, b.measurements[field]!]
            perField.platforms[.tdx]!.measurements[field] = values[0] == values[1] ? .exactly(values[0]) : .anyOf(values)
        }
        for field in differing {
            var cross = a
            cross.measurements[field] = b.measurements[field]
            #expect(perField.validate(cross, now: atA).isAccepted, "\(field)")
            let failures = reread.validate(cross, now: atA).failures
            #expect(failures.map(\.code) == [.measurementMismatch], "\(field)")
            // The closest set is a's (set 0), and the one field it differs in is named.
            let message = try #require(failures.first?.message)
            #expect(message.hasPrefix("tdx.measurementSets: no set allows"), "\(message)")
            #expect(message.contains("the closest is measurementSets[0] (of 2), which differs in 1 field: tdx.measurementSets[0].\(field): \(b.measurements[field]!) is not allowed"), "\(message)")
        }
        // Half of each: still refused, naming every field of the closest set that differs.
        var mixed = a
        for field in differing.prefix(2) { mixed.measurements[field] = b.measurements[field] }
        let message = try #require(reread.validate(mixed, now: atA).failures.first?.message)
        #expect(message.contains("differs in 2 fields") && differing.prefix(2).allSatisfy { message.contains("measurementSets[0].\($0):") }, "\(message)")
        // One golden, or the same one twice, keeps the per-field form with exact values.
        let single = try Policy.derived(from: [a, a], name: "one"), one = try Policy.derived(from: [a], name: "one")
        #expect(single.platforms[.tdx]?.measurementSets == nil)
        #expect(single == one)
        #expect(single.platforms[.tdx]?.measurements["mrTD"] == .exactly(TDXRow.all[0].mrTD))
    }

    /// A debug TEE (the go-sev-guest report has POLICY.DEBUG set) is refused as golden evidence
    /// unless debug is allowed by name; then the policy accepts it, and says so.
    @Test func deriveRefusesDebugEvidenceUnlessAllowed() throws {
        let (debug, at) = try Self.golden(SEVSNPRow.all[0])
        let (clean, _) = try Self.golden(SEVSNPRow.all[1])
        #expect(debug.debug && !clean.debug)
        let error = #expect(throws: AttestationError.self) { try Policy.derived(from: [clean, debug], name: "lab") }
        #expect(error?.code == .goldenEvidenceRefused)
        #expect(error?.message.hasPrefix("golden evidence 2 of 2: the snp TEE runs in debug mode") == true, "\(error?.message ?? "")")
        #expect(throws: AttestationError.self) { try Policy.checkGolden(debug) }
        #expect(throws: AttestationError.self) { try Policy.derived(from: [debug], name: "lab", allowUnknownTCB: true) }

        let lab = try Policy.derived(from: [debug], name: "lab", allowDebug: true)
        #expect(lab.platforms[.snp]?.allowDebug == true)
        #expect(lab.yaml.contains("allowDebug: true"))
        #expect(try Policy(yaml: lab.yaml).validate(debug, now: at).isAccepted)
        // Allowing debug widens nothing when no golden evidence is debug.
        #expect(try Policy.derived(from: [clean], name: "prod", allowDebug: true).platforms[.snp]?.allowDebug == false)
    }

    /// TDX evidence no TCB level matched (the dcap-qvl hex quote) is refused as golden evidence
    /// unless allowed by name; its measurements are then taken, and the policy still refuses it.
    @Test func deriveRefusesUnknownTCBUnlessAllowed() throws {
        let (unknown, at) = try Self.golden(TDXRow.all[2])
        #expect(unknown.tcbStatus == nil)
        let error = #expect(throws: AttestationError.self) { try Policy.derived(from: [unknown], name: "lab") }
        #expect(error?.code == .goldenEvidenceRefused)
        #expect(error?.message.contains("no TCB level") == true)
        #expect(throws: AttestationError.self) { try Policy.derived(from: [unknown], name: "lab", allowDebug: true) }

        let policy = try Policy.derived(from: [unknown], name: "lab", allowUnknownTCB: true)
        #expect(policy.platforms[.tdx]?.measurements["mrTD"] == .exactly(TDXRow.all[2].mrTD))
        #expect(policy.platforms[.tdx]?.tcbStatuses == ["UpToDate"])
        #expect(policy.validate(unknown, now: at).failures.map(\.code) == [.noMatchingTCBLevel])
    }

    /// `measurementSets` in a file: two sets load; a malformed set, an unknown key inside a set, a
    /// missing field, an empty list, both forms, or neither are problems on their line.
    static let sets = """
        version: 1
        name: sets
        maxEvidenceAge: unchecked
        platforms:
          tdx:
            measurementSets:
              - mrTD: "\(String(repeating: "ab", count: 48))"
                rtmr0: "\(String(repeating: "01", count: 48))"
                rtmr1: unchecked
                rtmr2: unchecked
                rtmr3: unchecked
                mrSeam: unchecked
                mrConfigID: unchecked
                mrOwner: unchecked
                mrOwnerConfig: unchecked
              - mrTD: "\(String(repeating: "cd", count: 48))"
                rtmr0: "\(String(repeating: "02", count: 48))"
                rtmr1: unchecked
                rtmr2: unchecked
                rtmr3: unchecked
                mrSeam: unchecked
                mrConfigID: unchecked
                mrOwner: unchecked
                mrOwnerConfig: unchecked
            tcbStatuses: [UpToDate]
            allowDebug: false
        workload:
          imageDigests: unchecked
          codeHashes: unchecked
        """

    @Test func measurementSetsLoadAndJudgeAsWholes() throws {
        let p = try Policy(yaml: Self.sets)
        let sets = try #require(p.platforms[.tdx]?.measurementSets)
        #expect(sets.count == 2)
        #expect(sets[1]["rtmr0"] == .exactly(String(repeating: "02", count: 48)))
        #expect(p.platforms[.tdx]?.measurements.isEmpty == true)
        #expect(try Policy(yaml: p.yaml) == p)
        func input(_ mrTD: String, _ rtmr0: String) -> PolicyInput {
            var m = Dictionary(uniqueKeysWithValues: Policy.requiredMeasurements(.tdx).map { ($0, String(repeating: "0", count: 96)) })
            m["mrTD"] = String(repeating: mrTD, count: 48)
            m["rtmr0"] = String(repeating: rtmr0, count: 48)
            return PolicyInput(platform: .tdx, measurements: m, debug: false, tcbStatus: "UpToDate")
        }
        #expect(p.validate(input("ab", "01"), now: Date()).isAccepted)
        #expect(p.validate(input("cd", "02"), now: Date()).isAccepted)
        let cross = p.validate(input("cd", "01"), now: Date()).failures
        #expect(cross.map(\.code) == [.measurementMismatch])
        #expect(cross.first?.message.contains("measurementSets[0] (of 2)") == true, "\(cross)")
        let nearSecond = p.validate(input("cd", "03"), now: Date()).failures
        #expect(nearSecond.first?.message.contains("the closest is measurementSets[1] (of 2), which differs in 1 field: tdx.measurementSets[1].rtmr0:") == true, "\(nearSecond)")
    }

    /// (what to change, expected line, text the message must contain)
    static let brokenSets: [(String, String, Int, String)] = [
        (
            "        mrOwnerConfig: unchecked\n      - mrTD: \"cd", "        mrOwnerConfig: unchecked\n        mrOwnr: unchecked\n      - mrTD: \"cd", 16,
            "tdx.measurementSets[0]: unknown field \"mrOwnr\" (did you mean \"mrOwner\"?)"
        ),
        ("rtmr0: \"\(String(repeating: "02", count: 48))\"", "rtmr0: \"02\"", 17, "tdx.measurementSets[1].rtmr0: \"02\" is not 48 bytes of hex"),
        (
            "      - mrTD: \"\(String(repeating: "cd", count: 48))\"", "      - \"\(String(repeating: "cd", count: 48))\"\n      - mrTD: \"\(String(repeating: "cd", count: 48))\"", 16,
            "tdx.measurementSets[1]: expected a mapping"
        ),
        ("        mrOwnerConfig: unchecked\n    tcbStatuses", "    tcbStatuses", 16, "tdx.measurementSets[1]: missing field mrOwnerConfig"),
        ("    measurementSets:\n", "    measurementSets: []\n    unused:\n", 6, "tdx.measurementSets: must be a non-empty list"),
        ("    tcbStatuses:", "    measurements: unchecked\n    tcbStatuses:", 7, "measurements and measurementSets cannot both be given"),
        ("    measurementSets:\n", "    measurementSet:\n", 6, "unknown field \"measurementSet\" (did you mean \"measurementSets\"?)"),
        ("    measurementSets:\n", "    measurementSet:\n", 6, "missing field measurements (or measurementSets"),
    ]

    @Test(arguments: 0..<brokenSets.count)
    func brokenMeasurementSetsAreReportedWithTheirLine(index: Int) throws {
        let (from, to, line, text) = Self.brokenSets[index]
        let yaml = Self.sets.replacingOccurrences(of: from, with: to)
        #expect(yaml != Self.sets)
        let problems = Policy.problems(in: yaml)
        #expect(problems.contains { $0.line == line && $0.message.contains(text) }, "\(problems)")
        #expect(throws: AttestationError.self) { _ = try Policy(yaml: yaml) }
    }

    /// TPM sections take complete PCR sets too (`pcrSets`), with the same checks.
    @Test func tpmPCRSets() throws {
        let zero = String(repeating: "00", count: 32), one = String(repeating: "11", count: 32)
        let yaml = """
            version: 1
            name: "tpm sets"
            maxEvidenceAge: unchecked
            platforms:
              tpm:
                pcrSets:
                  - sha256:
                      "0": "\(zero)"
                      "7": "\(zero)"
                  - sha256:
                      "0": "\(one)"
                      "7": "\(one)"
                attestationKeys: ["000b\(String(repeating: "ab", count: 32))"]
            workload:
              imageDigests: unchecked
              codeHashes: unchecked
            """
        let p = try Policy(yaml: yaml)
        #expect(p.platforms[.tpm]?.measurementSets?.count == 2)
        #expect(try Policy(yaml: p.yaml) == p)
        let ak = TPM.AttestationKeyIdentity(name: "000b" + String(repeating: "ab", count: 32), keyDigest: "", certificateSubject: nil, anchor: nil)
        func input(_ pcr0: String, _ pcr7: String) -> PolicyInput {
            PolicyInput(platform: .tpm, measurements: ["pcr.sha256.0": pcr0, "pcr.sha256.7": pcr7], debug: false, attestationKey: ak)
        }
        #expect(p.validate(input(zero, zero), now: Date()).isAccepted)
        #expect(p.validate(input(one, one), now: Date()).isAccepted)
        let cross = p.validate(input(zero, one), now: Date()).failures
        #expect(cross.map(\.code) == [.measurementMismatch])
        #expect(cross.first?.message.contains("tpm.pcrSets[0].pcr.sha256.7:") == true, "\(cross)")
        #expect(Policy.problems(in: yaml.replacingOccurrences(of: "\"7\": \"\(one)\"", with: "\"7\": \"11\"")).contains { $0.message.contains("tpm.pcrSets[1].sha256.7") })
        #expect(
            Policy.problems(in: yaml.replacingOccurrences(of: "    pcrSets:", with: "    pcrs:\n      sha256:\n        \"0\": unchecked\n    pcrSets:"))
                .contains { $0.message.contains("pcrs and pcrSets cannot both be given") })
    }
}
