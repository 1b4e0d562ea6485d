import CPodSync
import PodSyncCore

/// Size of a podsync_metrics of each struct version (fields are only appended).
func metricsSize(_ version: UInt32) -> Int {
    switch version {
    case 1: 904  // ends before saved_by_zero_columns
    case 2: 936  // ends before chunks_out
    default: MemoryLayout<podsync_metrics>.size
    }
}

/// Longest label set accepted, in bytes (include/podsync.h).
let maxPrometheusLabels = 4096
/// Label names the output uses itself.
let reservedPrometheusLabels: Set<String> = ["le", "by", "status"]

@c @implementation
public func podsync_metrics_prometheus(
    _ metrics: UnsafePointer<podsync_metrics>!, _ labels: UnsafePointer<CChar>!, _ buffer: UnsafeMutablePointer<CChar>!,
    _ capacity: Int, _ size_out: UnsafeMutablePointer<Int>!
) -> Int32 {
    // No handle: an error is the thread's last error (frameCall).
    frameCall { () throws(PodSyncError) in
        let metrics = try required(metrics, "metrics")
        let sizeOut = try required(size_out, "size_out")
        guard capacity >= 0 else { throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "capacity is negative") }
        guard buffer != nil || capacity == 0 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "buffer is NULL but capacity is \(capacity)")
        }
        // An older caller's struct ends before the fields appended since: read only what it has.
        let version = UnsafeRawPointer(metrics).load(as: UInt32.self)
        guard version >= 1 else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "metrics.version must be 1 or more (PODSYNC_METRICS_VERSION)")
        }
        var m = podsync_metrics()
        withUnsafeMutableBytes(of: &m) { $0.baseAddress!.copyMemory(from: UnsafeRawPointer(metrics), byteCount: metricsSize(version)) }
        var formatter = PrometheusText(labels: try prometheusLabels(labels), metrics: m, version: version)
        let text = formatter.render()
        sizeOut.pointee = text.count + 1
        guard capacity >= text.count + 1 else {
            throw PodSyncError(PODSYNC_E_BUFFER_TOO_SMALL, "the text needs \(text.count + 1) bytes, the buffer has \(capacity)")
        }
        let destination = UnsafeMutableRawPointer(try required(buffer, "buffer"))
        text.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        destination.storeBytes(of: 0, toByteOffset: text.count, as: UInt8.self)
        return PODSYNC_OK
    }
}

/// Validates a caller's preformatted label set (`a="x",b="y"`; NULL or "" for none) and returns
/// its bytes. Never reads past the NUL or past the length limit + 1.
func prometheusLabels(_ labels: UnsafePointer<CChar>?) throws(PodSyncError) -> [UInt8] {
    guard let labels else { return [] }
    var bytes: [UInt8] = []
    while labels[bytes.count] != 0 {
        guard bytes.count < maxPrometheusLabels else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels are longer than \(maxPrometheusLabels) bytes")
        }
        bytes.append(UInt8(bitPattern: labels[bytes.count]))
    }
    guard String(validating: bytes, as: UTF8.self) != nil else {
        throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels are not valid UTF-8")
    }
    func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
    func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    var names: Set<String> = []
    var i = 0
    while i < bytes.count {
        let start = i
        guard isLetter(bytes[i]) else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: byte \(i) does not start a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        }
        while i < bytes.count && (isLetter(bytes[i]) || isDigit(bytes[i])) { i += 1 }
        let name = String(decoding: bytes[start..<i], as: UTF8.self)
        if name.hasPrefix("__") {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the name \(name) starts with __, which Prometheus reserves")
        }
        if reservedPrometheusLabels.contains(name) {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the name \(name) is one the output uses itself (le, by, status)")
        }
        guard names.insert(name).inserted else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the name \(name) appears twice")
        }
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "="), bytes[i + 1] == UInt8(ascii: "\"") else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: \(name) is not followed by =\"")
        }
        i += 2
        var closed = false
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                closed = true
                i += 1
                break
            }
            if b == UInt8(ascii: "\n") {
                throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the value of \(name) holds a line break (write \\n)")
            }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count, [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "n")].contains(bytes[i + 1]) else {
                    throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the value of \(name) has a backslash not followed by \\, \" or n")
                }
                i += 2
                continue
            }
            i += 1
        }
        guard closed else {
            throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: the value of \(name) has no closing quote")
        }
        if i < bytes.count {
            guard bytes[i] == UInt8(ascii: ","), i + 1 < bytes.count else {
                throw PodSyncError(PODSYNC_E_INVALID_ARGUMENT, "labels: byte \(i) should be a comma followed by another label")
            }
            i += 1
        }
    }
    return bytes
}

/// The exposition text of one metrics struct.
struct PrometheusText {
    let labels: [UInt8]
    let metrics: podsync_metrics
    let version: UInt32
    var out: [UInt8] = []

    init(labels: [UInt8], metrics: podsync_metrics, version: UInt32) {
        self.labels = labels
        self.metrics = metrics
        self.version = version
        out.reserveCapacity(8192)
    }

    mutating func append(_ text: String) { out.append(contentsOf: text.utf8) }

    /// `{labels,extra}`, `{labels}`, `{extra}` or nothing.
    mutating func appendLabels(_ extra: String?) {
        guard !labels.isEmpty || extra != nil else { return }
        append("{")
        out.append(contentsOf: labels)
        if let extra {
            if !labels.isEmpty { append(",") }
            append(extra)
        }
        append("}")
    }

    mutating func family(_ name: String, _ type: String, _ help: String) {
        append("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n")
    }

    mutating func sample(_ name: String, _ extra: String? = nil, _ value: UInt64) {
        append(name)
        appendLabels(extra)
        append(" \(value)\n")
    }

