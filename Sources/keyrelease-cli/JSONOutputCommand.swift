import ArgumentParser
import Foundation

/// A subcommand with `--json`: whatever happens, its standard output is exactly one JSON object.
/// On a failure (a usage error, an unreadable file) `KeyReleaseCommand.main` prints
/// ``jsonObject(for:)`` there, besides the one-line message on stderr.
protocol JSONOutputCommand: ParsableCommand {
    /// Whether `--json` was given.
    var json: Bool { get }

    /// The object printed for a failure; by default `{"error": {"code", "message"}}`.
    static func jsonObject(for failure: CLIFailure) -> String
}

extension JSONOutputCommand {
    static func jsonObject(for failure: CLIFailure) -> String {
        JSONText.object(["error": JSONText.error(failure)])
    }
}

/// Pretty, key-sorted JSON text for the CLI's objects.
enum JSONText {
    /// `object` as pretty, key-sorted JSON (`{}` if it cannot be encoded, which plain
    /// strings, numbers, booleans, arrays and dictionaries always can).
    static func object(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `{code, message}` of a failure.
    static func error(_ failure: CLIFailure) -> [String: Any] {
        ["code": failure.code, "message": failure.message]
    }
}
