import ByteEncoding
import Chain
import Foundation

/// Offline verification of the whole audit chain (`keyrelease audit verify --store …`): every
/// record's hash matches its contents, sequences run 1, 2, 3 … without a gap and with nothing
/// numbered before 1, and each record names the previous one's hash (the first names 32 zero
/// bytes). Any edit, deletion or insertion in the stored rows breaks one of these. A row
/// numbered `Int64.min` is beyond ``ReleaseStore/auditRecords(afterSequence:limit:)`` (strictly
/// after), but the store never serves a row numbered below 1 as a record either. As for any hash
/// chain without an outside anchor, records cut from the end or a tail rewritten wholesale are
/// not detected here.
public enum AuditChain {
    /// What a verified chain holds.
    public struct Summary: Sendable, Hashable, Codable {
        /// Number of records.
        public let records: Int64
        /// `0x`-hex hash of the last record (the head), nil for an empty chain.
        public let head: String?
        /// Releases among them.
        public let released: Int64
        /// Refusals among them.
        public let refused: Int64
    }

    /// Walks the store's chain page by page, `pageSize` records a page (default 500; values below
    /// 1 read as 1). Throws `.auditChainBroken` naming the first bad record, or the store's own
    /// errors. Fails closed: a record it cannot place in the chain is a break.
    public static func verify(_ store: any ReleaseStore, pageSize: Int = 500) async throws(KeyReleaseError) -> Summary {
        let pageSize = max(pageSize, 1)  // a page of 0 would read nothing, forever
        var expected: Int64 = 1
        var previous = AuditRecord.genesis
        var released: Int64 = 0
        var refused: Int64 = 0
        // Why from below 1, not from `afterSequence: 0`: a row numbered 0 or less would never be
        // read, yet `auditRecord(hash:)` (GET /v1/audit/{ref}) serves it as a genuine record.
        var after = Int64.min
        while true {
            let page = try await store.auditRecords(afterSequence: after, limit: pageSize)
            for r in page {
                guard r.sequence >= 1 else { throw KeyReleaseError(.auditChainBroken, "a record is numbered \(r.sequence), before the first (1)") }
                guard r.sequence == expected else { throw KeyReleaseError(.auditChainBroken, "record \(expected) is missing (found \(r.sequence) next)") }
                guard r.previousHash == previous else {
                    throw KeyReleaseError(.auditChainBroken, "record \(r.sequence) names previous hash \(Hex.prefixed(r.previousHash)), the chain has \(Hex.prefixed(previous))")
                }
                guard r.hashIsConsistent else { throw KeyReleaseError(.auditChainBroken, "record \(r.sequence): its contents do not hash to its stored hash \(Hex.prefixed(r.hash))") }
                if r.draft.outcome == "released" { released += 1 } else { refused += 1 }
                previous = r.hash
                expected += 1
            }
            if page.count < pageSize { break }
            after = expected - 1
        }
        return Summary(records: expected - 1, head: expected == 1 ? nil : Hex.prefixed(previous), released: released, refused: refused)
    }
}
