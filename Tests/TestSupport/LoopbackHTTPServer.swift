import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 server on 127.0.0.1 and a free port, for tests of network clients (Intel PCS,
/// AMD KDS, JSON-RPC peers). Each request is answered by the `handler`; every request is recorded.
public final class LoopbackHTTPServer: Sendable {
    /// One request as the server saw it.
    public struct Request: Sendable {
        /// The method, e.g. `GET`.
        public var method: String
        /// The request target: path and query, e.g. `/tdx/certification/v4/tcb?fmspc=…`.
        public var uri: String
        /// The headers.
        public var headers: [(String, String)]
        /// The body.
        public var body: [UInt8]

        /// The path without the query.
        public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
        /// Query parameters (not percent-decoded).
        public var query: [String: String] {
            guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
            var out = [String: String]()
            for pair in q.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                out[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
            return out
        }
    }

    /// A response to send.
    public struct Response: Sendable {
        /// HTTP status code.
        public var status: Int
        /// Headers (Content-Length is added).
        public var headers: [(String, String)]
        /// The body.
        public var body: [UInt8]

        /// Creates a response.
        public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// Answers a request.
    public typealias Handler = @Sendable (Request) -> Response

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let recorded: NIOLockedValueBox<[Request]>
    private let answered: NIOLockedValueBox<[[UInt8]]>

    /// The port the server listens on.
    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// Every request received so far, in order.
    public var requests: [Request] { recorded.withLockedValue { $0 } }
    /// The body of every response sent so far, in order.
    public var responseBodies: [[UInt8]] { answered.withLockedValue { $0 } }

    /// Starts a server that answers every request with `handler`.
    public init(handler: @escaping Handler) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let recorded = NIOLockedValueBox<[Request]>([])
        let answered = NIOLockedValueBox<[[UInt8]]>([])
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(RequestHandler(handler: handler, recorded: recorded, answered: answered))
                }
            }
        do {
            channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.recorded = recorded
        self.answered = answered
        self.port = channel.localAddress?.port ?? 0
    }

    private let stopped = NIOLockedValueBox(false)

    /// Stops the server; a second call does nothing (shutting an event loop group down twice
    /// is an error in SwiftNIO).
    public func shutdown() {
        guard
            stopped.withLockedValue({ s in
                defer { s = true }; return !s
            })
        else { return }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Forgets recorded requests.
    public func clearRequests() { recorded.withLockedValue { $0.removeAll() } }

    private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let handler: Handler
        let recorded: NIOLockedValueBox<[Request]>
        let answered: NIOLockedValueBox<[[UInt8]]>
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(handler: @escaping Handler, recorded: NIOLockedValueBox<[Request]>, answered: NIOLockedValueBox<[[UInt8]]>) {
            self.handler = handler
            self.recorded = recorded
            self.answered = answered
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = []
            case .body(var buf):
                body += buf.readBytes(length: buf.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let request = Request(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body)
                recorded.withLockedValue { $0.append(request) }
                let response = handler(request)
                answered.withLockedValue { $0.append(response.body) }
                var headers = HTTPHeaders(response.headers)
                headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                headers.replaceOrAdd(name: "Connection", value: "close")
                let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
                self.head = nil
            }
        }
    }
}
