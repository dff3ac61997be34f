import Attestation
import Foundation
import CFuzzDriver

/// libFuzzer entry: one collateral file (dcap-qvl JSON, PCS response, CRL, PEM chain, hex) →
/// classify and parse → complete. Also the CRL parser and PEM chain parser on the raw bytes.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var parts = TDX.CollateralParts()
    if (try? parts.add(fileContents: bytes, name: "input")) != nil { _ = try? parts.complete(for: nil) }
    _ = try? CertificateRevocationList(derEncoded: bytes)
    _ = try? CertificateChain(pemEncoded: String(decoding: bytes, as: UTF8.self))
    _ = try? EvidenceBundle(json: .init(bytes))
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
