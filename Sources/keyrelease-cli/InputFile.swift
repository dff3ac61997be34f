import Attestation
import Foundation

/// Reads a file the operator names. Every way of failing (missing, a directory, unreadable) is
/// a one-line I/O failure (exit 3) naming the flag and the path, never a crash or a parser's
/// complaint about empty input.
enum InputFile {
    /// The bytes of `path`; `what` names it in messages ("evidence file", "--policy").
    static func read(_ path: String, _ what: String) throws(CLIFailure) -> Data {
        try check(path, what)
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .io("cannot read \(what) \(path): \(ErrorDescription.describe(error))")
        }
    }

    /// The bytes of `path` as `[UInt8]`.
    static func bytes(_ path: String, _ what: String) throws(CLIFailure) -> [UInt8] {
        [UInt8](try read(path, what))
    }

    /// Fails unless `path` names an existing, readable file (not a directory).
    static func check(_ path: String, _ what: String) throws(CLIFailure) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw .io("\(what) \(path) is a directory, not a file") }
        guard access(path, R_OK) == 0 else { throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
    }

    /// Fails unless `path` names an existing file or folder (collateral accepts both).
    static func checkExists(_ path: String, _ what: String) throws(CLIFailure) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
    }
}
