import Attestation
import ByteEncoding
import CTSS2
import Crypto
import Foundation

/// Produces TPM 2.0 evidence through the tss2 ESAPI (libtss2-esys): an attestation key, workload
/// events extended into a PCR (23 by default) and logged, and quotes over chosen PCRs with a
/// caller's nonce, returned as a self-contained ``EvidenceBundle``.
///
/// Talks to any TCTI the tss2 loader knows: `swtpm:host=127.0.0.1,port=2321` for swtpm (the
/// `mssim:` TCTI does not work with swtpm), `device:/dev/tpmrm0` for a real (v)TPM. The AK is an
/// ECC P-256 restricted signing key created as a primary under the owner hierarchy, so the same
/// TPM seed always yields the same AK ("create or load"). Every transient handle is flushed.
///
/// The event log covers only this producer's extends: it must be the only writer of its PCR
/// since the TPM was reset, or replay will not match (which fails closed).
public actor TPMEvidenceProducer {
    private var context: OpaquePointer?
    private var tcti: OpaquePointer?
    private var ak: ESYS_TR = ESYS_TR(ESYS_TR_NONE)
    private var akPublic: [UInt8] = []
    private var log = CryptoAgileLogWriter()
    /// The PCR workload events are extended into.
    public let workloadPCR: Int

    /// Connects to the TPM behind `tcti` and starts it if needed. Throws
    /// ``ProviderNodeError/Code/tpmUnavailable``.
    public init(tcti configuration: String = "swtpm:host=127.0.0.1,port=2321", workloadPCR: Int = WorkloadEvent.tpmPCR) throws(ProviderNodeError) {
        guard (0...23).contains(workloadPCR) else { throw ProviderNodeError(.invalidArgument, "PCR \(workloadPCR) is not 0…23") }
        self.workloadPCR = workloadPCR
        var t: OpaquePointer?
        var rc = Tss2_TctiLdr_Initialize(configuration, &t)
        guard rc == TSS2_RC_SUCCESS, let t else { throw ProviderNodeError(.tpmUnavailable, "cannot open TCTI \(configuration): \(Self.decode(rc))") }
        var ctx: OpaquePointer?
        rc = Esys_Initialize(&ctx, t, nil)
        guard rc == TSS2_RC_SUCCESS, let ctx else {
            var tt: OpaquePointer? = t
            Tss2_TctiLdr_Finalize(&tt)
            throw ProviderNodeError(.tpmUnavailable, "Esys_Initialize: \(Self.decode(rc))")
        }
        rc = Esys_Startup(ctx, TPM2_SU(TPM2_SU_CLEAR))
        if rc != TSS2_RC_SUCCESS && rc != licen_rc_initialize() {
            var c: OpaquePointer? = ctx
            Esys_Finalize(&c)
            var tt: OpaquePointer? = t
            Tss2_TctiLdr_Finalize(&tt)
            throw ProviderNodeError(.tpmUnavailable, "TPM2_Startup: \(Self.decode(rc))")
        }
        context = ctx
        tcti = t
    }

    /// Releases the AK handle and the connection. Safe to call twice.
    public func close() {
        if let ctx = context {
            if ak != ESYS_TR(ESYS_TR_NONE) { _ = Esys_FlushContext(ctx, ak) }
            var c: OpaquePointer? = ctx
            Esys_Finalize(&c)
        }
        if tcti != nil { Tss2_TctiLdr_Finalize(&tcti) }
        context = nil
        tcti = nil
        ak = ESYS_TR(ESYS_TR_NONE)
    }

    /// The AK's TPMT_PUBLIC (created on first use).
    public func attestationKey() throws(ProviderNodeError) -> [UInt8] {
        try ensureAK()
        return akPublic
    }

    /// Extends a workload event into the workload PCR and logs it.
    public func measure(_ event: WorkloadEvent) throws(ProviderNodeError) {
        let ctx = try live()
        let digest = log.append(pcr: workloadPCR, type: WorkloadEvent.eventType, data: event.data)
        var values = TPML_DIGEST_VALUES()
        digest.withUnsafeBufferPointer { licen_sha256_digest_values(&values, $0.baseAddress) }
        let rc = Esys_PCR_Extend(ctx, ESYS_TR(ESYS_TR_PCR0) + ESYS_TR(workloadPCR), ESYS_TR(ESYS_TR_PASSWORD), ESYS_TR(ESYS_TR_NONE), ESYS_TR(ESYS_TR_NONE), &values)
        try Self.check(rc, "PCR_Extend(\(workloadPCR))")
    }

    /// Quotes the SHA-256 bank of `pcrs` with `nonce` (at most 64 bytes) as extraData, and
    /// returns everything a verifier needs in one bundle.
    public func quote(nonce: [UInt8], pcrs: [Int] = [0, 1, 2, 3, 4, 5, 6, 7, 23]) throws(ProviderNodeError) -> EvidenceBundle {
        guard nonce.count <= 64 else { throw ProviderNodeError(.invalidArgument, "nonce is \(nonce.count) bytes; at most 64") }
        guard !pcrs.isEmpty, pcrs.allSatisfy({ (0...23).contains($0) }) else { throw ProviderNodeError(.invalidArgument, "PCR indices must be 0…23") }
        try ensureAK()
        let ctx = try live()
        let mask = pcrs.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
        var selection = TPML_PCR_SELECTION()
        licen_pcr_selection(&selection, TPMI_ALG_HASH(TPM2_ALG_SHA256), mask)
        var qualifying = TPM2B_DATA()
        _ = nonce.withUnsafeBufferPointer { licen_set_data(&qualifying, $0.baseAddress, nonce.count) }
        var scheme = TPMT_SIG_SCHEME()
        scheme.scheme = TPMI_ALG_SIG_SCHEME(TPM2_ALG_NULL)
        var quoted: UnsafeMutablePointer<TPM2B_ATTEST>?
        var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
        var rc = Esys_Quote(ctx, ak, ESYS_TR(ESYS_TR_PASSWORD), ESYS_TR(ESYS_TR_NONE), ESYS_TR(ESYS_TR_NONE), &qualifying, &scheme, &selection, &quoted, &signature)
        defer { Esys_Free(quoted); Esys_Free(signature) }
        try Self.check(rc, "Quote")
        guard let quoted, let signature else { throw ProviderNodeError(.tpmCommandFailed, "Quote returned no data") }
        var n = 0
        let attestPtr = licen_attest_bytes(quoted, &n)
        let attest = [UInt8](UnsafeBufferPointer(start: attestPtr, count: n))
        var sigBuf = [UInt8](repeating: 0, count: MemoryLayout<TPMT_SIGNATURE>.size)
        var offset = 0
        rc = sigBuf.withUnsafeMutableBufferPointer { Tss2_MU_TPMT_SIGNATURE_Marshal(signature, $0.baseAddress, $0.count, &offset) }
        try Self.check(rc, "marshal TPMT_SIGNATURE")
        let values = try readPCRs(pcrs.sorted())
        return EvidenceBundle(
            platform: .tpm, nonce: Hex.encode(nonce), collectedAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)),
            tpm: .init(attest: Data(attest), signature: Data(sigBuf[0..<offset]), akPublic: Data(akPublic), pcrs: ["sha256": values]),
            eventLog: Data(log.bytes))
    }

    // MARK: - Internals

    private func live() throws(ProviderNodeError) -> OpaquePointer {
        guard let context else { throw ProviderNodeError(.tpmUnavailable, "the producer is closed") }
        return context
    }

    private func ensureAK() throws(ProviderNodeError) {
        guard ak == ESYS_TR(ESYS_TR_NONE) else { return }
        let ctx = try live()
        var inSensitive = TPM2B_SENSITIVE_CREATE()
        var template = TPM2B_PUBLIC()
        licen_ecc_ak_template(&template)
        var outside = TPM2B_DATA()
        var creationPCR = TPML_PCR_SELECTION()
        var handle = ESYS_TR(ESYS_TR_NONE)
        var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
        var creationData: UnsafeMutablePointer<TPM2B_CREATION_DATA>?
        var creationHash: UnsafeMutablePointer<TPM2B_DIGEST>?
        var ticket: UnsafeMutablePointer<TPMT_TK_CREATION>?
        let rc = Esys_CreatePrimary(
            ctx, ESYS_TR(ESYS_TR_RH_OWNER), ESYS_TR(ESYS_TR_PASSWORD), ESYS_TR(ESYS_TR_NONE), ESYS_TR(ESYS_TR_NONE),
            &inSensitive, &template, &outside, &creationPCR, &handle, &outPublic, &creationData, &creationHash, &ticket)
        defer { Esys_Free(outPublic); Esys_Free(creationData); Esys_Free(creationHash); Esys_Free(ticket) }
        try Self.check(rc, "CreatePrimary(AK)")
        guard let outPublic else { throw ProviderNodeError(.tpmCommandFailed, "CreatePrimary returned no public area") }
        var buf = [UInt8](repeating: 0, count: MemoryLayout<TPMT_PUBLIC>.size)
        var offset = 0
        let m = withUnsafePointer(to: &outPublic.pointee.publicArea) { area in
            buf.withUnsafeMutableBufferPointer { Tss2_MU_TPMT_PUBLIC_Marshal(area, $0.baseAddress, $0.count, &offset) }
        }
        try Self.check(m, "marshal TPMT_PUBLIC")
        akPublic = Array(buf[0..<offset])
        ak = handle
    }

    private func readPCRs(_ indices: [Int]) throws(ProviderNodeError) -> [String: String] {
        let ctx = try live()
        var out = [String: String]()
        // PCR_Read returns at most 8 digests per call.
        var i = 0
        while i < indices.count {
            let chunk = Array(indices[i..<min(i + 8, indices.count)])
            var selection = TPML_PCR_SELECTION()
            licen_pcr_selection(&selection, TPMI_ALG_HASH(TPM2_ALG_SHA256), chunk.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) })
            var counter: UInt32 = 0
            var selOut: UnsafeMutablePointer<TPML_PCR_SELECTION>?
            var values: UnsafeMutablePointer<TPML_DIGEST>?
            let rc = Esys_PCR_Read(ctx, ESYS_TR(ESYS_TR_NONE), ESYS_TR(ESYS_TR_NONE), ESYS_TR(ESYS_TR_NONE), &selection, &counter, &selOut, &values)
            defer { Esys_Free(selOut); Esys_Free(values) }
            try Self.check(rc, "PCR_Read")
            guard let values, licen_digest_count(values) == UInt32(chunk.count) else {
                throw ProviderNodeError(.tpmCommandFailed, "PCR_Read returned the wrong number of values")
            }
            for (k, index) in chunk.enumerated() {
                var n = 0
                let p = licen_digest_bytes(licen_digest_at(values, UInt32(k)), &n)
                out[String(index)] = Hex.encode(UnsafeBufferPointer(start: p, count: n))
            }
            i += 8
        }
        return out
    }

    private static func check(_ rc: TSS2_RC, _ what: String) throws(ProviderNodeError) {
        guard rc == TSS2_RC_SUCCESS else { throw ProviderNodeError(.tpmCommandFailed, "\(what): \(decode(rc))") }
    }

    private static func decode(_ rc: TSS2_RC) -> String {
        String(cString: Tss2_RC_Decode(rc))
    }
}
