import Attestation
import Foundation
import CFuzzDriver

/// libFuzzer entry: bytes → every TPM parser (TPMS_ATTEST, TPMT_SIGNATURE, AK public areas and
/// SPKI, PCR values as JSON or tpm2-tools binary, go-tpm-tools attest.Attestation protobuf), then a quote verification over what parsed.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let attest = try? TPM.Attest(rawRepresentation: bytes)
    let signature = try? TPM.Signature(rawRepresentation: bytes)
    let ak = try? TPM.PublicKey(bytes: bytes)
    let pcrs = try? TPM.pcrValues(parsing: bytes)
    if let pb = try? TPM.GoTPMAttestation(protobuf: bytes) { _ = try? TPM.QuoteVerifier().verify(pb.bundle().tpm!, eventLog: pb.eventLog, expectedNonce: nil) }
    if let attest, let signature, let ak { _ = try? TPM.QuoteVerifier().verify(attest: attest, signature: signature, ak: ak, pcrs: pcrs ?? [:], expectedNonce: nil) }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
