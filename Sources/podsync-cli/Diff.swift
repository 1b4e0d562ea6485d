import ArgumentParser
import PodSyncCore

/// The records of one side of a diff, table by table (copied out of the engine's memory).
struct SideState {
    struct Table {
        var recordSize: Int
        var keys: [UInt64] = []
        var records: [UInt8] = []
    }

    var name: String
    var frames = 0
    var schemaHash: UInt64 = 0
    var version: UInt64 = 0
    /// The writer's term of the state (the replica's after replaying; the snapshot's).
    var term: UInt64 = 0
    var digest: UInt64? = nil
    /// How the frames applied (with a schema), e.g. "25 applied, 6 duplicates".
    var outcomes: String? = nil
    var tables: [UInt32: Table] = [:]

    var recordCount: Int { tables.values.reduce(0) { $0 + $1.keys.count } }

    /// With a schema: every frame applied in order to a replica (the engine's version rules).
    static func replayed(_ path: String, schema: Schema, options: DecodeOptions) throws -> SideState {
        let replica = try Replica(schema: schema, options: options)
        let source = try FrameSource(path: path)
        var side = SideState(name: source.name)
        side.schemaHash = replica.store.schemaHash
        while let frame = try source.next() {
            try replica.apply(frame)
            side.frames += 1
        }
        guard side.frames > 0 else { throw Failure("\(source.name) holds no frame") }
        side.version = replica.store.version
        side.term = replica.store.term
        side.digest = replica.store.digest
        side.outcomes = replica.outcomeText
        for table in schema.tables {
            let (records, keys, count) = try replica.store.contents(table: table.id)
            var t = Table(recordSize: table.recordSize)
            t.keys = Array(UnsafeBufferPointer(start: keys, count: count))
            t.records = Array(UnsafeRawBufferPointer(start: records, count: count * table.recordSize))
            side.tables[table.id] = t
        }
        return side
    }

    /// Without a schema: the file must hold one snapshot, whose puts are the state.
    static func snapshot(_ path: String, options: DecodeOptions) throws -> SideState {
        let decoder = try options.decoder()
        let source = try FrameSource(path: path)
        guard let frame = try source.next() else { throw Failure("\(source.name) holds no frame") }
        var side = SideState(name: source.name, frames: 1)
        let reset = try decoder.decode(frame) { header, sections in
            side.schemaHash = header.schemaHash
            side.version = header.stateVersion
            side.term = header.term
            side.digest = header.hasDigest ? header.stateDigest : nil
            for s in sections {
                var t = Table(recordSize: s.recordSize)
                t.keys = (0..<s.putCount).map { key(s.putKeys, $0) }
                t.records = Array(UnsafeRawBufferPointer(start: s.records, count: s.putCount * s.recordSize))
                side.tables[s.tableID] = t
            }
            return header.isReset
        }
        guard reset else {
            throw Failure("\(source.name): frame 0 is a delta; without --schema diff compares two snapshots (give --schema to apply the frames to a replica)")
        }
        guard try source.next() == nil else {
            throw Failure("\(source.name) holds more than one frame; give --schema to apply them in order to a replica")
        }
        return side
    }

    var json: JSON {
        .object([
            ("file", .string(name)), ("frames", .int(frames)), ("schema_hash", .hex(schemaHash)),
            ("version", .int(version)), ("term", .int(term)), ("digest", digest.map(JSON.hex) ?? .null), ("records", .int(recordCount)),
        ])
    }

    var text: String {
        "\(name): \(counted(frames, "frame"))\(outcomes.map { " (\($0))" } ?? ""), version \(version)\(term != 0 ? ", term \(term)" : ""), digest \(digest.map(hex16) ?? "none"), \(counted(recordCount, "record"))"
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the states two files hold: keys only in A, only in B, changed records.",
        discussion: """
            With --schema, the frames of each file are applied in order to a fresh replica of the \
            schema (duplicates, gaps and stale snapshots are handled as a replica handles them) and \
            the two replicas' records are compared field by field. Without it, each file must hold \
            one snapshot (a RESET frame) and records are compared as bytes. Exit status: 0 when \
            the states are equal, 1 when they differ, 2 when they cannot be compared.
            """)

    @Argument(help: ArgumentHelp("The first file of frames.", valueName: "A")) var a: String
    @Argument(help: ArgumentHelp("The second file of frames.", valueName: "B")) var b: String
    @Option(help: ArgumentHelp("The schema file: apply every frame and compare by fields.", valueName: "SCHEMA"))
    var schema: String?
    @Flag(help: "Print the result as one JSON object.") var json = false
    @OptionGroup var decoding: DecodeOptions

    func run() throws {
        try runCommand("diff", failureCode: 2) { out in
            let schema = try self.schema.map { (path) throws(Failure) in try loadSchema(path) }
            let left, right: SideState
            if let schema {
                left = try SideState.replayed(a, schema: schema, options: decoding)
                right = try SideState.replayed(b, schema: schema, options: decoding)
            } else {
                left = try SideState.snapshot(a, options: decoding)
                right = try SideState.snapshot(b, options: decoding)
            }
            return compare(left, right, schema: schema, out: out)
        }
    }

