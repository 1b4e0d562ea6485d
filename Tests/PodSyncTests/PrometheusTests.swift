import CPodSync
import Glibc
import Testing

/// podsync_metrics_prometheus: the exposition text of a known struct line by line, label
/// validation, the size protocol, and names that follow Prometheus's rules.
@Suite struct PrometheusTests {
    /// A version-2 struct whose every counter has a distinct value.
    static func known() -> podsync_metrics {
        var m = podsync_metrics()
        m.version = UInt32(PODSYNC_METRICS_VERSION)
        m.frames_out = 1
        m.records_out = 2
        m.raw_bytes_out = 3
        m.wire_bytes_out = 4
        m.saved_by_key_gaps = 5
        m.saved_by_compression = 6
        m.compressed_frames = 7
        m.writes = 8
        m.coalesced_writes = 9
        m.frames_applied = 10
        m.records_applied = 11
        m.wire_bytes_in = 12
        m.duplicates = 13
        m.gaps = 14
        m.stale = 15
        m.resyncs = 16
        set(&m.rejects, Int(-PODSYNC_E_FRAME_CHECKSUM), 17)
        set(&m.rejects, 8, 18)  // status -8 has no name
        set(&m.encode_ns, 0, 1)   // [0, 2) ns
        set(&m.encode_ns, 3, 2)   // [8, 16) ns
        set(&m.encode_ns, 31, 4)  // 2^31 ns and longer
        set(&m.apply_ns, 10, 5)   // [1024, 2048) ns
        m.saved_by_zero_columns = 19
        m.raw_column_bytes = 20
        m.column_trials = 21
        m.dictionary_frames = 22
        m.chunks_out = 23
        m.snapshot_bytes_held = 24
        m.chunks_staged = 25
        m.chunk_gaps = 26
        m.staging_bytes_held = 27
        return m
    }

    static func set<T>(_ tuple: inout T, _ index: Int, _ value: UInt64) {
        withUnsafeMutableBytes(of: &tuple) { $0.storeBytes(of: value, toByteOffset: 8 * index, as: UInt64.self) }
    }

    /// Formats with a buffer of the size the query reports; the status of both calls must be OK.
    static func text(_ m: podsync_metrics, _ labels: String?, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        var m = m
        var size = 0
        let query = call(&m, labels, nil, 0, &size)
        expectStatus(query, PODSYNC_E_BUFFER_TOO_SMALL, "size query", sourceLocation: sourceLocation)
        var buffer = [CChar](repeating: 0x7F, count: size)
        var written = 0
        let st = call(&m, labels, &buffer, buffer.count, &written)
        expectStatus(st, PODSYNC_OK, "format", sourceLocation: sourceLocation)
        #expect(written == size && buffer.last == 0, sourceLocation: sourceLocation)
        return Self.string(buffer)
    }

    /// The NUL-terminated text in `buffer`.
    static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func call(
        _ m: UnsafePointer<podsync_metrics>?, _ labels: String?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
        _ size: UnsafeMutablePointer<Int>?
    ) -> Int32 {
        guard let labels else { return podsync_metrics_prometheus(m, nil, buffer, capacity, size) }
        return labels.withCString { podsync_metrics_prometheus(m, $0, buffer, capacity, size) }
    }

