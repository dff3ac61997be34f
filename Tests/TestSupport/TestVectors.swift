import Foundation

/// Locates the shared test vectors, read in place (never copied into the repository).
///
/// `TESTVECTORS_DIR` wins; otherwise `../shared/testvectors` next to the package root. A missing
/// folder is an error that says where to get it, so suites that need vectors fail loudly rather
/// than skip.
public enum TestVectors {
    /// Thrown when the folder is missing.
    public struct Missing: Error, CustomStringConvertible {
        /// Explanation with the path tried.
        public let description: String
    }

    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/TestSupport/TestVectors.swift
        return url
    }()

    /// The test-vector folder.
    public static func directory() throws -> URL {
        let env = ProcessInfo.processInfo.environment["TESTVECTORS_DIR"]
        let url = env.map { URL(fileURLWithPath: $0) } ?? packageRoot.appendingPathComponent("../shared/testvectors").standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            throw Missing(
                description:
                    "test vectors not found at \(url.path): check out the project's shared/ folder beside the repository (shared/testvectors, see its MANIFEST.md) or set TESTVECTORS_DIR to its path")
        }
        return url
    }

    /// The path of `relative` inside the test-vector folder.
    public static func path(_ relative: String) throws -> String {
        let p = try directory().appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: p) else {
            throw Missing(description: "test vector \(relative) is missing from \(try directory().path)")
        }
        return p
    }

    /// The bytes of `relative`.
    public static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }
}

/// Parses an ISO 8601 instant for tests ("2025-07-01T00:00:00Z").
public func instant(_ s: String) -> Date {
    ISO8601DateFormatter().date(from: s)!
}
