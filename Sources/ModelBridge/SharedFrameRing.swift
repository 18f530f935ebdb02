import BedsideCore

#if canImport(Glibc)
import Glibc
#endif

/// Frame slots in a POSIX shared-memory file (`/dev/shm/...`) that a local worker maps read-only.
///
/// Lockstep ownership: a slot is written only while no worker holds it (one frame in flight per worker).
/// The corresponding C calls are `open`, `ftruncate`, `mmap`; the file is unlinked in `deinit`.
public final class SharedFrameRing: @unchecked Sendable {
    public let path: String
    public let slotSize: Int
    public let slots: Int
    let base: UnsafeMutableRawPointer
    let fd: Int32

    public init(name: String, slotSize: Int, slots: Int = 2) throws {
        precondition(slotSize > 0 && slots > 0)
        path = "/dev/shm/\(name)"
        self.slotSize = slotSize
        self.slots = slots
        // A new file, never one that is there already (or a link planted in its place): O_EXCL | O_NOFOLLOW.
        var fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        if fd < 0 && errno == EEXIST {
            unlink(path)
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        }
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        let total = slotSize * slots
        if ftruncate(fd, off_t(total)) != 0 {
            let e = errno
            close(fd)
            unlink(path)
            throw SystemError(call: "ftruncate(\(path), \(total))", errno: e)
        }
        guard let p = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            close(fd)
            unlink(path)
            throw SystemError(call: "mmap(\(path))", errno: e)
        }
        self.fd = fd
        base = p
    }

    deinit {
        munmap(base, slotSize * slots)
        close(fd)
        unlink(path)
    }

    public func offset(ofSlot i: Int) -> Int { i * slotSize }

    public func pointer(toSlot i: Int) -> UnsafeMutableRawPointer {
        precondition(i >= 0 && i < slots)
        return base + i * slotSize
    }
}
