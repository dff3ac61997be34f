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
        let policy = Policy.derived(from: [input], name: "golden")
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
        var policy = Policy.derived(from: [input], name: "recovery")
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
        var policy = Policy.derived(from: [input], name: "golden")
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
        var policy = Policy.derived(from: [input], name: "strict", maxEvidenceAge: 300)
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
        let failures = Policy.derived(from: [input], name: "tdx only").validate(snpOnly, now: now).failures
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
        #expect(Policy.problems(in: Self.valid.replacingOccurrences(of: "codeHashes: [\"sha256:\(String(repeating: "cd", count: 32))\"]", with: "codeHashes: []"))
            .contains { $0.message.contains("allows nothing") })
        #expect(Policy.problems(in: "version: [1\nname").first?.message.contains("not valid YAML") == true)
        #expect(!Policy.problems(in: "").isEmpty)
    }
}
