// ThreadSanitizer and Synchronization.Mutex on Linux (docs/reliability.md, Sanitizers): every access below is
// inside a lock. Build and run: swiftc -sanitize=thread -Onone scripts/tsan/mutex-false-positive.swift -o /tmp/t && /tmp/t
// With Mutex.withLock TSan reports a 'Swift access race' (Swift 6.3.1 here): its futex lock is invisible to TSan.
import Synchronization
import Foundation

// A value written and read only inside Mutex.withLock from two threads: correct by construction.
final class Box: @unchecked Sendable {
    let m = Mutex<[Int]>([])
}
let box = Box()
let done = DispatchSemaphore(value: 0)
for t in 0..<2 {
    Thread {
        for i in 0..<100_000 {
            if t == 0 { box.m.withLock { $0.append(i); if $0.count > 8 { $0.removeFirst() } } }
            else { _ = box.m.withLock { s -> Int? in let v = s.last; if !s.isEmpty { s.removeLast() }; return v } }
        }
        done.signal()
    }.start()
}
done.wait(); done.wait()
print("done")
