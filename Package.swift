// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "licen-broker",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "AttestationCollateral", targets: ["AttestationCollateral"]),
        .library(name: "KeyRelease", targets: ["KeyRelease"]),
        .library(name: "ReleaseProtocol", targets: ["ReleaseProtocol"]),
        .library(name: "ProviderNode", targets: ["ProviderNode"]),
        .library(name: "Coordinator", targets: ["Coordinator"]),
        .library(name: "Chain", targets: ["Chain"]),
        .library(name: "EVMCrypto", targets: ["EVMCrypto"]),
        .library(name: "ByteEncoding", targets: ["ByteEncoding"]),
        .library(name: "ZeroG", targets: ["ZeroG"]),
        .library(name: "DatasetCrypto", targets: ["DatasetCrypto"]),
        .executable(name: "keyrelease", targets: ["keyrelease-cli"]),
        .executable(name: "coordinator", targets: ["coordinatord"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "ByteEncoding"),
        .target(name: "AsyncLock"),
        .target(
            name: "ServiceSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "SQLStore",
            dependencies: [
                "AsyncLock",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Attestation",
            dependencies: [
                "ByteEncoding",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "AttestationCollateral",
            dependencies: ["ByteEncoding", .product(name: "X509", package: "swift-certificates"),
                "Attestation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .systemLibrary(
            name: "CSecp256k1",
            path: "Sources/CSecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]
        ),
        .target(name: "EVMCrypto", dependencies: ["CSecp256k1", "ByteEncoding"]),
        .target(
            name: "Chain",
            dependencies: [
                "AsyncLock",
                "EVMCrypto",
                "ByteEncoding",
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .target(name: "ZeroG", dependencies: ["Chain", "EVMCrypto", "ByteEncoding", .product(name: "BigInt", package: "BigInt")]),
        .target(
            name: "DatasetCrypto",
            dependencies: ["EVMCrypto", "ByteEncoding", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "KeyRelease",
            dependencies: ["ReleaseProtocol", "ByteEncoding", "EVMCrypto", "AsyncLock", "SQLStore", "ServiceSupport",
                "Attestation",
                "AttestationCollateral",
                "Chain",
                "DatasetCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .target(
            name: "ReleaseProtocol",
            dependencies: ["Attestation", "ByteEncoding", "EVMCrypto", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "ConfigFile", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "Coordinator",
            dependencies: [
                "Chain", "ByteEncoding", "SQLStore", "EVMCrypto", "ReleaseProtocol", "Attestation", "AttestationCollateral", "ConfigFile", "ZeroG", "ServiceSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .systemLibrary(
            name: "CTSS2",
            path: "Sources/CTSS2",
            providers: [.apt(["libtss2-dev"])]
        ),
        .target(
            name: "ProviderNode",
            dependencies: ["EVMCrypto", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"), "ReleaseProtocol", "ByteEncoding", 
                "Attestation",
                "CTSS2",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "keyrelease-cli",
            dependencies: ["ServiceSupport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), "ReleaseProtocol", "ByteEncoding", "EVMCrypto", 
                "Attestation",
                "AttestationCollateral",
                "KeyRelease",
                "Chain",
                "ZeroG",
                "DatasetCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "coordinatord",
            dependencies: [
                "Coordinator", "ServiceSupport", "ByteEncoding",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["ByteEncoding", "EVMCrypto", "ReleaseProtocol", "KeyRelease", "ProviderNode", "Coordinator", "DatasetCrypto", "AttestationCollateral", "ServiceSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
                .product(name: "BigInt", package: "BigInt"),
                "Attestation",
                "Chain",
                "ZeroG",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .executableTarget(
            name: "coordinator-load",
            dependencies: ["Coordinator", "Chain", "ByteEncoding", "EVMCrypto", "TestSupport", .product(name: "BigInt", package: "BigInt")],
            path: "Benchmarks/CoordinatorLoad"
        ),
        .executableTarget(
            name: "release-load",
            dependencies: ["ProviderNode", "ReleaseProtocol", "ByteEncoding", "EVMCrypto", 
                "KeyRelease", "Attestation", "AttestationCollateral", "Chain", "DatasetCrypto", "ZeroG", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Benchmarks/ReleaseLoad"
        ),
        .testTarget(
            name: "AttestationTests",
            dependencies: ["ByteEncoding", "Attestation", "TestSupport"]
        ),
        .testTarget(
            name: "AttestationCollateralTests",
            dependencies: ["ByteEncoding", "AttestationCollateral", "Attestation", "TestSupport"]
        ),
        .testTarget(
            name: "ProviderNodeTests",
            dependencies: ["ByteEncoding", "ProviderNode", "Attestation", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "Chain", "ByteEncoding", "TestSupport", "ConfigFile", "EVMCrypto", "ReleaseProtocol", "Attestation", "AttestationCollateral",
                .product(name: "BigInt", package: "BigInt"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "ByteEncodingTests", dependencies: ["ByteEncoding"]),
        .testTarget(
            name: "ReleaseProtocolTests",
            dependencies: ["ReleaseProtocol", "EVMCrypto", "ByteEncoding", "Attestation", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "EVMCryptoTests",
            dependencies: ["EVMCrypto", "ByteEncoding"]
        ),
        .testTarget(
            name: "ChainTests",
            dependencies: ["ByteEncoding", "EVMCrypto", "Chain", "ZeroG", "DatasetCrypto", "TestSupport", .product(name: "BigInt", package: "BigInt"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "KeyReleaseTests",
            dependencies: ["ReleaseProtocol", "ByteEncoding", "EVMCrypto", "KeyRelease", "Attestation", "AttestationCollateral", "Chain", "DatasetCrypto", "ProviderNode", "ZeroG", "TestSupport", "ServiceSupport",
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "BigInt", package: "BigInt"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "SQLiteNIO", package: "sqlite-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
