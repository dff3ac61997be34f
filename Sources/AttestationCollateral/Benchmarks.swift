import Attestation
import Crypto
import Foundation

/// In-process verification benchmarks, reported as medians with a same-run baseline.
public enum Benchmarks {
    /// Result of ``tdxVerify(quote:collateralFiles:now:iterations:)`` (microseconds).
    public struct TDXVerifyResult: Sendable, Codable {
        /// Median cold verification: parse quote and collateral, verify, nothing cached.
        public let coldMicros: Double
        /// Median of the parsing part of a cold verification alone (quote, PCK chain, collateral).
        public let coldParseMicros: Double
        /// Median warm verification: parse quote, verify with reused collateral and signature cache.
        public let warmMicros: Double
        /// Median single raw ECDSA P-256 verify, measured in the same run.
        public let p256VerifyMicros: Double
        /// warmMicros / p256VerifyMicros.
        public let warmOverP256: Double
        /// Iterations per figure.
        public let iterations: Int
    }

    /// Times TDX verification. Throws if the quote does not verify (a benchmark of failures
    /// would measure the wrong thing).
    public static func tdxVerify(quote: [UInt8], collateralFiles: [(String, [UInt8])], now: Date, iterations: Int) throws -> TDXVerifyResult {
        // `memo` lives for one verification only: the PCK chain parsed to find the FMSPC is not
        // parsed again by the verifier. Nothing is carried from one cold iteration to the next.
        func loadCollateral(_ q: TDX.Quote, memo: VerificationCache) throws -> TDX.Collateral {
            var parts = TDX.CollateralParts(cache: memo)
            for (name, bytes) in collateralFiles { if (try? parts.add(fileContents: bytes, name: name)) == nil { continue } }
            let pck = try TDX.PCKExtensions.of(memo.chain(pem: q.pckCertificateChainPEM), cache: memo)
            return try parts.complete(for: pck.fmspc)
        }
        // Correctness first.
        let q0 = try TDX.Quote(rawRepresentation: quote)
        let collateral = try loadCollateral(q0, memo: VerificationCache())
        _ = try TDX.QuoteVerifier().verify(q0, collateral: collateral, now: now)

        let cold = try median(iterations) {
            let q = try TDX.Quote(rawRepresentation: quote)
            let verifier = TDX.QuoteVerifier(cache: .perVerification())
            _ = try verifier.verify(q, collateral: try loadCollateral(q, memo: verifier.cache!), now: now)
        }
        let coldParse = try median(iterations) {
            let q = try TDX.Quote(rawRepresentation: quote)
            _ = try loadCollateral(q, memo: TDX.QuoteVerifier(cache: .perVerification()).cache!)
        }
        let warmVerifier = TDX.QuoteVerifier(cache: VerificationCache())
        _ = try warmVerifier.verify(q0, collateral: collateral, now: now)
        let warm = try median(iterations) {
            _ = try warmVerifier.verify(TDX.Quote(rawRepresentation: quote), collateral: collateral, now: now)
        }
        let key = try P256.Signing.PublicKey(rawRepresentation: q0.attestationKey.bytes)
        let sig = try P256.Signing.ECDSASignature(rawRepresentation: q0.signature.bytes)
        let data = q0.signedBytes
        let p256 = try median(iterations) {
            guard key.isValidSignature(sig, for: data) else { throw AttestationError(.quoteSignatureInvalid, "baseline verify failed") }
        }
        return TDXVerifyResult(coldMicros: cold, coldParseMicros: coldParse, warmMicros: warm, p256VerifyMicros: p256, warmOverP256: warm / p256, iterations: iterations)
    }

    /// Result of ``snpVerify(report:certificateFiles:now:iterations:)`` (microseconds).
    public struct SNPVerifyResult: Sendable, Codable {
        /// Median cold verification: parse report and certificates, verify the chain and report.
        public let coldMicros: Double
        /// Median warm verification: parse the report, verify it with parsed certificates and the
        /// chain's RSA-PSS signatures cached (validity windows, names, VCEK extensions and the
        /// report's own P-384 signature checked every time).
        public let warmMicros: Double
        /// Median single raw ECDSA P-384 verify of the same report, measured in the same run.
        public let p384VerifyMicros: Double
        /// warmMicros / p384VerifyMicros.
        public let warmOverP384: Double
        /// Iterations per figure.
        public let iterations: Int
    }

