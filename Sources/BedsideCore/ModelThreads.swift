/// How many threads a local model's numeric libraries (PyTorch, OpenMP, MKL, OpenBLAS, numexpr) may use.
///
/// PyTorch on CPU starts one thread per core and keeps them all busy during a forward pass; on the clinic's
/// 2-core mini PC that takes the core capture, recording and the page run on, and frames are dropped. By
/// default a model gets all cores but one, shared among its replicas; `threads:` in the model's config sets
/// the number. Pure: the worker process applies the result to its environment.
public enum ModelThreads {
    /// The variables the libraries read when they start (torch's intra-op pool follows OMP_NUM_THREADS).
    public static let variables = [
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    ]

    /// The default: every core but one, divided among the replicas, at least 1.
    public static func automatic(cores: Int, replicas: Int) -> Int {
        max(1, (cores - 1) / max(1, replicas))
    }

    /// The thread variables for one worker, and where the number came from.
    /// - `configured` (`threads:`) wins over what Bedside was started with; without it an inherited value is
    ///   kept (the operator chose it), else the automatic number. The model's own `env:` block wins over all
    ///   (it is applied after), so these are only the variables it does not set.
    public static func environment(
        configured: Int?, cores: Int, replicas: Int, inherited: [String: String], modelEnv: [String: String]
    ) -> (variables: [String: String], threads: Int, source: String) {
        let threads: Int
        let source: String
        if let configured {
            threads = configured
            source = "threads: \(configured) in the config"
        } else if let text = inherited["OMP_NUM_THREADS"], let n = Int(text), n > 0 {
            threads = n
            source = "OMP_NUM_THREADS=\(n) from the environment"
        } else {
            threads = automatic(cores: cores, replicas: replicas)
            source =
                "default: \(cores) core(s)\(replicas > 1 ? " among \(replicas) replicas" : ""), one left for capture, recording and the page"
        }
        var out: [String: String] = [:]
        for name in variables where modelEnv[name] == nil {
            if configured == nil, inherited[name] != nil { continue }  // the operator's own choice stays
            out[name] = String(threads)
        }
        return (out, threads, source)
    }
}
