import ByteEncoding
import Chain
import Foundation

/// A local content-addressed dataset store keyed by 0G roots (the embedded default in place of
/// 0G Storage): files live at `<directory>/<root hex>`; every read re-derives the root, so a file
/// changed on disk is an error, never silently wrong data.
public struct LocalDatasetStore: Sendable {
    /// The folder.
    public let directory: String

    /// A store in `directory` (created on first write).
    public init(directory: String) { self.directory = directory }

    func path(_ root: ZeroG.Hash) -> String { (directory as NSString).appendingPathComponent(Hex.encode(root.bytes)) }

    /// Stores a copy of the file at `source` and returns its root.
    @discardableResult
    public func put(fileAt source: String) throws(ZeroGError) -> ZeroG.Hash {
        let root = try ZeroG.merkle(ofFileAt: source).root
        let dest = path(root)
        if FileManager.default.fileExists(atPath: dest) { return root }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let tmp = dest + ".tmp-\(UUID().uuidString)"
            try FileManager.default.copyItem(atPath: source, toPath: tmp)
            try FileManager.default.moveItem(atPath: tmp, toPath: dest)
        } catch { throw ZeroGError(.io, "cannot store into \(directory): \(error.localizedDescription)") }
        return root
    }

    /// Stores `data` and returns its root.
    @discardableResult
    public func put(_ data: [UInt8]) throws(ZeroGError) -> ZeroG.Hash {
        let root = try ZeroG.merkle(of: data).root
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(data).write(to: URL(fileURLWithPath: path(root)), options: .atomic)
        } catch { throw ZeroGError(.io, "cannot store into \(directory): \(error.localizedDescription)") }
        return root
    }

    /// The bytes stored under `root`, checked against it. Throws ``ZeroGError/Code/notFound``
    /// or ``ZeroGError/Code/proofInvalid`` (the file no longer hashes to its name).
    /// Whether a file with this root is stored.
    public func contains(_ root: ZeroG.Hash) -> Bool { FileManager.default.fileExists(atPath: path(root)) }

    public func get(_ root: ZeroG.Hash) throws(ZeroGError) -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path(root)) else { throw ZeroGError(.notFound, "no dataset \(root) in \(directory)") }
        let bytes = [UInt8](d)
        guard try ZeroG.merkle(of: bytes).root == root else { throw ZeroGError(.proofInvalid, "the stored file for \(root) no longer matches its root") }
        return bytes
    }
}
