import Attestation
import CFuzzDriver
import Foundation

/// Fixed collateral (dcap-qvl's, if the test vectors are at hand) so that inputs which parse also
/// run the whole verifier: PCK chain PEM parsing, QE report checks, signatures, TCB matching.
let collateral: TDX.Collateral? = {
    guard let dir = ProcessInfo.processInfo.environment["TESTVECTORS_DIR"] else { return nil }
    var parts = TDX.CollateralParts()
    guard (try? parts.add(path: dir + "/tdx/dcap-qvl/tdx_quote_collateral.json")) != nil else { return nil }
    return try? parts.complete(for: nil)
}()
let now = Date(timeIntervalSince1970: 1_751_328_000)  // 2025-07-01T00:00:00Z, inside that collateral's window

/// libFuzzer entry: quote bytes (binary or text) → parse → verify → validate. Any outcome but a
/// crash, a sanitizer report or a hang is fine.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let quote = try? TDX.Quote(bytesOrText: bytes) else { return 0 }
    _ = quote.header
    if let collateral, let verified = try? TDX.QuoteVerifier().verify(quote, collateral: collateral, now: now) {
        _ = TDX.Validator().validate(verified)
        _ = PolicyInput(tdx: verified, evidenceTime: now)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
