import BedsideTools
import Testing

@Suite("bedside prepare: what arrived, and when nothing did, why")
struct PrepareVerdictTests {
    typealias File = PrepareVerdict.File
    let weights = File(path: "huggingface/hub/models--org--net/blobs/ab12", size: 44_700_000)

    @Test("files new or changed in size since the run began are what arrived")
    func arrivedIsTheDifference() {
        let before: [String: Int64] = ["a": 10, "b": 20]
        let after = [File(path: "a", size: 10), File(path: "b", size: 25), File(path: "c", size: 5)]
        #expect(PrepareVerdict.arrived(before: before, after: after) == [File(path: "b", size: 25), File(path: "c", size: 5)])
    }

    @Test("a download lists each file with its size, largest first, and is ready")
    func fetched() {
        let small = File(path: "huggingface/hub/models--org--net/refs/main", size: 40)
        let v = PrepareVerdict.judge(
            answered: true, attempts: ["https://huggingface.co/org/net/resolve/main/model.safetensors"],
            arrived: [small, weights], cached: [small, weights], error: nil)
        #expect(v.ready)
        #expect(v.lines == ["fetched 2 file(s), 44 MB, through 1 network attempt(s):", "  44 MB  \(weights.path)", "  40 B  \(small.path)"])
    }

    @Test("no attempt and nothing arrived: nothing to fetch, ready as it is")
    func nothingToFetch() {
        let v = PrepareVerdict.judge(answered: true, attempts: [], arrived: [], cached: [], error: nil)
        #expect(v.ready)
        #expect(v.lines == ["nothing to fetch: the model made no network attempt while it started and answered; it starts offline as it is"])
    }

    @Test("attempts, nothing new, files cached: prepared before")
    func preparedBefore() {
        let v = PrepareVerdict.judge(answered: true, attempts: ["https://hub/x"], arrived: [], cached: [weights], error: nil)
        #expect(v.ready)
        #expect(v.lines.last?.hasPrefix("nothing new arrived: the 1 file(s) it asked for (https://hub/x) were in its cache already") == true)
    }

    @Test("attempts that fetched nothing and a failed model: not ready, with the error and what to check")
    func nothingArrived() {
        let v = PrepareVerdict.judge(
            answered: false, attempts: ["huggingface.co", "huggingface.co", "cdn", "x"], arrived: [], cached: [],
            error: "ConnectError: [Errno -3] Temporary failure in name resolution", cleared: ["HF_HUB_OFFLINE"])
        #expect(!v.ready)
        #expect(v.lines.first == "ignored HF_HUB_OFFLINE from the environment for this run (it would make every download fail)")
        let last = v.lines.last ?? ""
        #expect(last.hasPrefix("nothing arrived: the model's 4 network attempt(s) (huggingface.co, huggingface.co, cdn, ...) got no file"))
        #expect(last.contains("Temporary failure in name resolution") && last.contains("HF_ENDPOINT") && last.contains("HTTPS_PROXY"))
    }

    @Test("a failure without any attempt is not a download problem")
    func failureNotADownload() {
        let v = PrepareVerdict.judge(answered: false, attempts: [], arrived: [], cached: [], error: "ImportError: no module named cv2")
        #expect(!v.ready)
        #expect(
            v.lines == [
                "nothing arrived, and the model made no network attempt before it failed: ImportError: no module named cv2. The failure is not a download: `bedside check` shows it the same way"
            ])
    }

    @Test("attempts that fetched nothing from a model that answered: telemetry, ready")
    func telemetry() {
        let v = PrepareVerdict.judge(answered: true, attempts: ["api.wandb.ai"], arrived: [], cached: [], error: nil)
        #expect(v.ready)
        #expect(v.lines.last?.contains("they look like checks or telemetry, not downloads") == true)
    }

    @Test("files that arrived for a model that still fails: not ready")
    func arrivedButFailed() {
        let v = PrepareVerdict.judge(answered: false, attempts: ["u"], arrived: [weights], cached: [weights], error: "KeyError: 'head'")
        #expect(!v.ready)
        #expect(v.lines.last == "the files above arrived, but the model still did not answer: KeyError: 'head'")
    }
}

@Suite("bedside check: what the model's time per frame means for the page")
struct CadenceAdviceTests {
    @Test("a fast model is drawn live")
    func fast() {
        let l = CadenceAdvice.lines(medianMs: 20, frames: 4, replicas: 1, trigger: "live", threads: 1, threadsSource: "default")
        #expect(l[0] == "time per frame: 20 ms (median of 4); threads: 1 (default; `threads:` to change)")
        #expect(l[1] == "the page: up to about 50 answers/s (every frame of a 30 fps source), each drawn live on the frame it belongs to")
        let faster = CadenceAdvice.lines(medianMs: 10, frames: 4, replicas: 1, trigger: "live", threads: 1, threadsSource: "default")
        #expect(faster[1].hasPrefix("the page: up to about 100 answers/s (every frame of a 30 or 60 fps source)"))
        let slower = CadenceAdvice.lines(medianMs: 50, frames: 4, replicas: 1, trigger: "live", threads: 1, threadsSource: "default")
        #expect(slower[1] == "the page: up to about 20 answers/s, each drawn live on the frame it belongs to")
    }

    @Test("a PCBM-speed model: the interval, and freeze or replicas")
    func slow() {
        let l = CadenceAdvice.lines(medianMs: 1250, frames: 4, replicas: 1, trigger: "live", threads: 1, threadsSource: "default")
        #expect(l[1].hasPrefix("the page: an answer every 1.25 s; it shows how old each answered image is"))
        #expect(l[1].contains("`trigger: freeze`") && l[1].contains("`replicas: 2`"))
    }

    @Test("replicas divide the interval; freeze already chosen is not advised again")
    func replicas() {
        let l = CadenceAdvice.lines(medianMs: 1250, frames: 4, replicas: 2, trigger: "live", threads: 1, threadsSource: "default")
        #expect(l[0].contains(", 2 replicas"))
        #expect(l[1].hasPrefix("the page: an answer every 0.62 s (1.6/s)"))
        let frozen = CadenceAdvice.lines(medianMs: 3000, frames: 2, replicas: 1, trigger: "freeze", threads: 1, threadsSource: "d")
        #expect(!frozen[1].contains("trigger: freeze") && frozen[1].contains("replicas: 2"))
    }
}