    func compare(_ left: SideState, _ right: SideState, schema: Schema?, out: Output) -> Int32 {
        var tableJSON: [JSON] = []
        var lines: [String] = []
        var onlyA = 0, onlyB = 0, changed = 0
        let ids = Set(left.tables.keys).union(right.tables.keys).sorted()
        for id in ids {
            let ta = left.tables[id], tb = right.tables[id]
            let sizeA = ta?.recordSize ?? tb!.recordSize, sizeB = tb?.recordSize ?? ta!.recordSize
            let keysA = ta?.keys ?? [], keysB = tb?.keys ?? []
            let recordsA = ta?.records ?? [], recordsB = tb?.records ?? []
            var indexB: [UInt64: Int] = [:]
            indexB.reserveCapacity(keysB.count)
            for (i, k) in keysB.enumerated() { indexB[k] = i }
            var inA = Set<UInt64>()
            inA.reserveCapacity(keysA.count)
            var tableOnlyA: [UInt64] = [], tableOnlyB: [UInt64] = []
            var tableChanged: [(UInt64, Int, Int)] = []  // key, index in A, index in B
            for (i, k) in keysA.enumerated() {
                inA.insert(k)
                guard let j = indexB[k] else { tableOnlyA.append(k); continue }
                let same = sizeA == sizeB && recordsA[(i * sizeA)..<((i + 1) * sizeA)].elementsEqual(recordsB[(j * sizeB)..<((j + 1) * sizeB)])
                if !same { tableChanged.append((k, i, j)) }
            }
            for k in keysB where !inA.contains(k) { tableOnlyB.append(k) }
            tableOnlyA.sort()
            tableOnlyB.sort()
            tableChanged.sort { $0.0 < $1.0 }
            onlyA += tableOnlyA.count
            onlyB += tableOnlyB.count
            changed += tableChanged.count

            let format = schema.flatMap { s in s.tableIndex(of: id).map { RecordFormat(s.tables[$0]) } }
            var changeJSON: [JSON] = []
            var changeLines: [String] = []
            for (k, i, j) in tableChanged {
                recordsA.withUnsafeBytes { ra in
                    recordsB.withUnsafeBytes { rb in
                        let pa = ra.baseAddress! + i * sizeA, pb = rb.baseAddress! + j * sizeB
                        if let format {
                            let columns = format.columns
                            let va = format.values(pa), vb = format.values(pb)
                            var fields: [String] = []
                            var texts: [String] = []
                            for c in columns.indices where va[c] != vb[c] {
                                fields.append(columns[c])
                                texts.append("\(columns[c]) \(va[c]) -> \(vb[c])")
                            }
                            if format.paddingDiffers(pa, pb) {
                                fields.append("(padding)")
                                texts.append("bytes outside the fields differ")
                            }
                            changeLines.append("  ~ key \(k): " + texts.joined(separator: ", "))
                            changeJSON.append(.object([
                                ("key", .int(k)), ("fields", .array(fields.map { .string($0) })),
                                ("a", format.json(pa)), ("b", format.json(pb)),
                            ]))
                        } else {
                            var differing = 0, first = -1
                            if sizeA == sizeB {
                                for byte in 0..<sizeA where pa.load(fromByteOffset: byte, as: UInt8.self) != pb.load(fromByteOffset: byte, as: UInt8.self) {
                                    differing += 1
                                    if first < 0 { first = byte }
                                }
                                changeLines.append("  ~ key \(k): \(differing) of \(sizeA) bytes differ, the first at byte \(first)")
                            } else {
                                changeLines.append("  ~ key \(k): records of \(sizeA) and \(sizeB) bytes")
                            }
                            changeJSON.append(.object([
                                ("key", .int(k)), ("a", .string(hexBytes(pa, sizeA))), ("b", .string(hexBytes(pb, sizeB))),
                            ]))
                        }
                    }
                }
            }
            var header = "table \(id): \(keysA.count) in A, \(keysB.count) in B: \(tableOnlyA.count) only in A, \(tableOnlyB.count) only in B, \(tableChanged.count) changed"
            if sizeA != sizeB { header += " (records of \(sizeA) bytes in A, \(sizeB) in B)" }
            lines.append(header)
            lines += tableOnlyA.map { "  - key \($0)" }
            lines += tableOnlyB.map { "  + key \($0)" }
            lines += changeLines
            tableJSON.append(.object([
                ("table", .int(id)), ("records_a", .int(keysA.count)), ("records_b", .int(keysB.count)),
                ("only_in_a", .array(tableOnlyA.map { .int($0) })), ("only_in_b", .array(tableOnlyB.map { .int($0) })),
                ("changed", .array(changeJSON)),
            ]))
        }
        let equal = onlyA == 0 && onlyB == 0 && changed == 0
        let schemasDiffer = left.schemaHash != right.schemaHash
        if json {
            out.line(JSON.object([
                ("equal", .bool(equal)), ("schemas_differ", .bool(schemasDiffer)), ("a", left.json), ("b", right.json),
                ("only_in_a", .int(onlyA)), ("only_in_b", .int(onlyB)), ("changed", .int(changed)),
                ("tables", .array(tableJSON)),
            ]).text)
        } else {
            out.line("A \(left.text)")
            out.line("B \(right.text)")
            if schemasDiffer {
                out.line("note: A and B were written for different schemas (\(hex16(left.schemaHash)), \(hex16(right.schemaHash)))")
            }
            for line in lines { out.line(line) }
            if equal {
                out.line("equal: \(counted(left.recordCount, "record")) in \(counted(ids.count, "table"))")
            } else {
                out.line("differ: \(onlyA) only in A, \(onlyB) only in B, \(changed) changed")
            }
        }
        return equal ? 0 : 1
    }
}