    mutating func counter(_ name: String, _ help: String, _ value: UInt64) {
        family(name, "counter", help)
        sample(name, nil, value)
    }

    /// A log2 nanosecond histogram as a Prometheus histogram in seconds (no _sum).
    mutating func histogram(_ name: String, _ help: String, _ buckets: [UInt64]) {
        family(name, "histogram", help)
        var cumulative: UInt64 = 0
        for (i, count) in buckets.enumerated() {
            cumulative &+= count
            let le = i == buckets.count - 1 ? "+Inf" : seconds((UInt64(1) << (i + 1)) - 1)
            sample(name + "_bucket", "le=\"\(le)\"", cumulative)
        }
        sample(name + "_count", nil, cumulative)
    }

    /// Nanoseconds as exact decimal seconds: 1 -> "0.000000001", 2147483647 -> "2.147483647".
    func seconds(_ ns: UInt64) -> String {
        var fraction = String(ns % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(ns / 1_000_000_000).\(fraction)"
    }

    mutating func render() -> [UInt8] {
        let m = metrics
        let v2 = version >= 2
        counter("podsync_frames_out_total", "Frames produced by flush, delta_since and snapshot.", m.frames_out)
        counter("podsync_records_out_total", "Puts and deletes carried by the frames produced.", m.records_out)
        counter("podsync_frames_out_plain_bytes_total", "Size of the frames produced, as plain frames.", m.raw_bytes_out)
        counter("podsync_frames_out_wire_bytes_total", "Size of the frames produced, as sent (compressed where that paid).", m.wire_bytes_out)
        counter("podsync_frames_out_compressed_total", "Frames produced compressed with zstd.", m.compressed_frames)
        if v2 {
            counter("podsync_frames_out_dictionary_total", "Frames produced compressed with a zstd dictionary.", m.dictionary_frames)
        }
        family("podsync_encoder_saved_bytes_total", "counter",
               "Bytes the encoder saved: by key_gaps (KEY_GAPS transform, before compression), zero_columns (zero and sparse byte columns) and compression (zstd on the packed stream).")
        sample("podsync_encoder_saved_bytes_total", "by=\"key_gaps\"", m.saved_by_key_gaps)
        if v2 { sample("podsync_encoder_saved_bytes_total", "by=\"zero_columns\"", m.saved_by_zero_columns) }
        sample("podsync_encoder_saved_bytes_total", "by=\"compression\"", m.saved_by_compression)
        if v2 {
            counter("podsync_raw_column_bytes_total", "Bytes of byte columns sent uncompressed because zstd could not shrink them.", m.raw_column_bytes)
            counter("podsync_column_trials_total", "Times the encoder re-tested which byte columns compress.", m.column_trials)
        }
        counter("podsync_writes_total", "Records put or deleted by the writer (deletes of absent keys excluded).", m.writes)
        counter("podsync_coalesced_writes_total", "Writes absorbed by a later write to the same key before a flush.", m.coalesced_writes)
        counter("podsync_frames_applied_total", "Frames whose changes were applied.", m.frames_applied)
        counter("podsync_records_applied_total", "Puts and deletes applied.", m.records_applied)
        counter("podsync_frames_applied_wire_bytes_total", "Size of the frames applied.", m.wire_bytes_in)
        counter("podsync_frames_duplicate_total", "Frames apply found already applied (PODSYNC_DUPLICATE).", m.duplicates)
        counter("podsync_frames_gap_total", "Frames apply could not apply yet because of a gap (PODSYNC_GAP).", m.gaps)
        counter("podsync_snapshots_stale_total", "Snapshots apply ignored as older than the replica (PODSYNC_STALE).", m.stale)
        counter("podsync_resyncs_total", "Snapshots applied over an existing state.", m.resyncs)
        let rejects = withUnsafeBytes(of: m.rejects) { Array($0.bindMemory(to: UInt64.self)) }
        family("podsync_frames_rejected_total", "counter", "Apply calls that returned an error, by status.")
        for k in 1..<rejects.count {
            let name = String(cString: podsync_status_name(-Int32(k)))
            let known = name != "PODSYNC_UNKNOWN_STATUS"
            guard known || rejects[k] != 0 else { continue }
            sample("podsync_frames_rejected_total", "status=\"\(known ? name : String(-k))\"", rejects[k])
        }
        histogram("podsync_encode_duration_seconds", "Duration of flush, delta_since and snapshot calls.",
                  withUnsafeBytes(of: m.encode_ns) { Array($0.bindMemory(to: UInt64.self)) })
        histogram("podsync_apply_duration_seconds", "Duration of apply calls.",
                  withUnsafeBytes(of: m.apply_ns) { Array($0.bindMemory(to: UInt64.self)) })
        if version >= 3 {
            counter("podsync_chunks_out_total", "Snapshot chunks produced (also counted in podsync_frames_out_total).", m.chunks_out)
            counter("podsync_chunks_staged_total", "Snapshot chunks staged by apply (PODSYNC_CHUNK_STAGED).", m.chunks_staged)
            counter("podsync_chunk_gaps_total", "Snapshot chunks apply found ahead of the one expected (PODSYNC_CHUNK_GAP).", m.chunk_gaps)
            family("podsync_snapshot_held_bytes", "gauge", "Memory held by unfinished chunked snapshots (copy-on-write records, chunk buffers).")
            sample("podsync_snapshot_held_bytes", nil, m.snapshot_bytes_held)
            family("podsync_staging_held_bytes", "gauge", "Memory of a staged, unfinished chunked snapshot.")
            sample("podsync_staging_held_bytes", nil, m.staging_bytes_held)
        }
        return out
    }
}
