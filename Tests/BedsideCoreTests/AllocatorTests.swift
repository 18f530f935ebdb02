import BedsideCore
import Foundation
import Testing

@Suite struct AllocatorTests {
    @Test func theOperatorsEnvironmentWins() {
        #expect(Allocator.plan(environment: [:]) == .fixed(bytes: Allocator.frameThresholdBytes))
        #expect(Allocator.plan(environment: ["MALLOC_MMAP_THRESHOLD_": "4194304"]) == .fromEnvironment("4194304"))
        #expect(Allocator.plan(environment: ["MALLOC_MMAP_THRESHOLD_": ""]) == .fixed(bytes: Allocator.frameThresholdBytes))
    }

    /// glibc's dynamic threshold: once a 2 MB block it mapped is freed, it raises the threshold and the next
    /// 2 MB block comes from an arena's heap. With the fixed threshold a frame-sized block keeps its own mapping
    /// however many were freed before, and small blocks stay in the heap.
    @Test func frameSizedBlocksKeepTheirOwnMappingAfterOthersWereFreed() throws {
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
