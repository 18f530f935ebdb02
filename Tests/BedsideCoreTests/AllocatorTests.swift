import Foundation
import Testing

@testable import BedsideCore

/// glibc's own malloc serves this process (not AddressSanitizer's or ThreadSanitizer's).
let glibcMalloc = ["__asan_init", "__tsan_init"].allSatisfy { (name: String) in dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) == nil }

@Suite struct AllocatorTests {
    @Test func theOperatorsEnvironmentWins() {
        #expect(Allocator.plan(environment: [:]) == .fixed(bytes: Allocator.frameThresholdBytes))
        #expect(Allocator.plan(environment: ["MALLOC_MMAP_THRESHOLD_": "4194304"]) == .fromEnvironment("MALLOC_MMAP_THRESHOLD_=4194304"))
        #expect(Allocator.plan(environment: ["MALLOC_MMAP_THRESHOLD_": ""]) == .fixed(bytes: Allocator.frameThresholdBytes))
        #expect(
            Allocator.plan(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=1048576"])
                == .fromEnvironment("glibc.malloc.mmap_threshold=1048576"))
        #expect(
            Allocator.plan(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"]) == .fixed(bytes: Allocator.frameThresholdBytes))
    }

    /// glibc's dynamic threshold: once a 2 MB block it mapped is freed, it raises the mmap and trim thresholds and
    /// the next 2 MB block comes from an arena's heap. With both fixed a frame-sized block keeps its own mapping
    /// however many were freed before (whatever other tests in this process freed earlier: the first free after
    /// tuning trims the heap's top), and small blocks stay in the heap.
    @Test(.enabled(if: glibcMalloc, "a sanitizer's malloc replaces glibc's (scripts/sanitizers.sh)"))
    func frameSizedBlocksKeepTheirOwnMappingAfterOthersWereFreed() throws {
        #expect(Allocator.tuneForVideoFrames(environment: [:]) == .fixed(bytes: Allocator.frameThresholdBytes))
        let frameBytes = 1920 * 1080
        for _ in 0..<5 {
            let p = try #require(malloc(frameBytes))
            memset(p, 1, frameBytes)
            free(p)
        }
        let frame = try #require(malloc(frameBytes))
        defer { free(frame) }
        #expect(Allocator.hasOwnMapping(frame))
        let modelInput = try #require(malloc(288 * 224))
        defer { free(modelInput) }
        #expect(!Allocator.hasOwnMapping(modelInput))
    }
}
