// swift-tools-version:6.1
// libFuzzer targets for the Attestation parsers. A separate package so that the sanitizer build
// (`-sanitize=fuzzer,address`) never touches the main build. Each target's main hands its
// entry function to libFuzzer's `LLVMFuzzerRunDriver`. Run through `scripts/fuzz`.
import PackageDescription

let fuzzTargets = ["fuzz-tdx-quote", "fuzz-tdx-collateral", "fuzz-policy", "fuzz-snp-report", "fuzz-tpm", "fuzz-event-log"]

let package = Package(
    name: "licen-broker-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "licen-broker", path: "..")],
    targets: [.target(name: "CFuzzDriver")] + fuzzTargets.map { name in
        .executableTarget(name: name, dependencies: ["CFuzzDriver", .product(name: "Attestation", package: "licen-broker")], path: "Sources/\(name)")
    },
    swiftLanguageModes: [.v6]
)
