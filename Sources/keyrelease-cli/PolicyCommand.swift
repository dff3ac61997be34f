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
    struct Derive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a policy that accepts exactly the measurements of the given (golden) evidence.",
            discussion: """
            Each evidence file is verified first (same flags as verify-quote); evidence that does not
            verify is refused (exit 2). The policy lists every measured value exactly (several files:
            any of their values), the TCB statuses seen, debug only if seen, and maxEvidenceAge as
            given (default unchecked: set it before production use). -o never overwrites an input,
            and an existing file only with --force.
            """
        )

        @Argument(help: "Evidence files (bundles, quotes, SNP reports, or TPM quotes with --platform tpm).")
        var files: [String]

        @OptionGroup var options: VerificationOptions

        @Option(help: "Policy name.")
        var name = "derived"

        @Option(help: "Maximum evidence age in seconds (default: unchecked).")
        var maxEvidenceAge: Int?

        @Option(name: .shortAndLong, help: "Write the policy here instead of standard output (never over an input; over an existing file only with --force).")
        var output: String?

        @Flag(help: "Let -o replace an existing file (never one of the inputs).")
        var force = false

        func run() async throws {
            var out: OutputFile?
            if let output { out = try OutputFile(output, flag: "-o", force: force, inputs: files + options.inputPaths) }
            let evidence = try files.map { try options.readEvidence($0) }
            for (file, raw) in zip(files, evidence) {
                do { try options.checkFlags(for: options.evidencePlatform(raw)) } catch let f as CLIFailure {
                    throw CLIFailure.usage("\(file): \(f.message)")
                }
            }
            let useCase = try options.useCase()
            var inputs = [PolicyInput]()
            for (file, raw) in zip(files, evidence) {
                switch await useCase.verify(evidence: raw) {
                case .success(let v): inputs.append(v.policyInput(evidenceTime: nil))
                case .failure(let report):
                    throw CLIFailure(status: report.exitCode == 3 ? 3 : 2, code: report.error?.code ?? "malformed",
                                     message: "\(file): does not verify: \(report.error.map { "\($0.code): \($0.message)" } ?? "?")")
                }
            }
            let yaml = Policy.derived(from: inputs, name: name, maxEvidenceAge: maxEvidenceAge.map(TimeInterval.init)).yaml
            if let out {
                try out.write(Data(yaml.utf8))
            } else {
                print(yaml, terminator: "")
            }
        }
    }
}
