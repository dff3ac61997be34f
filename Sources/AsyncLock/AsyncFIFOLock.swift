import Foundation

/// A first-in, first-out lock for async code: actors are reentrant at every `await`, so a
/// sequence of awaits that must not interleave (nonce → sign → send; BEGIN … COMMIT on one
/// database connection) takes this lock. No Swift library offers one here (Synchronization's
/// `Mutex` cannot be held across an `await`), so it is written by hand.
public final class AsyncFIFOLock: @unchecked Sendable {
    private let mutex = NSLock()
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// An unlocked lock.
    public init() {}

    /// Waits until the lock is free, then holds it. Pair with ``unlock()``.
    public func lock() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            mutex.lock()
            if held {
                waiters.append(c)
                mutex.unlock()
            } else {
                held = true
                mutex.unlock()
                c.resume()
            }
        }
    }

    /// Hands the lock to the longest waiter, or frees it.
    public func unlock() {
        mutex.lock()
        if waiters.isEmpty {
            held = false
            mutex.unlock()
        } else {
            let next = waiters.removeFirst()
            mutex.unlock()
            next.resume()
        }
    }

    /// Runs `body` holding the lock.
    public func withLock<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
