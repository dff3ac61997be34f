import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private swtpm (TPM 2.0 simulator) on loopback, started by a test and stopped by it.
///
/// Each instance gets a fresh state folder and two free ports (server, control), so tests never
/// share PCRs or keys. Requires Debian's `swtpm` package.
public final class SoftwareTPM: @unchecked Sendable {
    /// The TCP port of the TPM command channel.
    public let port: Int
    /// The TCTI configuration string for tss2 (`swtpm:host=127.0.0.1,port=N`).
    public var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }
    private let process: Process
    private let stateDirectory: URL

    /// Thrown when swtpm cannot be started.
    public struct StartFailed: Error, CustomStringConvertible {
        /// Why.
        public let description: String
    }

    /// Starts swtpm and waits until it accepts connections (up to 10 s).
    public init() throws {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("swtpm-\(UUID())")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        guard let binary = ["/usr/bin/swtpm", "/usr/local/bin/swtpm"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw StartFailed(description: "swtpm is not installed (apt-get install swtpm swtpm-tools)")
        }
        port = try Self.freePortPair()
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "socket", "--tpm2", "--tpmstate", "dir=\(stateDirectory.path)",
            "--server", "type=tcp,port=\(port),bindaddr=127.0.0.1", "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1",
            "--flags", "not-need-init,startup-clear",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if Self.canConnect(port) { return }
            usleep(50_000)
        }
        process.terminate()
        throw StartFailed(description: "swtpm did not listen on 127.0.0.1:\(port)")
    }

    /// Stops swtpm and removes its state.
    public func stop() {
        // No waitUntilExit: it spins a run loop that can hang on a Swift concurrency thread.
        if process.isRunning {
            process.terminate()
            for _ in 0..<40 where process.isRunning { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: stateDirectory)
    }

    deinit { stop() }

    /// A port P such that P and P+1 are both free on 127.0.0.1.
    static func freePortPair() throws -> Int {
        for _ in 0..<50 {
            let p = Int.random(in: 20000..<60000)
            if isFree(p) && isFree(p + 1) { return p }
        }
        throw StartFailed(description: "no free port pair found")
    }

    static func isFree(_ port: Int) -> Bool { withLoopbackAddress(port) { fd, addr, len in bind(fd, addr, len) == 0 } }

    static func canConnect(_ port: Int) -> Bool { withLoopbackAddress(port) { fd, addr, len in connect(fd, addr, len) == 0 } }

    /// Calls `body` with a fresh TCP socket and the address 127.0.0.1:`port`, closing the socket after.
    private static func withLoopbackAddress(_ port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
}
