import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOConcurrencyHelpers

/// A JSON-RPC proxy on loopback in front of a real node (the dev chain), with faults a test can
/// switch on: swallow the next N `eth_sendRawTransaction` calls (answer as if accepted, never
/// forward: the transaction is "stuck"), or answer the next N requests with HTTP 503.
public final class LoopbackRPCProxy: Sendable {
    struct Faults {
        var swallowSends = 0
        var unavailable = 0
        var rawSends: [String] = []
    }

    let faults = NIOLockedValueBox(Faults())
    private let server: LoopbackHTTPServer

    /// The proxy's URL.
    public var url: String { server.baseURL }
    /// Every request and response body that passed through, in order.
    public var traffic: [[UInt8]] { server.requests.map(\.body) + server.responseBodies }
    /// Every raw transaction the proxy saw (hex), forwarded or not.
    public var rawSends: [String] { faults.withLockedValue { $0.rawSends } }

    /// Starts a proxy for `upstream`.
    public init(upstream: String) throws {
        let faults = self.faults
        server = try LoopbackHTTPServer { request in
            let body = String(decoding: request.body, as: UTF8.self)
            let isSend = body.contains("\"eth_sendRawTransaction\"")
            let action: (unavailable: Bool, swallow: Bool) = faults.withLockedValue { f in
                if isSend, let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any], let raw = (json["params"] as? [String])?.first {
                    f.rawSends.append(raw)
                }
                if f.unavailable > 0 { f.unavailable -= 1; return (true, false) }
                if isSend && f.swallowSends > 0 { f.swallowSends -= 1; return (false, true) }
                return (false, false)
            }
            if action.unavailable { return .init(status: 503) }
            if action.swallow {
                // Answer with a plausible hash; the transaction never reaches the node.
                return .init(headers: [("Content-Type", "application/json")], body: Array(#"{"jsonrpc":"2.0","id":1,"result":"0x\#(String(repeating: "ab", count: 32))"}"#.utf8))
            }
            return Self.forward(request.body, to: request.uri == "/" || request.uri.isEmpty ? upstream : upstream + request.uri, method: request.method)
        }
    }

    /// Swallows the next `n` raw transactions.
    public func swallowSends(_ n: Int) { faults.withLockedValue { $0.swallowSends = n } }
    /// Answers the next `n` requests with HTTP 503.
    public func unavailable(_ n: Int) { faults.withLockedValue { $0.unavailable = n } }
    /// Stops the proxy.
    public func stop() { server.shutdown() }

    /// Forwards synchronously (the proxy's event loop is its own; tests send few requests).
    static func forward(_ body: [UInt8], to upstream: String, method: String = "POST") -> LoopbackHTTPServer.Response {
        var req = URLRequest(url: URL(string: upstream)!)
        req.httpMethod = method
        if method != "GET" { req.httpBody = Data(body) }
        req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let done = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox<(Int, [UInt8])>((502, []))
        URLSession.shared.dataTask(with: req) { data, response, _ in
            result.withLockedValue { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 502, [UInt8](data ?? Data())) }
            done.signal()
        }.resume()
        done.wait()
        let (status, bytes) = result.withLockedValue { $0 }
        return .init(status: status, headers: [("Content-Type", "application/json")], body: bytes)
    }
}
