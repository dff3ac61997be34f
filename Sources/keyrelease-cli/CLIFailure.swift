import ArgumentParser
import Attestation
import AttestationCollateral
import Chain
import DatasetCrypto
import Foundation
import KeyRelease
import ZeroG

/// A failure a subcommand reports: its exit status in README's contract (1 rejected, 2 evidence
/// invalid, 3 usage, I/O or collateral), a stable code and an operator-facing message.
/// `KeyReleaseCommand.main` prints it as one line on stderr and, with `--json`, as one JSON
/// object on stdout.
struct CLIFailure: Error, Sendable {
    /// Process exit status (1, 2 or 3).
    let status: Int32
    /// Stable code: `usage`, `io`, or the library error's code.
    let code: String
    /// What went wrong, for the operator.
    let message: String

    /// A usage problem (exit 3): a bad flag, a flag for another platform, a refused output path.
    static func usage(_ message: String) -> CLIFailure { CLIFailure(status: 3, code: "usage", message: message) }

    /// An unreadable input or unwritable output (exit 3).
    static func io(_ message: String) -> CLIFailure { CLIFailure(status: 3, code: "io", message: message) }

    /// Evidence that does not parse or verify (exit 2).
    static func invalidEvidence(_ code: String, _ message: String) -> CLIFailure { CLIFailure(status: 2, code: code, message: message) }

    init(status: Int32, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The failure any error thrown by a subcommand stands for. Why the defaults: an attestation
    /// error escaping a subcommand comes from parsing or verifying evidence (2) unless its code
    /// says the collateral was missing or unusable (3); every other module's error is about
    /// configuration, stores, files or the network (3). Nothing maps to 0 or 1.
    init(_ error: any Error) {
        switch error {
        case let f as CLIFailure: self = f
        case let e as ValidationError: self = .usage(e.message)
        case let e as AttestationError:
            self.init(status: VerificationReport.usageCodes.contains(e.code.rawValue) ? 3 : 2, code: e.code.rawValue, message: e.message)
        case let e as KeyReleaseError: self.init(status: 3, code: e.code.rawValue, message: e.message)
        case let e as ZeroGError: self.init(status: 3, code: e.code.rawValue, message: e.message)
        case let e as DatasetCryptoError: self.init(status: 3, code: e.code.rawValue, message: e.message)
        case let e as ChainError: self.init(status: 3, code: e.code.rawValue, message: e.message)
        default: self = .io(ErrorDescription.describe(error))
        }
    }

    /// This failure with the operator's hint for its code (``OperatorHint``) appended.
    var withHint: CLIFailure {
        CLIFailure(status: status, code: code, message: OperatorHint.message(message, code: code, platform: nil))
    }

    /// The message on one line: line breaks and other control characters (a binary file quoted
    /// back by a parser) become spaces, so the contract "one line on stderr" holds.
    var oneLineMessage: String {
        String(String.UnicodeScalarView(message.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}
