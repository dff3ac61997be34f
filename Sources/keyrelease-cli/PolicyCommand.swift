import ArgumentParser
import Attestation
import Foundation
import KeyRelease

/// `keyrelease policy`: check and derive policy files.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check policy files, or derive one from golden evidence.",
        subcommands: [Check.self, Derive.self]
    )

    /// Reads and parses a policy file; problems become a usage error listing every line.
    static func load(_ path: String) throws -> Policy {
        let d = try InputFile.read(path, "policy file")
        do { return try Policy(yaml: String(decoding: d, as: UTF8.self)) } catch {
            throw CLIFailure.usage("policy \(path) is invalid: \(error.message)")
        }
    }

    /// `keyrelease policy check FILE`.
    struct Check: ParsableCommand, JSONOutputCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file against schema version 1, listing every problem with its line.",
            discussion: "Exit codes: 0 valid; 2 invalid (every problem printed as FILE:LINE:COLUMN: message); 3 unreadable."
        )

        @Argument(help: "Policy file (YAML or JSON).")
        var file: String

        @Flag(help: "Print one JSON object: {valid, problems: [{line, column, message}]}.")
        var json = false

        func run() throws {
            let d = try InputFile.read(file, "policy file")
            let problems = Policy.problems(in: String(decoding: d, as: UTF8.self))
            if json {
                struct Out: Encodable { let valid: Bool; let problems: [Policy.Problem] }
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try e.encode(Out(valid: problems.isEmpty, problems: problems)), as: UTF8.self))
            } else if problems.isEmpty {
                print("\(file): valid")
            } else {
                for p in problems { print("\(file):\(p.line):\(p.column): \(p.message)") }
            }
            if !problems.isEmpty { throw ExitCode(2) }
        }

        /// `{valid: false, problems: [], error: {code, message}}`: the file could not be judged.
        static func jsonObject(for failure: CLIFailure) -> String {
            JSONText.object(["valid": false, "problems": [Any](), "error": JSONText.error(failure)])
        }
    }

    /// `keyrelease policy derive EVIDENCE…`.
    struct Derive: AsyncParsableCommand, JSONOutputCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a policy that accepts exactly the measurements of the given (golden) evidence.",
            discussion: """
                Each evidence file is verified first (same flags as verify-quote); evidence that does not \
                verify is refused (exit 2). One golden combination of measurements is written as exact \
                values (measurements); several are written as complete sets (measurementSets, TPM \
                pcrSets), so values of different files are never combined. The policy also lists the \
                TCB statuses seen (TDX), the lowest TCB components seen (SEV-SNP), the attestation \
                keys (TPM), the workload identities seen, and maxEvidenceAge as given (default \
                unchecked: set it before production use).

                Golden evidence that would widen the policy is refused (exit 3, code \
                goldenEvidenceRefused) unless allowed by name: a debug TEE (--allow-debug: the policy \
                then accepts debug TEEs), or TDX evidence that matched no TCB level \
                (--allow-unknown-tcb: its measurements are taken; the policy still refuses evidence \
                without a TCB status).

                -o never overwrites an input, and an existing file only with --force. --json prints \
                one object: {policy (the YAML text), output (the file written, or null), error \
                ({code, message}, or null)}.
                """
        )

        @Argument(help: "Evidence files (bundles, quotes, SNP reports, or TPM quotes with --platform tpm).")
        var files: [String]

        @OptionGroup var options: VerificationOptions

        @Option(help: "Policy name.")
        var name = "derived"

        @Option(help: "Maximum evidence age in seconds (default: unchecked).")
        var maxEvidenceAge: Int?

        @Flag(help: "Take debug TEEs as golden evidence: the policy then accepts debug TEEs (their memory is readable by the host: never in production).")
        var allowDebug = false

        @Flag(
            name: .customLong("allow-unknown-tcb"),
            help: "Take TDX evidence that matched no TCB level as golden evidence, for its measurements (the policy still refuses evidence without a TCB status).")
        var allowUnknownTCB = false

        @Option(name: .shortAndLong, help: "Write the policy here instead of standard output (never over an input; over an existing file only with --force).")
        var output: String?

        @Flag(help: "Let -o replace an existing file (never one of the inputs).")
        var force = false

        @Flag(help: "Print one JSON object: {policy, output, error}.")
        var json = false

        func run() async throws {
            var out: OutputFile?
            if let output { out = try OutputFile(output, flag: "-o", force: force, inputs: files + options.inputPaths) }
            let evidence = try files.map { try options.readEvidence($0) }
            var platforms = Set<Platform>()
            for (file, raw) in zip(files, evidence) {
                let platform = try options.evidencePlatform(raw)
                if let platform { platforms.insert(platform) }
                do { try options.checkFlags(for: platform) } catch let f as CLIFailure {
                    throw CLIFailure.usage("\(file): \(f.message)")
                }
            }
            // An allowance for a platform none of the files is would be ignored: refuse it, as
            // verify-quote refuses a flag for another platform.
            for (flag, given, applies) in [("--allow-debug", allowDebug, Set<Platform>([.tdx, .snp])), ("--allow-unknown-tcb", allowUnknownTCB, [.tdx])]
            where given && !platforms.isEmpty && platforms.isDisjoint(with: applies) {
                throw CLIFailure.usage("\(flag) applies to \(applies.map(\.rawValue).sorted().joined(separator: " and ")) evidence; none of the files is")
            }
            let useCase = try options.useCase()
            var inputs = [PolicyInput]()
            for (file, raw) in zip(files, evidence) {
                switch await useCase.verify(evidence: raw) {
                case .success(let v):
                    let input = v.policyInput(evidenceTime: nil)
                    // Why exit 3: the evidence is authentic; taking it as golden is the operator's
                    // choice to make explicitly, like a usage error.
                    do { try Policy.checkGolden(input, allowDebug: allowDebug, allowUnknownTCB: allowUnknownTCB) } catch {
                        throw CLIFailure(status: 3, code: error.code.rawValue, message: "\(file): refused as golden evidence: \(error.message)")
                    }
                    inputs.append(input)
                case .failure(let report):
                    throw CLIFailure(
                        status: report.exitCode == 3 ? 3 : 2, code: report.error?.code ?? "malformed",
                        message: "\(file): does not verify: \(report.error.map { "\($0.code): \($0.message)" } ?? "?")")
                }
            }
            let yaml: String
            do {
                yaml = try Policy.derived(
                    from: inputs, name: name, maxEvidenceAge: maxEvidenceAge.map(TimeInterval.init),
                    allowDebug: allowDebug, allowUnknownTCB: allowUnknownTCB
                ).yaml
            } catch {
                throw CLIFailure(status: 3, code: error.code.rawValue, message: error.message)
            }
            if let out { try out.write(Data(yaml.utf8)) }
            if json {
                print(JSONText.object(["policy": yaml, "output": output.map { $0 as Any } ?? NSNull(), "error": NSNull()]))
            } else if out == nil {
                print(yaml, terminator: "")
            }
        }

        /// `{policy: null, output: null, error: {code, message}}`: nothing was derived.
        static func jsonObject(for failure: CLIFailure) -> String {
            JSONText.object(["policy": NSNull(), "output": NSNull(), "error": JSONText.error(failure)])
        }
    }
}
