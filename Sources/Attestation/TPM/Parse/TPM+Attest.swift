extension TPM {
    /// One TPMS_PCR_SELECTION: a bank and the PCR indices it selects.
    public struct PCRSelection: Sendable, Hashable {
        /// The bank's hash algorithm.
        public let bank: Alg
        /// Selected PCR indices, ascending.
        public let indices: [Int]
    }

    /// A parsed TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (Part 2, §10.12.12), with the exact bytes
    /// the AK signed.
    public struct Attest: Sendable {
        /// The signed bytes.
        public let rawBytes: [UInt8]
        /// TPM2B_NAME of the signing key.
        public let qualifiedSigner: [UInt8]
        /// The caller's nonce (qualifyingData).
        public let extraData: [UInt8]
        /// TPMS_CLOCK_INFO.clock (ms).
        public let clock: UInt64
        /// TPMS_CLOCK_INFO.resetCount.
        public let resetCount: UInt32
        /// TPMS_CLOCK_INFO.restartCount.
        public let restartCount: UInt32
        /// TPMS_CLOCK_INFO.safe.
        public let safe: Bool
        /// The TPM firmware version.
        public let firmwareVersion: UInt64
        /// The quoted PCR selection.
        public let selection: [PCRSelection]
        /// The digest over the selected PCR values.
        public let pcrDigest: [UInt8]

        /// Parses TPMS_ATTEST bytes. Every truncation is ``AttestationError/Code/truncated``; a
        /// wrong magic or type is ``AttestationError/Code/malformed``. Trailing bytes are refused:
        /// the signature covers exactly the structure.
        public init(rawRepresentation bytes: [UInt8]) throws(AttestationError) {
            var r = ByteReader(bytes)
            guard try r.u32be("magic") == TPM.generatedValue else { throw AttestationError(.malformed, "TPMS_ATTEST magic is not TPM_GENERATED_VALUE") }
            let type = try r.u16be("type")
            guard type == TPM.attestQuote else { throw AttestationError(.malformed, "TPMS_ATTEST type 0x\(String(type, radix: 16)) is not TPM_ST_ATTEST_QUOTE") }
            qualifiedSigner = try r.tpm2b("qualifiedSigner")
            extraData = try r.tpm2b("extraData")
            clock = try r.u64be("clock")
            resetCount = try r.u32be("resetCount")
            restartCount = try r.u32be("restartCount")
            safe = try r.read(1, "safe")[0] != 0
            firmwareVersion = try r.u64be("firmwareVersion")
            selection = try TPM.readSelection(&r, bigEndian: true)
            pcrDigest = try r.tpm2b("pcrDigest")
            guard r.remaining == 0 else { throw AttestationError(.malformed, "\(r.remaining) bytes after TPMS_ATTEST") }
            rawBytes = bytes
        }
    }

    /// Reads a TPML_PCR_SELECTION (count, then hash, sizeofSelect, bitmap per bank).
    static func readSelection(_ r: inout ByteReader, bigEndian: Bool) throws(AttestationError) -> [PCRSelection] {
        let count = try bigEndian ? r.u32be("selection count") : r.u32("selection count")
        guard count <= 16 else { throw AttestationError(.malformed, "PCR selection lists \(count) banks") }
        var out = [PCRSelection]()
        for _ in 0..<count {
            let hash = try bigEndian ? r.u16be("selection hash") : r.u16("selection hash")
            guard let bank = Alg(rawValue: hash), bank.bankName != nil else {
                throw AttestationError(.unsupportedAlgorithm, "PCR bank algorithm 0x\(String(hash, radix: 16)) is not supported")
            }
            let size = Int(try r.read(1, "sizeofSelect")[0])
            let bitmap = try r.read(size, "pcrSelect")
            var indices = [Int]()
            for (byte, bits) in bitmap.enumerated() { for bit in 0..<8 where bits & (1 << bit) != 0 { indices.append(byte * 8 + bit) } }
            out.append(PCRSelection(bank: bank, indices: indices))
        }
        return out
    }
}
