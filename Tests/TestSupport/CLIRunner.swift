import Foundation

/// Runs a built executable product of this package (for example `keyrelease`) as a real
/// process, as scripts do, and captures its exit status and output.
public enum CLIRunner {
    /// What a run produced.
    public struct Result: Sendable {
        /// Exit status.
        public let status: Int32
        /// Standard output.
        public let stdout: String
        /// Standard error.
        public let stderr: String

        /// A result with these parts.
        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }

        /// Standard output parsed as a JSON object.
        public func json() throws -> [String: Any] {
            guard let o = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw CocoaError(.propertyListReadCorrupt)
            }
            return o
        }
    }

    /// The folder holding the built products (next to the test bundle).
    public static var productsDirectory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if url.lastPathComponent == "MacOS" { url = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return url
    }

    /// Runs `product` with `arguments` and waits for it.
    public static func run(_ product: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        try runFile(productsDirectory.appendingPathComponent(product).path, arguments, environment: environment)
    }

    /// Runs the executable at `path` with `arguments` and waits for it.
    public static func runFile(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning { usleep(5_000) }  // not waitUntilExit: it can hang on a Swift concurrency thread
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
