import Glibc
import CPodSyncShims

/// The POSIX file calls durability needs, with errno turned into `Status.io` errors that name the
/// file and the system's reason. Every call retries on EINTR.
enum FileIO {
    static func failure(_ what: String, _ path: String, _ code: Int32 = errno) -> PodSyncError {
        PodSyncError(Status.io, "cannot \(what) \(path): \(String(cString: strerror(code)))")
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Creates `path` as a directory unless it exists.
    static func makeDirectory(_ path: String) throws(PodSyncError) {
        if mkdir(path, 0o755) == 0 { return }
        let code = errno
        var info = stat()
        guard code == EEXIST, stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw failure("create the directory", path, code)
        }
    }

    /// Takes the directory's lock file (an exclusive flock, released when the descriptor closes,
    /// also by a kill -9). A child the host forks shares the descriptor until it execs or exits
    /// (O_CLOEXEC closes it only at exec), so a store closed and reopened while another thread
    /// spawns a process can find its own lock still held for a moment: it retries for up to
    /// 250 ms before it reports the directory as taken.
    static func lock(_ directory: String) throws(PodSyncError) -> Int32 {
        let path = join(directory, "LOCK")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open the lock file", path) }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK && attempts < 50 {
                attempts += 1
                usleep(5000)
                continue
            }
            close(fd)
            if code == EWOULDBLOCK {
                throw PodSyncError(Status.io, "cannot lock \(path): another store holds this directory open")
            }
            throw failure("lock", path, code)
        }
        return fd
    }

    static func create(_ path: String) throws(PodSyncError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create", path) }
        return fd
    }

    /// Writes every byte of the pieces, in order (one writev when the kernel takes them at once).
    static func write(_ fd: Int32, _ pieces: [UnsafeRawBufferPointer], path: String) throws(PodSyncError) {
        var vectors = pieces.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var first = 0
        while first < vectors.count {
            let count = Int32(min(vectors.count - first, 1024))
            let written = vectors.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress! + first, count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            var left = written
            while left > 0 && first < vectors.count {
                if left >= vectors[first].iov_len {
                    left -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base! + left
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
            if written == 0 { throw PodSyncError(Status.io, "cannot write \(path): the system wrote nothing") }
        }
    }

    static func sync(_ fd: Int32, path: String) throws(PodSyncError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw failure("fsync", path)
        }
    }

    /// Makes a rename or a creation in `directory` durable.
    static func syncDirectory(_ directory: String) throws(PodSyncError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open the directory", directory) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    static func rename(_ from: String, _ to: String) throws(PodSyncError) {
        guard Glibc.rename(from, to) == 0 else { throw failure("rename \(from) to", to) }
    }

    static func remove(_ path: String) { _ = unlink(path) }

    static func size(_ fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Cuts a file back to `length` bytes (undoing a partial append); false if the system refused.
    static func truncate(_ fd: Int32, to length: Int) -> Bool { ftruncate(fd, off_t(length)) == 0 }

    /// Cuts the file at `path` to `length` bytes and makes that durable.
    static func cut(_ path: String, to length: Int) throws(PodSyncError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw failure("truncate", path) }
        try sync(fd, path: path)
    }

    /// The whole file (or its first `limit` bytes), read into memory aligned for frames.
    static func read(_ path: String, limit: Int = Int.max) throws(PodSyncError) -> FileBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        let size = min(FileIO.size(fd), limit)
        let bytes = FileBytes(capacity: size)
        guard bytes.base != nil || size == 0 else {
            throw PodSyncError(Status.noMemory, "cannot allocate \(size) bytes to read \(path)")
        }
        var done = 0
        while done < size {
            let n = Glibc.read(fd, bytes.base! + done, size - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if n == 0 { break }
            done += n
        }
        bytes.count = done
        return bytes
    }

    /// The names in a directory.
    static func list(_ directory: String) throws(PodSyncError) -> [String] {
        guard let dir = opendir(directory) else { throw failure("list", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// A file's bytes in 64-byte-aligned memory (frames are read in place).
final class FileBytes {
    let base: UnsafeMutableRawPointer?
    var count = 0

    init(capacity: Int) {
        base = allocateRaw(max(capacity, 1), alignment: 64)
    }

    deinit { if let base { podsync_free(base) } }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
