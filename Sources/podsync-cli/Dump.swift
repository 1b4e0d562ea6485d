import ArgumentParser
import PodSyncCore

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the records of every frame as JSON lines or CSV.",
        discussion: """
            Every put and delete of every frame, in frame order, table by table, with the schema's \
            field names and types. JSON: one object per record, {"frame", "version", "table", "op", \
            "key", "record"} ("record" only for puts). CSV (one table: --table, unless the schema \
            has only one): columns frame, version, op, key, then one per field (name[i] for each \
            element of a multi-element field); deletes leave the fields empty. Floats are printed \
            in the shortest form that reads back as the same value (nan, inf, -inf are strings in \
            JSON), BYTES fields in hex. Records of XOR-transformed deltas are un-XOR-ed against the \
            state the frames before them build (applied to a replica of the schema), so a file \
            holding such deltas must start with the frames they follow.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, csv
    }

    @Argument(help: fileHelp) var file: String
    @Option(help: ArgumentHelp("The schema file (podsync_schema_encode's bytes).", valueName: "SCHEMA"))
    var schema: String
    @Option(help: "Output format.") var format: Format = .json
    @Option(help: ArgumentHelp("Only this table's records.", valueName: "ID")) var table: UInt32?
    @OptionGroup var decoding: DecodeOptions

    func run() throws {
        try runCommand("dump") { out in
            let schema = try loadSchema(self.schema)
            let ids = schema.tables.map { String($0.id) }.joined(separator: ", ")
            if let table, schema.tableIndex(of: table) == nil {
                throw Failure("table \(table) is not in the schema (its tables: \(ids))")
            }
            var selected = table
            if format == .csv && selected == nil {
                guard schema.tables.count == 1 else {
                    throw Failure("CSV holds one table: choose it with --table (the schema's tables: \(ids))")
                }
                selected = schema.tables[0].id
            }
            let formats = schema.tables.map(RecordFormat.init)
            if format == .csv, let selected {
                let columns = ["frame", "version", "op", "key"] + formats[schema.tableIndex(of: selected)!].columns
                out.line(columns.map(csvField).joined(separator: ","))
            }
            let decoder = try decoding.decoder()
            let replica = try Replica(schema: schema, options: decoding)
            /// Set when the replica could not apply a frame: XOR-ed records after it cannot be read.
            var replicaFailure: FrameFailure? = nil
            let source = try FrameSource(path: file)
            while let frame = try source.next() {
                let problem: FrameFailure? = try decoder.decode(frame, schema: schema) { header, decoded in
                    var sections = decoded
                    if sections.contains(where: \.isRelative) {
                        let ready = replicaFailure == nil && replica.store.bound
                            && replica.store.streamID == header.streamID && replica.store.version == header.baseVersion
                        guard ready else {
                            let why = replicaFailure.map { "applying \($0.text) failed" }
                                ?? "the frames before it reach version \(replica.store.version)\(replica.store.bound ? "" : " of no stream")"
                            return FrameFailure(frame.source, frame.index, frame.offset, nil,
                                                "its records are relative to the state at version \(header.baseVersion) of stream \(hex16(header.streamID)), but \(why): dump a file that starts with the frames this delta follows",
                                                label: "missing base state")
                        }
                        // Keys named by rank and records XOR-ed or sent as field differences,
                        // made absolute against the replica at the base.
                        do throws(PodSyncError) { sections = try replica.store.makeAbsolute(sections) } catch {
                            return FrameFailure(frame.source, frame.index, frame.offset, error.code, error.message)
                        }
                    }
                    for section in sections where selected == nil || section.tableID == selected {
                        let layout = formats[section.tableIndex]
                        let size = section.recordSize
                        for i in 0..<section.putCount {
                            let k = key(section.putKeys, i)
                            emit(out, frame, header, section.tableID, "put", k, layout, section.records + i * size)
                        }
                        for i in 0..<section.deleteCount {
                            emit(out, frame, header, section.tableID, "delete", key(section.deleteKeys, i), layout, nil)
                        }
                    }
                    return nil
                }
                if let problem { throw problem }
                if replicaFailure == nil {
                    do { try replica.apply(frame) } catch let error as FrameFailure { replicaFailure = error } catch {}
                }
            }
            return 0
        }
    }

    func emit(
        _ out: Output, _ frame: RawFrame, _ header: FrameHeader, _ table: UInt32, _ op: String, _ key: UInt64,
        _ layout: RecordFormat, _ record: UnsafeRawPointer?
    ) {
        switch format {
        case .json:
            var members: [(String, JSON)] = [
                ("frame", .int(frame.index)), ("version", .int(header.stateVersion)), ("table", .int(table)),
                ("op", .string(op)), ("key", .int(key)),
            ]
            if let record { members.append(("record", layout.json(record))) }
            out.line(JSON.object(members).text)
        case .csv:
            var row = [String(frame.index), String(header.stateVersion), op, String(key)]
            if let record {
                row += layout.values(record).map(csvField)
            } else {
                row += [String](repeating: "", count: layout.columns.count)
            }
            out.line(row.joined(separator: ","))
        }
    }
}
