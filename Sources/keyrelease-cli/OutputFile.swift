import Attestation
import Foundation

/// A file the operator names for a subcommand to write (`dataset encrypt --out`, `evidence pack
/// -o`, `policy derive -o`).
///
/// Why these rules: an operator who mistypes a path must not lose data. The output is never one
/// of the command's inputs (compared after resolving symbolic links, and by device and inode, so
/// `./x`, a link to `x` and a hard link all count), even with `--force`; an existing file is
/// replaced only with `--force`; and it is written to a temporary file in the same folder and
/// renamed into place, so a failure half-way leaves any old file as it was.
struct OutputFile {
    /// The path as given.
    let path: String

    /// Checks `path` against the rules; `flag` names it in messages. Every refusal is a usage
    /// failure (exit 3).
    init(_ path: String, flag: String, force: Bool, inputs: [String]) throws(CLIFailure) {
        self.path = path
        var info = stat()
        let exists = stat(path, &info) == 0
        if exists && info.st_mode & S_IFMT == S_IFDIR { throw .usage("\(flag) \(path) is a directory: name a file") }
        var folder: ObjCBool = false
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &folder), folder.boolValue else {
            throw .io("cannot write \(flag) \(path): its folder \(parent) does not exist")
        }
        let target = Self.resolved(path)
        for input in inputs {
            var inputInfo = stat()
            let sameInode = exists && stat(input, &inputInfo) == 0 && inputInfo.st_dev == info.st_dev && inputInfo.st_ino == info.st_ino
            if sameInode || Self.resolved(input) == target {
                throw .usage("\(flag) \(path) is the input \(input): refusing to overwrite it (--force does not change this)")
            }
        }
        if exists && !force { throw .usage("\(flag) \(path) exists: pass --force to overwrite it") }
    }

    /// Writes `data` (see ``write(using:)``).
    func write(_ data: Data) throws(CLIFailure) {
        try write { (temporary: String) throws(CLIFailure) in
            do { try data.write(to: URL(fileURLWithPath: temporary)) } catch { throw .io("cannot write \(path): \(ErrorDescription.describe(error))") }
        }
    }

    /// Lets `body` write the content to a temporary path next to ``path``, then renames it into
    /// place. The temporary file is removed if `body` or the rename fails.
    func write<T>(using body: (String) throws(CLIFailure) -> T) throws(CLIFailure) -> T {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        do throws(CLIFailure) {
            let value = try body(temporary)
            guard rename(temporary, path) == 0 else { throw CLIFailure.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            return value
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// `path` absolute, with symbolic links resolved (for a file that does not exist yet: its
    /// folder resolved, plus its name).
    static func resolved(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if FileManager.default.fileExists(atPath: url.path) { return url.resolvingSymlinksInPath().path }
        return url.deletingLastPathComponent().resolvingSymlinksInPath().appendingPathComponent(url.lastPathComponent).path
    }
}