    static let counterLines = """
        # HELP podsync_frames_out_total Frames produced by flush, delta_since and snapshot.
        # TYPE podsync_frames_out_total counter
        podsync_frames_out_total{store="a",role="writer"} 1
        # HELP podsync_records_out_total Puts and deletes carried by the frames produced.
        # TYPE podsync_records_out_total counter
        podsync_records_out_total{store="a",role="writer"} 2
        # HELP podsync_frames_out_plain_bytes_total Size of the frames produced, as plain frames.
        # TYPE podsync_frames_out_plain_bytes_total counter
        podsync_frames_out_plain_bytes_total{store="a",role="writer"} 3
        # HELP podsync_frames_out_wire_bytes_total Size of the frames produced, as sent (compressed where that paid).
        # TYPE podsync_frames_out_wire_bytes_total counter
        podsync_frames_out_wire_bytes_total{store="a",role="writer"} 4
        # HELP podsync_frames_out_compressed_total Frames produced compressed with zstd.
        # TYPE podsync_frames_out_compressed_total counter
        podsync_frames_out_compressed_total{store="a",role="writer"} 7
        # HELP podsync_frames_out_dictionary_total Frames produced compressed with a zstd dictionary.
        # TYPE podsync_frames_out_dictionary_total counter
        podsync_frames_out_dictionary_total{store="a",role="writer"} 22
        # HELP podsync_encoder_saved_bytes_total Bytes the encoder saved: by key_gaps (KEY_GAPS transform, before compression), zero_columns (zero and sparse byte columns) and compression (zstd on the packed stream).
        # TYPE podsync_encoder_saved_bytes_total counter
        podsync_encoder_saved_bytes_total{store="a",role="writer",by="key_gaps"} 5
        podsync_encoder_saved_bytes_total{store="a",role="writer",by="zero_columns"} 19
        podsync_encoder_saved_bytes_total{store="a",role="writer",by="compression"} 6
        # HELP podsync_raw_column_bytes_total Bytes of byte columns sent uncompressed because zstd could not shrink them.
        # TYPE podsync_raw_column_bytes_total counter
        podsync_raw_column_bytes_total{store="a",role="writer"} 20
        # HELP podsync_column_trials_total Times the encoder re-tested which byte columns compress.
        # TYPE podsync_column_trials_total counter
        podsync_column_trials_total{store="a",role="writer"} 21
        # HELP podsync_writes_total Records put or deleted by the writer (deletes of absent keys excluded).
        # TYPE podsync_writes_total counter
        podsync_writes_total{store="a",role="writer"} 8
        # HELP podsync_coalesced_writes_total Writes absorbed by a later write to the same key before a flush.
        # TYPE podsync_coalesced_writes_total counter
        podsync_coalesced_writes_total{store="a",role="writer"} 9
        # HELP podsync_frames_applied_total Frames whose changes were applied.
        # TYPE podsync_frames_applied_total counter
        podsync_frames_applied_total{store="a",role="writer"} 10
        # HELP podsync_records_applied_total Puts and deletes applied.
        # TYPE podsync_records_applied_total counter
        podsync_records_applied_total{store="a",role="writer"} 11
        # HELP podsync_frames_applied_wire_bytes_total Size of the frames applied.
        # TYPE podsync_frames_applied_wire_bytes_total counter
        podsync_frames_applied_wire_bytes_total{store="a",role="writer"} 12
        # HELP podsync_frames_duplicate_total Frames apply found already applied (PODSYNC_DUPLICATE).
        # TYPE podsync_frames_duplicate_total counter
        podsync_frames_duplicate_total{store="a",role="writer"} 13
        # HELP podsync_frames_gap_total Frames apply could not apply yet because of a gap (PODSYNC_GAP).
        # TYPE podsync_frames_gap_total counter
        podsync_frames_gap_total{store="a",role="writer"} 14
        # HELP podsync_snapshots_stale_total Snapshots apply ignored as older than the replica (PODSYNC_STALE).
        # TYPE podsync_snapshots_stale_total counter
        podsync_snapshots_stale_total{store="a",role="writer"} 15
        # HELP podsync_resyncs_total Snapshots applied over an existing state.
        # TYPE podsync_resyncs_total counter
        podsync_resyncs_total{store="a",role="writer"} 16
        # HELP podsync_frames_rejected_total Apply calls that returned an error, by status.
        # TYPE podsync_frames_rejected_total counter
        podsync_frames_rejected_total{store="a",role="writer",status="PODSYNC_E_INVALID_ARGUMENT"} 0
        """

