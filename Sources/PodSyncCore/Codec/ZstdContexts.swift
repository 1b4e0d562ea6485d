import CZstd

/// A store's zstd resources: contexts kept for its lifetime (creating one per frame costs more than
/// compressing a small frame) and the dictionaries it has loaded.
///
/// Every loaded dictionary can decode frames that name its id; the most recently loaded one also
/// compresses the frames the store produces. At most `maxDictionaries` are kept: loading one more
/// forgets the oldest.
struct ZstdContexts: ~Copyable {
    private var compression: OpaquePointer? = nil
    private var decompression: OpaquePointer? = nil
    private var dictionaries: [LoadedDictionary] = []
    /// The current dictionary digested for compression at `cdictLevel`, made on first use.
    private var cdict: OpaquePointer? = nil
    private var cdictLevel: Int32 = 0

    static let maxDictionaries = 8
    /// Largest dictionary accepted (zstd's trainer makes ~100 KB ones; this bounds a bad caller).
    static let maxDictionaryBytes = 4 << 20

    struct LoadedDictionary {
        var id: UInt32
        var bytes: UnsafeMutableRawBufferPointer
        var ddict: OpaquePointer
    }

    init() {}

    deinit {
        if let compression { ZSTD_freeCCtx(compression) }
        if let decompression { ZSTD_freeDCtx(decompression) }
        if let cdict { ZSTD_freeCDict(cdict) }
        for d in dictionaries {
            ZSTD_freeDDict(d.ddict)
            d.bytes.deallocate()
        }
    }

    mutating func compressor() -> OpaquePointer? {
        if compression == nil { compression = ZSTD_createCCtx() }
        return compression
    }

    mutating func decompressor() -> OpaquePointer? {
        if decompression == nil { decompression = ZSTD_createDCtx() }
        return decompression
    }

    // MARK: Dictionaries

    /// The dictionary new frames are compressed with, if any.
    var current: (id: UInt32, bytes: UnsafeRawBufferPointer)? {
        guard let d = dictionaries.last else { return nil }
        return (d.id, UnsafeRawBufferPointer(d.bytes))
    }

    /// Validates and keeps a copy of a zstd dictionary, makes it the current one, and returns its
    /// id. Nothing changes on error.
    mutating func load(dictionary: UnsafeRawBufferPointer) throws(PodSyncError) -> UInt32 {
        guard let base = dictionary.baseAddress, dictionary.count > 8 else {
            throw .invalid("a dictionary must be a zstd dictionary of more than 8 bytes")
        }
        guard dictionary.count <= Self.maxDictionaryBytes else {
            throw .invalid("dictionary of \(dictionary.count) bytes is larger than the \(Self.maxDictionaryBytes) accepted")
        }
        let id = ZSTD_getDictID_fromDict(base, dictionary.count)
        guard id != 0 else {
            throw .invalid("not a zstd dictionary with an id (train one with podsync_store_train_dictionary or zstd --train)")
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: dictionary.count, alignment: 16)
        copy.copyMemory(from: dictionary)
        guard let ddict = ZSTD_createDDict(copy.baseAddress, copy.count) else {
            copy.deallocate()
            throw .invalid("the zstd dictionary's entropy tables are corrupt")
        }
        if let at = dictionaries.firstIndex(where: { $0.id == id }) {
            ZSTD_freeDDict(dictionaries[at].ddict)
            dictionaries[at].bytes.deallocate()
            dictionaries.remove(at: at)
        } else if dictionaries.count == Self.maxDictionaries {
            ZSTD_freeDDict(dictionaries[0].ddict)
            dictionaries[0].bytes.deallocate()
            dictionaries.removeFirst()
        }
        dictionaries.append(LoadedDictionary(id: id, bytes: copy, ddict: ddict))
        if let cdict { ZSTD_freeCDict(cdict) }
        cdict = nil
        return id
    }

    /// The decoding form of the dictionary with this id, if loaded.
    func decodingDictionary(id: UInt32) -> OpaquePointer? {
        dictionaries.last(where: { $0.id == id })?.ddict
    }

    // MARK: Compressing and decompressing

    /// Compresses `source` into `destination` at `level`, with the current dictionary when
    /// `useDictionary` and there is one. Returns zstd's result (a size, or an error code).
    mutating func compress(
        _ destination: UnsafeMutableRawPointer, capacity: Int, _ source: UnsafeRawPointer, count: Int,
        level: Int32, useDictionary: Bool
    ) -> Int {
        guard let context = compressor() else { return Int(bitPattern: UInt(bitPattern: -1)) }
        if useDictionary, let d = dictionaries.last {
            if cdict == nil || cdictLevel != level {
                if let cdict { ZSTD_freeCDict(cdict) }
                cdict = ZSTD_createCDict(d.bytes.baseAddress, d.bytes.count, level)
                cdictLevel = level
            }
            if let cdict { return ZSTD_compress_usingCDict(context, destination, capacity, source, count, cdict) }
        }
        return ZSTD_compressCCtx(context, destination, capacity, source, count, level)
    }

    /// Prepares the decompression context for one zstd frame of `count` bytes, decoded piece by
    /// piece with `decompress(into:capacity:produced:from:count:consumed:)`, with the dictionary
    /// the frame names (`PODSYNC_E_DICTIONARY_MISSING` when it is not loaded).
    mutating func beginStream(_ source: UnsafeRawPointer, count: Int) throws(PodSyncError) {
        guard let context = decompressor() else {
            throw PodSyncError(Status.noMemory, "cannot allocate a zstd decompression context")
        }
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        let id = ZSTD_getDictID_fromFrame(source, count)
        if id != 0 {
            guard let ddict = decodingDictionary(id: id) else {
                throw PodSyncError(Status.dictionaryMissing,
                                   "frame is compressed with dictionary \(id), which this store has not loaded")
            }
            ZSTD_DCtx_refDDict(context, ddict)
        } else {
            ZSTD_DCtx_refDDict(context, nil)
        }
    }

    /// Continues the frame `beginStream` prepared: decodes into `destination[produced..<capacity]`
    /// from `source[consumed..<count]`, advancing both. Returns true once the frame is complete,
    /// or the error zstd reported (positions then stay where the previous call left them).
    mutating func decompress(
        into destination: UnsafeMutableRawPointer, capacity: Int, produced: inout Int,
        from source: UnsafeRawPointer, count: Int, consumed: inout Int
    ) -> Result<Bool, PodSyncError> {
        guard let context = decompression else { return .failure(PodSyncError(Status.internal, "no zstd stream was begun")) }
        var output = ZSTD_outBuffer(dst: destination, size: capacity, pos: produced)
        var input = ZSTD_inBuffer(src: source, size: count, pos: consumed)
        let result = ZSTD_decompressStream(context, &output, &input)
        guard ZSTD_isError(result) == 0 else {
            return .failure(.malformed("the zstd payload is corrupt: \(String(cString: ZSTD_getErrorName(result)))"))
        }
        produced = output.pos
        consumed = input.pos
        return .success(result == 0)
    }
}