    /// Times SEV-SNP report verification. Throws if the report does not verify.
    public static func snpVerify(report: [UInt8], certificateFiles: [[UInt8]], now: Date, iterations: Int) throws -> SNPVerifyResult {
        let r0 = try SEVSNP.Report(rawRepresentation: report)
        let bundle = try SEVSNP.CertificateBundle(files: certificateFiles)
        let warmVerifier = SEVSNP.ReportVerifier(cache: VerificationCache())
        _ = try warmVerifier.verify(r0, certificates: bundle, now: now)
        let cold = try median(iterations) {
            _ = try SEVSNP.ReportVerifier().verify(SEVSNP.Report(rawRepresentation: report), certificates: SEVSNP.CertificateBundle(files: certificateFiles), now: now)
        }
        let warm = try median(iterations) {
            _ = try warmVerifier.verify(SEVSNP.Report(rawRepresentation: report), certificates: bundle, now: now)
        }
        let key = try P384.Signing.PublicKey(derRepresentation: (bundle.vcek ?? bundle.vlek)!.subjectPublicKeyInfo)
        let sig = try P384.Signing.ECDSASignature(rawRepresentation: Array(r0.signatureR.bytes[..<48].reversed()) + Array(r0.signatureS.bytes[..<48].reversed()))
        let data = r0.signedBytes
        let p384 = try median(iterations) {
            guard key.isValidSignature(sig, for: data) else { throw AttestationError(.reportSignatureInvalid, "baseline verify failed") }
        }
        return SNPVerifyResult(coldMicros: cold, warmMicros: warm, p384VerifyMicros: p384, warmOverP384: warm / p384, iterations: iterations)
    }

    /// Result of ``tpmVerify(evidence:eventLog:iterations:)`` (microseconds).
    public struct TPMVerifyResult: Sendable, Codable {
        /// Median cold verification: parse TPMS_ATTEST, TPMT_SIGNATURE and the AK, verify the
        /// signature, the PCR digest and the nonce (and replay the event log, if given).
        public let coldMicros: Double
        /// Median warm verification: as cold, with the parsed AK reused (a node quotes with one AK).
        public let verifyMicros: Double
        /// Median single raw AK signature verify over the same TPMS_ATTEST (key parsed once).
        public let akVerifyMicros: Double
        /// verifyMicros / akVerifyMicros.
        public let verifyOverAKVerify: Double
        /// Iterations per figure.
        public let iterations: Int
    }

    /// Times TPM quote verification against one raw AK-signature verify. Throws if the quote
    /// does not verify.
    public static func tpmVerify(evidence: EvidenceBundle.TPMEvidence, eventLog: [UInt8]?, iterations: Int) throws -> TPMVerifyResult {
        let verifier = TPM.QuoteVerifier(cache: VerificationCache())
        let nonce = ExpectedNonce.exactly(try TPM.Attest(rawRepresentation: [UInt8](evidence.attest)).extraData)
        let now = Date()
        _ = try verifier.verify(evidence, eventLog: eventLog, expectedNonce: nonce, now: now)
        let cold = try median(iterations) { _ = try TPM.QuoteVerifier().verify(evidence, eventLog: eventLog, expectedNonce: nonce, now: now) }
        let full = try median(iterations) { _ = try verifier.verify(evidence, eventLog: eventLog, expectedNonce: nonce, now: now) }
        let ak = try TPM.PublicKey(bytes: [UInt8](evidence.akPublic))
        let sig = try TPM.Signature(rawRepresentation: [UInt8](evidence.signature))
        let attest = [UInt8](evidence.attest)
        let raw = try median(iterations) {
            guard ak.isValid(sig, over: attest) else { throw AttestationError(.quoteSignatureInvalid, "baseline verify failed") }
        }
        return TPMVerifyResult(coldMicros: cold, verifyMicros: full, akVerifyMicros: raw, verifyOverAKVerify: full / raw, iterations: iterations)
    }

    /// Median wall time of `body` in microseconds over `n` runs.
    public static func median(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
        var samples = [Double]()
        samples.reserveCapacity(n)
        for _ in 0..<n {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
