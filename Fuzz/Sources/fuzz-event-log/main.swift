import Attestation
import Foundation
import CFuzzDriver

/// libFuzzer entry: bytes → TCG crypto-agile event log parser, then replay of every bank it
/// declares and a check against zero PCRs and RTMRs (the verify paths over arbitrary logs).
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let log = try? EventLog(parsing: bytes) else { return 0 }
    for bank in [TPM.Alg.sha1, .sha256, .sha384, .sha512] where log.carries(bank) {
        _ = try? log.replay(bank)
        let zero = [UInt8](repeating: 0, count: bank.digestSize!)
        _ = try? log.verify(againstPCRs: Dictionary(uniqueKeysWithValues: (0..<24).map { ($0, zero) }), bank: bank)
    }
    if let zero = try? FixedBytes<48>([UInt8](repeating: 0, count: 48)) { _ = try? log.verify(againstRTMRs: [zero, zero, zero, zero]) }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
