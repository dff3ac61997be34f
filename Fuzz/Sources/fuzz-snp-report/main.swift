import Attestation
import Foundation
import CFuzzDriver

/// libFuzzer entry: bytes → SEV-SNP report (binary, hex, base64), Azure HCL report, and AMD
/// certificate (the hand-split RSA-PSS X.509 reader) parsers.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let r = try? SEVSNP.Report(bytesOrText: bytes) { _ = r.signedBytes.count }
    if let h = try? SEVSNP.HCLReport(rawRepresentation: bytes) { _ = try? h.verifyRuntimeDataBinding() }
    _ = try? SEVSNP.AMDCertificate(derEncoded: bytes)
    _ = try? SEVSNP.CertificateBundle(files: [bytes])
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
