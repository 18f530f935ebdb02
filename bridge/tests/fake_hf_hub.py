"""A loopback stand-in for the Hugging Face hub: the part of it `hf_hub_download` uses.

`HEAD /<repo>/resolve/<revision>/<file>` answers with the headers huggingface_hub reads (X-Repo-Commit, ETag,
Content-Length); `GET` the same path sends the file. Any other request is answered 404 and counted like the rest,
so a test can say how many requests reached the "hub". Used by the bridge tests and the end-to-end tests
(HF_ENDPOINT=<endpoint>); no test needs the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from typing import Dict, List, Optional, Tuple

COMMIT = "4b0d1e5c0ffee0d1e5c0ffee0d1e5c0ffee0d1e5"


class FakeHub:
    def __init__(self, files: Dict[str, bytes]) -> None:
        """`files`: "org/repo/path/in/repo" -> contents."""
        self.files = dict(files)
        self.requests: List[Tuple[str, str]] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _file(self) -> Optional[bytes]:
                parts = self.path.split("?")[0].strip("/").split("/")
                if "resolve" not in parts:
                    return None
                i = parts.index("resolve")
                return hub.files.get("/".join(parts[:i] + parts[i + 2:]))

            def _headers(self, body: Optional[bytes]) -> bool:
                with hub._lock:
                    hub.requests.append((self.command, self.path))
                if body is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return False
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                return True

            def do_HEAD(self) -> None:
                self._headers(self._file())

            def do_GET(self) -> None:
                body = self._file()
                if self._headers(body):
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def file_requests(self) -> List[Tuple[str, str]]:
        with self._lock:
            return [r for r in self.requests if "/resolve/" in r[1]]

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()
