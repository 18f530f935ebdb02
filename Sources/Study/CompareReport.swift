import Foundation

/// The report of `bedside compare`: one self-contained HTML file (no script, no network; plots as inline SVG) and
/// the JSON summary beside it.
public enum CompareReport {
    public struct Summary: Codable, Sendable {
        public var sessions: [Comparison]
        /// Over every session, per pair (`reference vs other`): frames and the share that agreed.
        public var overall: [String: Overall]
        public struct Overall: Codable, Sendable {
            public var frames: Int
            public var agreement: Double
            public var disagreementSpans: Int
            enum CodingKeys: String, CodingKey {
                case frames, agreement
                case disagreementSpans = "disagreement_spans"
            }
        }
    }

    public static func summary(_ sessions: [Comparison]) -> Summary {
        var overall: [String: (frames: Int, same: Double, spans: Int)] = [:]
        for c in sessions {
            let ref = c.sources.first?.name ?? "?"
            for p in c.pairs {
                let key = "\(ref) vs \(p.other)"
                var o = overall[key] ?? (0, 0, 0)
                o.frames += p.frames
                o.same += p.agreement * Double(p.frames)
                o.spans += p.disagreements.count
                overall[key] = o
            }
        }
        return Summary(
            sessions: sessions,
            overall: overall.mapValues { .init(frames: $0.frames, agreement: $0.frames > 0 ? $0.same / Double($0.frames) : 0, disagreementSpans: $0.spans) })
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func pct(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
    static func sec(_ x: Double) -> String { String(format: "%.2f s", x) }

    /// A plane's colour on the strips (the same plane, the same colour, in every source and session); its status
    /// is the opacity: standard full, close half, any other a quarter.
    static let palette = ["#58a6ff", "#bc8cff", "#3fb950", "#f0883e", "#ff7b72", "#39c5cf", "#d2a8ff", "#e3b341"]

    static func colour(_ label: String, planes: [String]) -> (fill: String, opacity: Double)? {
        if label == "none" { return nil }
        if label == "no answer" { return ("#6e7681", 1) }
        let parts = label.split(separator: ":", maxSplits: 1).map(String.init)
        let i = planes.firstIndex(of: parts[0]) ?? 0
        let status = parts.count > 1 ? parts[1] : ""
        return (palette[i % palette.count], status == "standard" ? 1 : status == "close" ? 0.5 : 0.25)
    }

    static func planes(_ c: Comparison) -> [String] {
        Set(c.strips.values.flatMap { $0.map { String($0.label.split(separator: ":").first ?? "") } })
            .subtracting(["none", "no answer"]).sorted()
    }

    static func strip(_ c: Comparison) -> String {
        let width = 960.0, row = 22.0, labelW = 170.0
        let names = c.sources.map(\.name)
        let ref = names.first ?? ""
        let rows = names.count + c.pairs.count
        let h = Double(rows) * (row + 6) + 24
        let span = max(c.durationS, 0.001)
        let planes = Self.planes(c)
        func x(_ t: Double) -> Double { labelW + t / span * (width - labelW - 10) }
        var out = "<svg class=\"strip\" viewBox=\"0 0 \(Int(width)) \(Int(h))\" role=\"img\" aria-label=\"plane status over time per source\">"
        for (i, n) in names.enumerated() {
            let y = Double(i) * (row + 6) + 2
            out += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#c9d1d9\">\(esc(String(n.prefix(26))))</text>"
            for r in c.strips[n] ?? [] {
                guard let col = colour(r.label, planes: planes) else { continue }
                let w = max(1, x(r.endS) - x(r.startS))
                out +=
                    "<rect x=\"\(x(r.startS))\" y=\"\(y)\" width=\"\(w)\" height=\"\(row)\" fill=\"\(col.fill)\" fill-opacity=\"\(col.opacity)\"><title>\(esc(r.label)) \(sec(r.startS))-\(sec(r.endS))</title></rect>"
            }
        }
        // One row per pair: where the other disagrees with the reference.
        for (k, p) in c.pairs.enumerated() {
            let y = Double(names.count + k) * (row + 6) + 2
            out += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#ff7b72\">\(esc(String(p.other.prefix(18)))) ≠ \(esc(String(ref.prefix(6))))</text>"
            for d in p.disagreements {
                out +=
                    "<rect class=\"dis\" x=\"\(x(d.startS))\" y=\"\(y)\" width=\"\(max(1, x(d.endS) - x(d.startS)))\" height=\"\(row)\" fill=\"#f85149\"><title>\(esc(d.reference)) vs \(esc(d.other)), \(sec(d.startS))-\(sec(d.endS)) (frames \(d.startSeq)-\(d.endSeq))</title></rect>"
            }
        }
        let axisY = h - 6
        for k in 0...5 {
            let t = span * Double(k) / 5
            out += "<text x=\"\(x(t))\" y=\"\(axisY)\" font-size=\"10\" fill=\"#8b949e\" text-anchor=\"middle\">\(String(format: "%.0f s", t))</text>"
        }
        return out + "</svg>"
    }

    static func legend(_ c: Comparison) -> String {
        let planes = Self.planes(c)
        return "<p class=\"legend\">"
            + planes.enumerated().map { i, p in
                "<span style=\"background:\(palette[i % palette.count])\">\(esc(p))</span>"
            }.joined() + "<span class=\"dim\" style=\"color:#8b949e\">full colour: standard, half: close, faint: other status; red: disagreement</span></p>"
    }

    static func histogram(_ s: Comparison.SourceSummary) -> String {
        let bins = s.modelMsHistogram
        let top = max(1, bins.max() ?? 1)
        let w = 306.0, h = 80.0, bw = w / Double(bins.count)
        var out = "<svg class=\"hist\" viewBox=\"0 0 \(Int(w)) \(Int(h + 14))\" role=\"img\" aria-label=\"model time per answer, \(esc(s.name))\">"
        for (i, n) in bins.enumerated() where n > 0 {
            let bh = Double(n) / Double(top) * h
            out +=
                "<rect x=\"\(Double(i) * bw)\" y=\"\(h - bh)\" width=\"\(bw - 1)\" height=\"\(bh)\" fill=\"#58a6ff\"><title>\(i * 10)\(i == 50 ? "+" : "-\(i * 10 + 10)") ms: \(n)</title></rect>"
        }
        out += "<text x=\"0\" y=\"\(h + 12)\" font-size=\"10\" fill=\"#8b949e\">0 ms</text>"
        out += "<text x=\"\(w)\" y=\"\(h + 12)\" font-size=\"10\" fill=\"#8b949e\" text-anchor=\"end\">500+ ms</text>"
        return out + "</svg>"
    }

    public static func html(_ summary: Summary, title: String, seconds: Double, cores: Int) -> String {
        var b = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(title))</title>
            <style>
            body{margin:0;font:15px/1.4 system-ui,sans-serif;background:#0d1117;color:#e6edf3}main{max-width:1000px;margin:0 auto;padding:1rem}
            table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #30363d;padding:.25rem .5rem;text-align:right}th{background:#161b22}
            td:first-child,th:first-child{text-align:left}section{background:#161b22;border-radius:.5rem;padding:.5rem 1rem;margin:1rem 0}
            svg.strip{width:100%;height:auto;background:#0d1117}svg.hist{width:320px;height:auto}.hists{display:flex;flex-wrap:wrap;gap:1rem}
            .dim{color:#8b949e}.bad{color:#f85149}details summary{cursor:pointer}code{font:13px ui-monospace,monospace}
            .legend span{display:inline-block;padding:0 .4rem;margin-right:.4rem;border-radius:.3rem;color:#0d1117}
            </style></head><body><main>
            <h1>\(esc(title))</h1>
            <p class="dim">\(summary.sessions.count) session(s) compared in \(String(format: "%.1f", seconds)) s on \(cores) core(s). Answers are aligned by the frame's time: at each answer of the reference (the first source), each other source's latest answer at or before it (at most \(Int(Comparison.maxAge)) s old).</p>
            <h2>All sessions</h2><table data-testid="compare-overall"><tr><th>pair</th><th>frames</th><th>agreement</th><th>disagreement spans</th></tr>
            """
        for (k, o) in summary.overall.sorted(by: { $0.key < $1.key }) {
            b += "<tr><td>\(esc(k))</td><td>\(o.frames)</td><td>\(pct(o.agreement))</td><td>\(o.disagreementSpans)</td></tr>"
        }
        b += "</table>"
        for c in summary.sessions {
            b += "<section data-testid=\"compare-session\" data-session=\"\(esc(c.session))\"><h2>\(esc(c.session))</h2>"
            b +=
                "<p class=\"dim\">\(sec(c.durationS)) of answers; sources: \(c.sources.map { "\(esc($0.name)) (\(esc($0.kind)), \($0.answers))" }.joined(separator: ", "))</p>"
            b += legend(c) + strip(c)
            let planes = Set(c.sources.flatMap { $0.timeToPlane.keys }).sorted()
            if !planes.isEmpty {
                b += "<h3>Time to plane (first standard answer)</h3><table><tr><th>source</th>\(planes.map { "<th>\(esc($0))</th>" }.joined())</tr>"
                for s in c.sources {
                    b += "<tr><td>\(esc(s.name))</td>\(planes.map { p in "<td>\(s.timeToPlane[p].map(sec) ?? "never")</td>" }.joined())</tr>"
                }
                b += "</table>"
            }
            for p in c.pairs {
                let ref = c.sources.first?.name ?? ""
                b += "<h3>\(esc(ref)) vs \(esc(p.other)): \(pct(p.agreement)) of \(p.frames) frames agree</h3>"
                if !p.planeAgreement.isEmpty {
                    b += "<table><tr><th>plane</th><th>status agreement</th></tr>"
                    for (k, v) in p.planeAgreement.sorted(by: { $0.key < $1.key }) { b += "<tr><td>\(esc(k))</td><td>\(pct(v))</td></tr>" }
                    b += "</table>"
                }
                b +=
                    "<details data-testid=\"compare-disagreements\"><summary>\(p.disagreements.count) span(s) where they disagree</summary><table><tr><th>from</th><th>to</th><th>frames #</th><th>\(esc(ref))</th><th>\(esc(p.other))</th></tr>"
                for d in p.disagreements {
                    b +=
                        "<tr><td>\(sec(d.startS))</td><td>\(sec(d.endS))</td><td>\(d.startSeq)-\(d.endSeq)</td><td>\(esc(d.reference))</td><td>\(esc(d.other))</td></tr>"
                }
                b += "</table></details>"
                let labels = Set(p.confusion.keys).union(p.confusion.values.flatMap(\.keys)).sorted()
                b +=
                    "<details><summary>Confusion table (frames; rows: \(esc(ref)), columns: \(esc(p.other)))</summary><table><tr><th></th>\(labels.map { "<th>\(esc($0))</th>" }.joined())</tr>"
                for r in labels where p.confusion[r] != nil {
                    b +=
                        "<tr><td>\(esc(r))</td>\(labels.map { col in "<td\(col == r ? "" : (p.confusion[r]?[col] ?? 0) > 0 ? " class=\"bad\"" : "")>\(p.confusion[r]?[col] ?? 0)</td>" }.joined())</tr>"
                }
                b += "</table></details>"
                if !p.expertChoices.isEmpty {
                    b += "<h4>On the expert's best images</h4><table><tr><th>plane</th><th>time</th><th>\(esc(ref))</th><th>\(esc(p.other))</th></tr>"
                    for ch in p.expertChoices {
                        b +=
                            "<tr><td>\(esc(ch.plane))</td><td>\(sec(ch.t))</td><td>\(esc(ch.answers[ref] ?? ""))</td><td>\(esc(ch.answers[p.other] ?? ""))</td></tr>"
                    }
                    b += "</table>"
                }
            }
            b += "<h3>Model time per answer</h3><div class=\"hists\">"
            for s in c.sources {
                b +=
                    "<figure><figcaption>\(esc(s.name)): median \(s.modelMsMedian.map { String(format: "%.0f ms", $0) } ?? "–")</figcaption>\(histogram(s))</figure>"
            }
            b += "</div></section>"
        }
        return b + "</main></body></html>\n"
    }
}