    @Test func exactLinesOfAKnownStruct() {
        let text = Self.text(Self.known(), #"store="a",role="writer""#)
        #expect(text.hasPrefix(Self.counterLines + "\n"), "\(text)")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.last == "", "the text ends with a line break")
        for line in [
            #"podsync_frames_rejected_total{store="a",role="writer",status="PODSYNC_E_FRAME_CHECKSUM"} 17"#,
            #"podsync_frames_rejected_total{store="a",role="writer",status="-8"} 18"#,
            #"podsync_frames_rejected_total{store="a",role="writer",status="PODSYNC_E_LIMIT"} 0"#,
            #"podsync_chunks_out_total{store="a",role="writer"} 23"#,
            "# TYPE podsync_snapshot_held_bytes gauge",
            #"podsync_snapshot_held_bytes{store="a",role="writer"} 24"#,
            #"podsync_chunks_staged_total{store="a",role="writer"} 25"#,
            #"podsync_chunk_gaps_total{store="a",role="writer"} 26"#,
            #"podsync_staging_held_bytes{store="a",role="writer"} 27"#,
            "# HELP podsync_encode_duration_seconds Duration of flush, delta_since and snapshot calls.",
            "# TYPE podsync_encode_duration_seconds histogram",
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="0.000000001"} 1"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="0.000000003"} 1"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="0.000000007"} 1"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="0.000000015"} 3"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="0.000001023"} 3"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="1.073741823"} 3"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="2.147483647"} 3"#,
            #"podsync_encode_duration_seconds_bucket{store="a",role="writer",le="+Inf"} 7"#,
            #"podsync_encode_duration_seconds_count{store="a",role="writer"} 7"#,
            "# HELP podsync_apply_duration_seconds Duration of apply calls.",
            "# TYPE podsync_apply_duration_seconds histogram",
            #"podsync_apply_duration_seconds_bucket{store="a",role="writer",le="0.000001023"} 0"#,
            #"podsync_apply_duration_seconds_bucket{store="a",role="writer",le="0.000002047"} 5"#,
            #"podsync_apply_duration_seconds_bucket{store="a",role="writer",le="+Inf"} 5"#,
            #"podsync_apply_duration_seconds_count{store="a",role="writer"} 5"#,
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        // Every named error status from -1 to -31, and the unnamed one counted.
        let rejected = lines.filter { $0.hasPrefix("podsync_frames_rejected_total{") }
        let named = allStatuses.filter { $0.code < 0 && $0.code > -32 }
        #expect(rejected.count == named.count + 1)
        // 32 buckets per histogram (31 finite, +Inf) and a _count; no _sum (not derivable).
        #expect(lines.filter { $0.hasPrefix("podsync_encode_duration_seconds_bucket{") }.count == 32)
        #expect(lines.filter { $0.hasPrefix("podsync_apply_duration_seconds_bucket{") }.count == 32)
        #expect(!text.contains("_sum"))
        // The last line of the text.
        #expect(lines[lines.count - 2] == #"podsync_staging_held_bytes{store="a",role="writer"} 27"#)
        #expect(lines.contains(#"podsync_apply_duration_seconds_count{store="a",role="writer"} 5"#))
    }

    @Test func withoutLabelsSamplesHaveNoBraces() {
        for labels in [nil, ""] as [String?] {
            let text = Self.text(Self.known(), labels)
            #expect(text.contains("\npodsync_frames_out_total 1\n"))
            #expect(text.contains("\npodsync_encoder_saved_bytes_total{by=\"key_gaps\"} 5\n"))
            #expect(text.contains("\npodsync_encode_duration_seconds_bucket{le=\"+Inf\"} 7\n"))
            #expect(text.contains("\npodsync_encode_duration_seconds_count 7\n"))
        }
    }

    /// A version-1 struct (904 bytes) is read only as far as it goes: no version-2 metrics.
    @Test func versionOneStructsLeaveOutVersionTwoFields() {
        var m = Self.known()
        m.version = 1
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 904, alignment: 8)
        defer { raw.deallocate() }
        withUnsafeBytes(of: &m) { raw.copyMemory(from: $0.baseAddress!, byteCount: 904) }
        let p = raw.assumingMemoryBound(to: podsync_metrics.self)
        var size = 0
        expectStatus(podsync_metrics_prometheus(p, nil, nil, 0, &size), PODSYNC_E_BUFFER_TOO_SMALL)
        var buffer = [CChar](repeating: 0, count: size)
        expectStatus(podsync_metrics_prometheus(p, nil, &buffer, size, &size), PODSYNC_OK)
        let text = Self.string(buffer)
        for absent in ["podsync_frames_out_dictionary_total", "zero_columns\"", "podsync_raw_column_bytes_total", "podsync_column_trials_total"] {
            #expect(!text.contains(absent), "\(absent)")
        }
        #expect(text.contains("\npodsync_frames_out_total 1\n"))
        #expect(text.contains("\npodsync_apply_duration_seconds_count 5\n"))
    }

    @Test func labelsAreValidated() {
        let good = [
            #"a="x""#, #"_a1="""#, #"store="a",role="writer""#, #"path="C:\\dir",quote="say \"hi\"",nl="1\n2""#,
            "city=\"Zürich\"",
        ]
        for labels in good {
            let text = Self.text(Self.known(), labels)
            #expect(text.contains("\npodsync_frames_out_total{\(labels)} 1\n"), "\(labels)")
        }
        let bad: [(String, String)] = [
            (#"1a="x""#, "does not start a label name"),
            (#"a b="x""#, "is not followed by"),
            (#"a="x"#, "no closing quote"),
            (#"a=x"#, "is not followed by"),
            (#"a="x","#, "comma followed by another label"),
            (#"a="x" ,b="y""#, "comma followed by another label"),
            (#"a="x"b="y""#, "comma followed by another label"),
            (#"a="x",a="y""#, "appears twice"),
            (#"__name__="x""#, "starts with __"),
            (#"le="1""#, "output uses itself"),
            (#"status="1""#, "output uses itself"),
            (#"by="1""#, "output uses itself"),
            (#"a="x\y""#, "backslash"),
            ("a=\"x\ny\"", "line break"),
            (#",a="x""#, "does not start a label name"),
            (#"a-b="x""#, "is not followed by"),
            (#"a:b="x""#, "is not followed by"),
            (String(repeating: "a", count: 4097) + #"="x""#, "longer than 4096"),
        ]
        var m = Self.known()
        for (labels, message) in bad {
            var size = -1
            var buffer = [CChar](repeating: 0x7F, count: 1 << 16)
            let st = Self.call(&m, labels, &buffer, buffer.count, &size)
            expectStatus(st, PODSYNC_E_INVALID_ARGUMENT, labels)
            let last = String(cString: podsync_last_errmsg())
            #expect(last.contains(message), "\(labels): \(last)")
            #expect(buffer.allSatisfy { $0 == 0x7F }, "nothing written for \(labels)")
        }
        // Invalid UTF-8 in a value.
        let bytes: [CChar] = Array(#"a=""#.utf8CString.dropLast()) + [CChar(bitPattern: 0xC3), 0x22, 0]
        var size = 0
        expectStatus(podsync_metrics_prometheus(&m, bytes, nil, 0, &size), PODSYNC_E_INVALID_ARGUMENT, "bad UTF-8")
        #expect(String(cString: podsync_last_errmsg()).contains("UTF-8"))
    }

    @Test func aShortBufferGetsNothingAndTheSize() {
        var m = Self.known()
        var size = 0
        expectStatus(Self.call(&m, "a=\"b\"", nil, 0, &size), PODSYNC_E_BUFFER_TOO_SMALL, "query")
        #expect(size > 1000)
        var buffer = [CChar](repeating: 0x7F, count: size)
        var again = 0
        expectStatus(Self.call(&m, "a=\"b\"", &buffer, size - 1, &again), PODSYNC_E_BUFFER_TOO_SMALL, "one byte short")
        #expect(again == size)
        #expect(buffer.allSatisfy { $0 == 0x7F }, "nothing written")
        #expect(String(cString: podsync_last_errmsg()).contains("needs \(size) bytes"))
        expectStatus(Self.call(&m, "a=\"b\"", &buffer, size, &again), PODSYNC_OK, "exact")
        #expect(buffer[size - 1] == 0 && strlen(buffer) == size - 1)
    }

    @Test func badArguments() {
        var m = Self.known()
        var size = 0
        var buffer = [CChar](repeating: 0, count: 16)
        expectStatus(podsync_metrics_prometheus(nil, nil, nil, 0, &size), PODSYNC_E_INVALID_ARGUMENT, "NULL metrics")
        expectStatus(podsync_metrics_prometheus(&m, nil, nil, 0, nil), PODSYNC_E_INVALID_ARGUMENT, "NULL size_out")
        expectStatus(podsync_metrics_prometheus(&m, nil, nil, 16, &size), PODSYNC_E_INVALID_ARGUMENT, "NULL buffer, capacity 16")
        m.version = 0
        expectStatus(podsync_metrics_prometheus(&m, nil, &buffer, 16, &size), PODSYNC_E_INVALID_ARGUMENT, "version 0")
        #expect(String(cString: podsync_last_errmsg()).contains("metrics.version"))
    }

    /// Every sample's metric name and label names follow the exposition format, every family is
    /// declared once with HELP and TYPE before its samples, counters end in _total, and no sample
    /// (name and labels) appears twice.
    @Test func namesAreValidAndUnique() throws {
        func isName(_ s: Substring, colon: Bool) -> Bool {
            guard let first = s.first, first.isASCII, first.isLetter || first == "_" || (colon && first == ":") else { return false }
            return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || (colon && $0 == ":")) }
        }
        // A real store's metrics, and the known struct.
        let schema = try standardSchema()
        let w = try Store.writer(schema)
        w.put(tableA, 1)
        _ = try w.flushOK()
        var real = podsync_metrics()
        real.version = UInt32(PODSYNC_METRICS_VERSION)
        expectStatus(podsync_store_metrics(w.handle, &real), PODSYNC_OK)
        for m in [real, Self.known()] {
            let text = Self.text(m, #"job="podsync""#)
            var helped: Set<String> = [], typed: [String: String] = [:], samples: Set<String> = []
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# HELP ") {
                    let name = line.dropFirst(7).prefix { $0 != " " }
                    #expect(helped.insert(String(name)).inserted, "HELP twice: \(name)")
                    #expect(typed[String(name)] == nil, "HELP after TYPE: \(name)")
                    continue
                }
                if line.hasPrefix("# TYPE ") {
                    let parts = line.dropFirst(7).split(separator: " ")
                    #expect(parts.count == 2 && ["counter", "gauge", "histogram"].contains(parts[1]), "\(line)")
                    let name = String(parts[0])
                    #expect(helped.contains(name) && typed[name] == nil, "TYPE: \(line)")
                    #expect(isName(parts[0], colon: true) && name.hasPrefix("podsync_"), "\(name)")
                    if parts[1] == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
                    typed[name] = String(parts[1])
                    continue
                }
                #expect(!line.hasPrefix("#"), "\(line)")
                let name = line.prefix { $0 != "{" && $0 != " " }
                #expect(isName(name, colon: true), "\(line)")
                var family = String(name)
                for suffix in ["_bucket", "_count"] where typed[family] == nil && family.hasSuffix(suffix) {
                    family = String(family.dropLast(suffix.count))
                    #expect(typed[family] == "histogram", "\(line)")
                }
                #expect(typed[family] != nil, "a sample before its TYPE: \(line)")
                let rest = line.dropFirst(name.count)
                let key = String(line.prefix { $0 != " " })
                #expect(samples.insert(key).inserted, "sample twice: \(key)")
                if rest.hasPrefix("{") {
                    let set = rest.dropFirst().prefix { $0 != "}" }
                    for pair in set.split(separator: ",") {
                        let label = pair.prefix { $0 != "=" }
                        #expect(isName(label, colon: false) && !label.hasPrefix("__"), "\(line)")
                    }
                }
                let value = line.split(separator: " ").last!
                #expect(UInt64(value) != nil, "\(line)")
            }
            #expect(typed.count == 26, "metric families: \(typed.count)")
        }
        // The real store's frame count shows.
        let text = Self.text(real, nil)
        #expect(text.contains("\npodsync_frames_out_total 1\n") && text.contains("\npodsync_writes_total 1\n"))
    }
}
