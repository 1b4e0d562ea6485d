import CPodSync
import Glibc
import PodSyncCore

/// A failure the command reports as `podsync COMMAND: message` with a non-zero exit.
struct Failure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Buffered standard output (one write per 64 KiB).
final class Output {
    private var buffer: [UInt8] = []
    private let fd: Int32

    init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    deinit { flush() }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func line(_ text: String) {
        write(text)
        buffer.append(10)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var done = 0
        buffer.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // a closed pipe: nothing more can be shown
                }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writes a line to standard error at once.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.append(10)
    bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress!, $0.count) }
}

// MARK: JSON

/// A JSON value whose objects keep their keys in the order given (output is deterministic).
indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    /// A number already formatted as JSON.
    case number(String)
    case bool(Bool)
    case null

    static func int<T: BinaryInteger>(_ value: T) -> JSON { .number(String(value)) }
    /// A 64-bit hash, id or digest as 16 hex digits.
    static func hex(_ value: UInt64) -> JSON { .string(hex16(value)) }

    var text: String {
        var out = ""
        render(into: &out)
        return out
    }

    func render(into out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                out += jsonQuoted(key)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .string(let s): out += jsonQuoted(s)
        case .number(let n): out += n
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }
}

func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let digits = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    var out = "\""
    for c in s {
        if c == "\"" { out += "\"\"" } else { out.append(c) }
    }
    return out + "\""
}

// MARK: Numbers and names

func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

func hexBytes(_ p: UnsafeRawPointer, _ count: Int) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(2 * count)
    for i in 0..<count {
        let b = p.load(fromByteOffset: i, as: UInt8.self)
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// `value` with `places` decimals, rounded half up (no Foundation).
func fixed(_ value: Double, places: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return value.description }
    let n = UInt64(scaled)
    let unit = UInt64(scale)
    var fraction = String(n % unit)
    fraction = String(repeating: "0", count: places - fraction.count) + fraction
    return (value < 0 && n != 0 ? "-" : "") + String(n / unit) + (places > 0 ? "." + fraction : "")
}

/// The name podsync_status_name gives a status.
func statusName(_ code: Int32) -> String { Status.name(code).description }

func flagNames(_ flags: UInt32) -> [String] {
    var names: [String] = []
    if flags & FrameLayout.flagReset != 0 { names.append("RESET") }
    if flags & FrameLayout.flagHasDigest != 0 { names.append("HAS_DIGEST") }
    if flags & FrameLayout.flagChunk != 0 { names.append("CHUNK") }
    if flags & FrameLayout.flagRepair != 0 { names.append("REPAIR") }
    if flags & FrameLayout.flagSummary != 0 { names.append("SUMMARY") }
    let known = FrameLayout.flagReset | FrameLayout.flagHasDigest | FrameLayout.flagChunk | FrameLayout.flagRepair | FrameLayout.flagSummary
    let unknown = flags & ~known
    if unknown != 0 { names.append("0x" + String(unknown, radix: 16)) }
    return names
}

func transformNames(_ transforms: UInt8) -> [String] {
    var names: [String] = []
    if transforms & FrameLayout.transformXOR != 0 { names.append("XOR") }
    if transforms & FrameLayout.transformTranspose != 0 { names.append("TRANSPOSE") }
    if transforms & FrameLayout.transformKeyGaps != 0 { names.append("KEY_GAPS") }
    if transforms & FrameLayout.transformColumns != 0 { names.append("COLUMNS") }
    if transforms & FrameLayout.transformFields != 0 { names.append("FIELDS") }
    if transforms & FrameLayout.transformKeyRanks != 0 { names.append("KEY_RANKS") }
    let unknown = transforms & ~UInt8(0x3F)
    if unknown != 0 { names.append("0x" + String(unknown, radix: 16)) }
    return names
}

func codecName(_ codec: UInt8) -> String {
    switch codec {
    case FrameLayout.codecNone: "none"
    case FrameLayout.codecZstd: "zstd"
    default: "codec \(codec)"
    }
}

/// "1 put", "3 puts".
func counted(_ n: some BinaryInteger, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : (plural ?? singular + "s"))"
}
