import BedsideCore
import Testing

@Suite("Model threads: a core left for capture, recording and the page")
struct ModelThreadsTests {
    @Test("by default all cores but one, shared among the replicas, at least one")
    func automatic() {
        #expect(ModelThreads.automatic(cores: 2, replicas: 1) == 1)
        #expect(ModelThreads.automatic(cores: 8, replicas: 1) == 7)
        #expect(ModelThreads.automatic(cores: 8, replicas: 3) == 2)
        #expect(ModelThreads.automatic(cores: 1, replicas: 1) == 1)
        #expect(ModelThreads.automatic(cores: 4, replicas: 8) == 1)
    }

    @Test("every library's variable is set to the number")
    func variables() {
        let e = ModelThreads.environment(configured: nil, cores: 2, replicas: 1, inherited: [:], modelEnv: [:])
        #expect(e.threads == 1)
        #expect(e.variables == Dictionary(uniqueKeysWithValues: ModelThreads.variables.map { ($0, "1") }))
        #expect(e.source.hasPrefix("default: 2 core(s), one left"))
    }

    @Test("`threads:` wins over the environment; the model's env block wins over both")
    func precedence() {
        let inherited = ["OMP_NUM_THREADS": "6", "MKL_NUM_THREADS": "6"]
        let configured = ModelThreads.environment(configured: 3, cores: 8, replicas: 1, inherited: inherited, modelEnv: ["MKL_NUM_THREADS": "2"])
        #expect(configured.threads == 3 && configured.variables["OMP_NUM_THREADS"] == "3")
        #expect(configured.variables["MKL_NUM_THREADS"] == nil)  // the model's env sets it
        let kept = ModelThreads.environment(configured: nil, cores: 8, replicas: 1, inherited: inherited, modelEnv: [:])
        #expect(kept.threads == 6 && kept.source == "OMP_NUM_THREADS=6 from the environment")
        #expect(kept.variables["OMP_NUM_THREADS"] == nil && kept.variables["MKL_NUM_THREADS"] == nil)  // already set
        #expect(kept.variables["OPENBLAS_NUM_THREADS"] == "6")
    }
}
