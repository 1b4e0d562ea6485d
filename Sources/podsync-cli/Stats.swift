import ArgumentParser
import PodSyncCore

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Totals, ratios and a histogram of frame sizes.",
        discussion: """
            Counts frames and bytes by kind (snapshot or delta; plain, transformed without \
            compression, or zstd), puts and deletes per table, and compares the bytes on the wire \
            with the decoded keys and records (8 bytes a key plus the records: what the frames \
            carry, without headers or padding). Frame sizes are counted in log2 buckets \
            [2^k, 2^(k+1)). Every frame is validated and decoded by the engine; the first invalid \
            one stops the count with exit status 1.
            """)

    @Argument(help: fileHelp) var file: String
    @Flag(help: "Print the statistics as one JSON object.") var json = false
    @Option(help: ArgumentHelp("A schema file: the frames are also checked against it.", valueName: "SCHEMA"))
    var schema: String?
    @OptionGroup var decoding: DecodeOptions

    struct Tally {
        var frames = 0
        var bytes: UInt64 = 0
        var decoded: UInt64 = 0
        mutating func add(_ f: FrameSummary) {
            frames += 1
            bytes += UInt64(f.length)
            decoded += f.decodedBytes
        }
        var json: JSON { .object([("frames", .int(frames)), ("bytes", .int(bytes)), ("decoded_bytes", .int(decoded))]) }
    }

    struct TableTally {
        var recordSize = 0
        var puts = 0
        var deletes = 0
    }

    func run() throws {
        try runCommand("stats") { out in
            let schema = try self.schema.map { (path) throws(Failure) in try loadSchema(path) }
            let decoder = try decoding.decoder()
            let source = try FrameSource(path: file)
            var all = Tally(), snapshots = Tally(), deltas = Tally(), plain = Tally(), transformed = Tally(), zstd = Tally()
            var payload: UInt64 = 0  // packed bytes of the zstd frames
            var tables: [UInt32: TableTally] = [:]
            var histogram = [Int](repeating: 0, count: 64)
            while let frame = try source.next() {
                let f = try decoder.decode(frame, schema: schema) { FrameSummary(frame, $0, $1) }
                all.add(f)
                if f.header.isReset { snapshots.add(f) } else { deltas.add(f) }
                if f.isCompressed {
                    zstd.add(f)
                    payload += f.header.payloadLength
                } else if f.isPlain {
                    plain.add(f)
                } else {
                    transformed.add(f)
                }
                for s in f.sections {
                    tables[s.table, default: TableTally(recordSize: s.recordSize)].puts += s.puts
                    tables[s.table]!.deletes += s.deletes
                }
                histogram[63 - UInt64(f.length).leadingZeroBitCount] += 1
            }
            let puts = tables.values.reduce(0) { $0 + $1.puts }
            let deletes = tables.values.reduce(0) { $0 + $1.deletes }
            let ratio = all.decoded == 0 ? nil : Double(all.bytes) / Double(all.decoded)
            let zstdRatio = zstd.decoded == 0 ? nil : Double(zstd.bytes) / Double(zstd.decoded)
            let buckets = histogram.indices.filter { histogram[$0] > 0 }
            if json {
                out.line(JSON.object([
                    ("file", .string(source.name)), ("frames", .int(all.frames)), ("bytes", .int(all.bytes)),
                    ("decoded_bytes", .int(all.decoded)),
                    ("wire_per_decoded", ratio.map { .number(fixed($0, places: 4)) } ?? .null),
                    ("kinds", .object([
                        ("snapshot", snapshots.json), ("delta", deltas.json), ("plain", plain.json),
                        ("transformed", transformed.json), ("zstd", zstd.json),
                    ])),
                    ("zstd_payload_bytes", .int(payload)),
                    ("zstd_wire_per_decoded", zstdRatio.map { .number(fixed($0, places: 4)) } ?? .null),
                    ("records", .object([("puts", .int(puts)), ("deletes", .int(deletes))])),
                    ("tables", .array(tables.keys.sorted().map { id in
                        let t = tables[id]!
                        return .object([("table", .int(id)), ("record_size", .int(t.recordSize)),
                                        ("puts", .int(t.puts)), ("deletes", .int(t.deletes))])
                    })),
                    ("sizes", .array(buckets.map { k in
                        .object([("min", .int(UInt64(1) << k)), ("max", .int((UInt64(1) << k) * 2 - 1)),
                                 ("frames", .int(histogram[k]))])
                    })),
                ]).text)
                return 0
            }
            out.line("\(source.name): \(counted(all.frames, "frame")), \(counted(all.bytes, "byte"))")
            out.line("  kind           frames        bytes")
            for (name, t) in [("snapshot", snapshots), ("delta", deltas), ("plain", plain), ("transformed", transformed), ("zstd", zstd)] {
                out.line("  " + pad(name, 12, left: true) + pad(String(t.frames), 9) + pad(String(t.bytes), 13))
            }
            out.line("records: \(counted(puts, "put")), \(counted(deletes, "delete"))")
            for id in tables.keys.sorted() {
                let t = tables[id]!
                out.line("  table \(id): \(t.recordSize)-byte records, \(counted(t.puts, "put")), \(counted(t.deletes, "delete"))")
            }
            out.line("decoded keys and records: \(counted(all.decoded, "byte")); wire/decoded \(ratio.map { fixed($0, places: 3) } ?? "n/a")")
            if zstd.frames > 0 {
                out.line("zstd frames: \(zstd.bytes) bytes on the wire for \(payload) packed and \(zstd.decoded) decoded bytes; wire/decoded \(zstdRatio.map { fixed($0, places: 3) } ?? "n/a")")
            }
            out.line("frame sizes (bytes, log2 buckets):")
            let most = buckets.map { histogram[$0] }.max() ?? 0
            for k in buckets {
                let low = UInt64(1) << k, high = low * 2 - 1
                let bar = String(repeating: "#", count: max(1, histogram[k] * 40 / max(most, 1)))
                out.line("  " + pad("\(low)..\(high)", 22, left: true) + pad(String(histogram[k]), 8) + "  " + bar)
            }
            return 0
        }
    }
}

/// `text` padded with spaces to `width` (right-aligned, or left-aligned).
func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + fill : fill + text
}
