import ArgumentParser
import Coordinator
import Foundation

/// `coordinator`: the coordinator daemon and its operator commands. Argument parsing and output
/// only; everything else is the `Coordinator` library.
@main
struct CoordinatorCommand: AsyncParsableCommand {
    /// The exit codes every subcommand keeps, as its help states them.
    static let exitCodes = """
        Exit codes: 0 success; 2 refused or not found (an unknown job, a job already settled, a \
        malformed job id or reason); 3 configuration, usage or dependency error (an unreadable or \
        invalid configuration file, an unknown key, the store or the chain unreachable, a wallet \
        that is not the contract's backend wallet). Errors are one line on stderr; with --json, \
        standard output is JSON even then ({"error": {"code", "message"}}).
        """

    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "The LICEN coordinator: dispatches granted fine-tuning jobs to attested provider nodes and settles them on chain.",
        discussion: """
            `coordinator run` is the daemon; `jobs`, `fail` and `retry` are the operator's tools on \
            its store (they need neither the chain nor the nodes, and a running coordinator picks \
            their changes up at its next round). \(exitCodes)
            """,
        subcommands: [RunCommand.self, JobsCommand.self, FailCommand.self, RetryCommand.self]
    )

    /// Runs the command with the documented exit codes: argument errors exit 3, not 64; a
    /// failure is one line on stderr (and, with `--json`, a JSON object on stdout).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let name = (["coordinator"] + arguments.prefix(1).filter { a in configuration.subcommands.contains { $0._commandName == a } }).joined(separator: " ")
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            if exitCode(for: error) == .success {  // --help
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if arguments.contains("--json") { print(JSONText.error(CLIFailure.usage(message(for: error)))) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(3)
        }
        do {
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch  where exitCode(for: error) == .success {  // `coordinator` alone: its help
            print(fullMessage(for: error))
            Foundation.exit(0)
        } catch {
            let failure = CLIFailure(error)
            if let json = command as? any JSONOutputCommand, json.json { print(JSONText.error(failure)) }
            FileHandle.standardError.write(Data("\(name): \(failure.code): \(failure.oneLineMessage)\n".utf8))
            Foundation.exit(failure.status)
        }
    }
}

/// A subcommand with `--json`.
protocol JSONOutputCommand: ParsableCommand {
    /// Whether `--json` was given.
    var json: Bool { get }
}

/// A failure a subcommand reports: its exit status (2 refused or not found, 3 configuration,
/// usage or dependency), a stable code and a message that carries no secret.
struct CLIFailure: Error, Sendable {
    /// Process exit status (2 or 3).
    let status: Int32
    /// Stable code: `usage`, or the library error's code.
    let code: String
    /// What went wrong.
    let message: String

    /// A usage problem (exit 3).
    static func usage(_ message: String) -> CLIFailure { CLIFailure(status: 3, code: "usage", message: message) }

    init(status: Int32, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The failure an error stands for: an operator's request the store refuses is 2, anything
    /// else (configuration, store, chain, nodes) 3.
    init(_ error: any Error) {
        switch error {
        case let f as CLIFailure: self = f
        case let e as ValidationError: self = .usage(e.message)
        case let e as CoordinatorError:
            let refused: Set<CoordinatorError.Code> = [.jobUnknown, .jobSettled, .invalidArgument]
            self.init(status: refused.contains(e.code) ? 2 : 3, code: e.code.rawValue, message: e.message)
        default: self.init(status: 3, code: "internalError", message: String(describing: type(of: error)))
        }
    }

    /// The message on one line (control characters become spaces).
    var oneLineMessage: String {
        String(String.UnicodeScalarView(message.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}

/// JSON text for the CLI's output: pretty and key-sorted.
enum JSONText {
    /// `value` as pretty, key-sorted JSON (`null` values kept).
    static func text(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `{"error": {"code", "message"}}`.
    static func error(_ failure: CLIFailure) -> String {
        text(["error": ["code": failure.code, "message": failure.message]])
    }
}
