import Foundation
import Glibc
import Synchronization

/// A real PostgreSQL server (Debian's `postgresql` package) started for tests: a fresh cluster
/// in a temporary folder (trust authentication, no durability settings: fsync off), listening on
/// a free loopback port and on a Unix socket inside that folder, with one database created.
///
/// ``stop()`` (fast shutdown) and ``start()`` (same folder, same port) simulate the database
/// going away mid-run. ``shutdown()`` (also on deinit) stops it and removes the folder. A
/// watchdog process stops the server and removes the folder within a second or two of the test
/// process exiting, even when it crashes or the server was a `static` that never deinitialises.
///
/// initdb and postgres refuse to run as root: when the tests run as root (CI), every server
/// binary runs as the `postgres` user (`runuser -u postgres --`), and the folder is owned by it.
public final class PostgresServer: Sendable {
    /// The loopback TCP port (the same across ``stop()``/``start()``).
    public let port: Int
    /// The database created at start.
    public let database: String
    /// The superuser name (trust authentication: no password).
    public let user = "postgres"
    /// The temporary folder holding the cluster (`data/`), the socket (`socket/`) and the log (`server.log`).
    public let directory: String

    private let bin: String
    private let runAs: [String]
    private let watchdog: pid_t?
    private let state = Mutex(State())

    private struct State {
        var running = false
        var removed = false
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    public var url: String { url(database: database) }

    /// The URL of another database on this server.
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// Whether the server was last started (and not stopped since).
    public var isRunning: Bool { state.withLock { $0.running } }

