import BedsideCore
import Foundation

/// The straightforward approach a researcher would write, measured the same way in the same run: frames as
/// pickled numpy arrays, HTTP POST to a small inference server (Python's http.server, what a Flask app does),
/// the answer as JSON.
enum NaiveBaseline {
    static let script = #"""
        import http.client, http.server, json, pickle, socket, subprocess, sys, time

        import numpy as np


        def model(name, image):
            if name == "sleep50":
                time.sleep(0.050)
            return {}


        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                image = pickle.loads(body)
                t = time.perf_counter()
                result = model(self.path.strip("/"), image)
                ms = (time.perf_counter() - t) * 1000
                out = json.dumps({"result": result, "model_ms": ms}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass


        def serve(port):
            http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


        def main():
            if sys.argv[1] == "serve":
                serve(int(sys.argv[2]))
                return
            width, height, frames, name = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            server = subprocess.Popen([sys.executable, "-c", sys.argv[5], "serve", str(port)])
            try:
                for _ in range(100):
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port)
                        conn.connect()
                        break
                    except OSError:
                        time.sleep(0.05)
                image = np.full((height, width, 3), 90, dtype=np.uint8)
                for i in range(frames + 5):
                    image[0, 0, 0] = i % 256
                    t = time.perf_counter()
                    body = pickle.dumps(image)
                    conn.request("POST", "/" + name, body, {"Content-Type": "application/octet-stream"})
                    answer = json.loads(conn.getresponse().read())
                    trip = (time.perf_counter() - t) * 1000
                    if i >= 5:
                        print(json.dumps({"native": answer["model_ms"], "trip": trip}))
            finally:
                server.kill()


        main()
        """#

    static func run(python: String, width: Int, height: Int, frames: Int, model: String) throws -> (native: [Double], trip: [Double]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python.contains("/") ? python : "/usr/bin/env")
        p.arguments = (python.contains("/") ? [] : [python]) + ["-c", script, "\(width)", "\(height)", "\(frames)", model, script]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("the naive baseline failed (exit \(p.terminationStatus)); does \(python) have numpy?") }
        var native: [Double] = [], trip: [Double] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let o = try? JSONWire.decode([String: Double].self, from: String(line)) else { continue }
            native.append(o["native"] ?? 0)
            trip.append(o["trip"] ?? 0)
        }
        return (native, trip)
    }
}
extension BenchReports {
    public static func naive(quick: Bool, python: String) throws -> String {
        var out = "## Naive baseline (`bedside bench naive`)\n\n"
        out += "What a researcher would write without Bedside: each RGB frame pickled (numpy) and POSTed over HTTP/1.1 "
        out += "keep-alive to an inference server on the same machine (Python's http.server, as a Flask app would be), the "
        out += "answer as JSON. Same models, same measure. ms, p50 / p99 / max.\n\n"
        out += "| size | model | frames | native | round trip | overhead |\n|---|---|---|---|---|---|\n"
        for spec in (quick ? ["640x480", "1920x1080"] : ["640x480", "1280x720", "1920x1080"]) {
            let (w, h) = try parseSize(spec)
            for (model, n) in [("noop", quick ? 30 : 1000), ("sleep50", quick ? 10 : 200)] {
                let r = try NaiveBaseline.run(python: python, width: w, height: h, frames: n, model: model)
                out +=
                    "| \(w)x\(h) | \(model) | \(r.native.count) | \(Stats.cell(r.native)) | \(Stats.cell(r.trip)) | \(Stats.cell(zip(r.trip, r.native).map { $0 - $1 })) |\n"
            }
        }
        return out
    }
}
