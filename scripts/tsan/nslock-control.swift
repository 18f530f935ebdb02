// ThreadSanitizer and Synchronization.Mutex on Linux (docs/reliability.md, Sanitizers): every access below is
// inside a lock. Build and run: swiftc -sanitize=thread -Onone scripts/tsan/nslock-control.swift -o /tmp/t && /tmp/t
// The same with NSLock (pthread mutex, which TSan intercepts): no report.
import Synchronization
import Foundation

// A value written and read only inside Mutex.withLock from two threads: correct by construction.
final class Box: @unchecked Sendable {
    let lock = NSLock(); var v: [Int] = []
}
let box = Box()
let done = DispatchSemaphore(value: 0)
for t in 0..<2 {
    Thread {
        for i in 0..<100_000 {
            if t == 0 { box.lock.withLock { box.v.append(i); if box.v.count > 8 { box.v.removeFirst() } } }
            else { _ = box.lock.withLock { () -> Int? in let x = box.v.last; if !box.v.isEmpty { box.v.removeLast() }; return x } }
        }
        done.signal()
    }.start()
}
done.wait(); done.wait()
print("done")