    /// Creates a cluster, starts it and creates `database`. Throws ``CLIError`` with the tool's
    /// output when a step fails, and one that says to `apt-get install postgresql` when the
    /// server binaries are missing.
    public init(database: String = "keyrelease") throws {
        bin = try Self.findBinaries()
        self.database = database
        runAs = geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgtest-\(UUID().uuidString.prefix(8).lowercased())")

        var port = 0
        do {
            try FileManager.default.createDirectory(atPath: directory + "/socket", withIntermediateDirectories: true)
            if geteuid() == 0 {
                guard let pw = getpwnam("postgres") else { throw CLIError("PostgresServer: running as root, but there is no postgres user (apt-get install postgresql creates it)") }
                for path in [directory, directory + "/socket"] where chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) != 0 {
                    throw CLIError("PostgresServer: chown \(path) failed: errno \(errno)")
                }
            }
            try Self.check(
                Self.run(
                    runAs + [
                        "\(bin)/initdb", "-D", directory + "/data", "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
                    ], in: directory), "initdb")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let watchdog = Self.startWatchdog(runAs: runAs, bin: bin, directory: directory)
        do {
            // A free port can be taken by someone else before the server binds it: retry.
            var lastError: (any Error)?
            for _ in 0..<5 {
                port = try Self.freeLoopbackPort()
                do {
                    try Self.check(Self.run(runAs + Self.startArguments(bin: bin, directory: directory, port: port), in: directory), "pg_ctl start")
                    lastError = nil
                    break
                } catch {
                    lastError = error
                }
            }
            if let lastError { throw lastError }
        } catch {
            Self.end(watchdog)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        self.port = port
        self.watchdog = watchdog
        state.withLock { $0.running = true }
        do {
            try psql("CREATE DATABASE \(database)", database: "postgres")
        } catch {
            shutdown()
            throw error
        }
    }

    deinit { shutdown() }

    /// Creates a fresh empty database (named from `prefix` and random characters) and returns
    /// its name; ``url(database:)`` gives its URL.
    public func createDatabase(prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try psql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    /// Drops `database`, disconnecting its sessions.
    public func dropDatabase(_ database: String) throws {
        try psql("DROP DATABASE IF EXISTS \(database) WITH (FORCE)", database: "postgres")
    }

    /// Runs `sql` with psql over the Unix socket (stops at the first error) and returns its
    /// unaligned, tuples-only output (`|` between columns, one row a line).
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) throws -> String {
        let result = try Self.run(
            runAs + [
                "\(bin)/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory + "/socket",
                "-p", String(port), "-U", user, "-d", database ?? self.database, "-c", sql,
            ], in: directory)
        try Self.check(result, "psql")
        return result.stdout
    }

    /// Stops the server (fast shutdown: open sessions are disconnected, in-flight transactions
    /// rolled back) and waits until it is gone.
    public func stop() throws {
        try Self.check(Self.run(runAs + ["\(bin)/pg_ctl", "-D", directory + "/data", "-m", "fast", "-w", "-t", "60", "stop"], in: directory), "pg_ctl stop")
        state.withLock { $0.running = false }
    }

    /// Starts the server again on the same folder and port and waits until it accepts connections.
    public func start() throws {
        try Self.check(Self.run(runAs + Self.startArguments(bin: bin, directory: directory, port: port), in: directory), "pg_ctl start")
        state.withLock { $0.running = true }
    }

    /// Stops the server (immediately) and removes its folder. Idempotent.
    public func shutdown() {
        let (first, wasRunning) = state.withLock { state -> (Bool, Bool) in
            defer { state.removed = true; state.running = false }
            return (!state.removed, state.running)
        }
        guard first else { return }
        if wasRunning {
            _ = try? Self.run(runAs + ["\(bin)/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "-t", "30", "stop"], in: "/")
        }
        Self.end(watchdog)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops and reaps the watchdog.
    private static func end(_ watchdog: pid_t?) {
        guard let watchdog else { return }
        kill(watchdog, SIGKILL)
        var status: Int32 = 0
        while waitpid(watchdog, &status, 0) < 0 && errno == EINTR {}
    }

    // MARK: Internals

    private static func startArguments(bin: String, directory: String, port: Int) -> [String] {
        let options = [
            "-p \(port)", "-k \(directory)/socket", "-c listen_addresses=127.0.0.1",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=300",
        ].joined(separator: " ")
        return ["\(bin)/pg_ctl", "-D", directory + "/data", "-l", directory + "/server.log", "-o", options, "-w", "-t", "60", "start"]
    }

    /// A detached shell (its own session) that outlives this process, notices its end and takes
    /// the server down. Started before the server, so a hang while starting is covered too.
    private static func startWatchdog(runAs: [String], bin: String, directory: String) -> pid_t? {
        let stop = (runAs + ["\(bin)/pg_ctl", "-D", directory + "/data", "-m", "immediate", "stop"]).map(shellQuoted).joined(separator: " ")
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) >/dev/null 2>&1; rm -rf \(shellQuoted(directory))"
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        return try? spawn(["/bin/sh", "-c", script], in: "/", stdout: null, stderr: null, newSession: true)
    }

    private static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The newest `/usr/lib/postgresql/N/bin` holding the server binaries.
    private static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = "\(root)/\(version)/bin"
            if ["initdb", "pg_ctl", "postgres", "psql"].allSatisfy({ FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)") }) {
                return bin
            }
        }
        throw CLIError("PostgresServer: no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) under \(root)/*/bin: apt-get install postgresql")
    }

    /// Runs `command` and waits for it, output captured through files.
    ///
    /// Not Foundation's `Process`: on Linux it learns that a child exited through a descriptor
    /// the child inherits, and `pg_ctl start` hands every descriptor on to the daemonised
    /// server, so the `pg_ctl` process would look alive until the server stops. Spawned here,
    /// children keep only stdin (/dev/null), stdout and stderr.
    private static func run(_ command: [String], in directory: String) throws -> CLIRunner.Result {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pgtest-\(UUID().uuidString)").path
        let outPath = base + ".out", errPath = base + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            if out >= 0 { close(out) }
            if err >= 0 { close(err) }
        }
        guard out >= 0, err >= 0 else { throw CLIError("PostgresServer: cannot create \(base).out/.err: errno \(errno)") }
        let pid = try spawn(command, in: directory, stdout: out, stderr: err)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw CLIError("PostgresServer: waitpid \(command[0]) failed: errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return CLIRunner.Result(status: exitStatus, stdout: read(outPath), stderr: read(errPath))
    }

    /// Starts `command` with stdin from /dev/null, the given stdout and stderr, and no other
    /// descriptors, optionally in a new session (so it survives its parent's process group).
    @discardableResult
    private static func spawn(_ command: [String], in directory: String, stdout: Int32, stderr: Int32, newSession: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        guard let closeFrom = Self.closeFrom, let changeDirectory = Self.changeDirectory else {
            throw CLIError("PostgresServer: needs glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np)")
        }
        _ = closeFrom(&actions, 3)
        _ = changeDirectory(&actions, directory)
        if newSession { posix_spawnattr_setflags(&attributes, Self.spawnSetSID) }

        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw CLIError("PostgresServer: cannot start \(command[0]): error \(rc)") }
        return pid
    }

    // glibc extensions the Glibc module does not import (they sit behind feature macros).
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let closeFrom = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: CloseFrom.self) }
    private static let changeDirectory = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: ChangeDirectory.self) }
    /// glibc's POSIX_SPAWN_SETSID.
    private static let spawnSetSID: Int16 = 0x80

    private static func check(_ result: CLIRunner.Result, _ what: String) throws {
        guard result.status == 0 else {
            throw CLIError("PostgresServer: \(what) failed (\(result.status)): \(result.stderr.suffix(2000))\(result.stdout.suffix(1000))")
        }
    }

    private static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIError("PostgresServer: socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIError("PostgresServer: no free loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
