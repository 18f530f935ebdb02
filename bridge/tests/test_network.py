"""Network audit and offline-by-default (bridge.network), with no internet: a loopback HTTP server stands in
for a model hub, a loopback listener for a telemetry endpoint.

The audit hook cannot be removed once installed, so it is never installed in the pytest process: workers and
probe scripts run as subprocesses, and the unit tests call an uninstalled Auditor's hook directly.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest

from bridge import network
from bridge.core import Network, ProtocolError, decode, encode
from conftest import BEDSIDE_ENV as WORKER_ENV
from conftest import BRIDGE_ROOT, MODELS, FakeBedside

HUB_MODEL = MODELS / "hub_download.py"
TELEMETRY_MODEL = MODELS / "telemetry.py"
WEIGHTS = bytes(range(256)) * 64
WEIGHTS_NAME = f"tiny-net-{hashlib.sha256(WEIGHTS).hexdigest()[:8]}.pth"
BEDSIDE_ENV = (*WORKER_ENV, *network.OFFLINE_SWITCHES)  # what the `env` fixture (conftest.py) clears


def line_of(path: Path, text: str) -> int:
    """The (1-based) number of the one line of `path` that contains `text`."""
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, (path, text, lines)
    return lines[0]


class Hub:
    """A loopback HTTP server serving WEIGHTS under /checkpoints/, counting the requests it gets."""

    def __init__(self) -> None:
        hub = self
        self.requests: List[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hub.requests.append(self.path)
                if self.path != f"/checkpoints/{WEIGHTS_NAME}":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(WEIGHTS)))
                self.end_headers()
                self.wfile.write(WEIGHTS)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/checkpoints/{WEIGHTS_NAME}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    try:
        yield server
    finally:
        server.stop()


def messages_until(bedside: FakeBedside, kind: str, timeout_s: float = 10.0) -> List[Dict[str, Any]]:
    """Every message (heartbeats aside) up to and including the first of type `kind`."""
    out = []
    deadline = time.monotonic() + timeout_s
    while True:
        message = bedside.recv(timeout_s=max(0.1, deadline - time.monotonic()))
        out.append(message)
        if message["type"] == kind:
            return out


def quiet_for(bedside: FakeBedside, seconds: float) -> List[Dict[str, Any]]:
    """Every message (heartbeats included) the worker sends in the next `seconds`."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if bedside.sock.poll(int(left * 1000)):
            out.append(json.loads(bedside.sock.recv_multipart()[0]))
    return out


def attempt_lines(bedside: FakeBedside) -> List[str]:
    return [line for line in bedside.output("stderr").splitlines() if line.startswith("bridge: network attempt")]


# --- the worker, end to end -------------------------------------------------------------------------------


def test_download_at_import_under_deny_fails_at_once_naming_the_url_and_the_fix(
    bedside: FakeBedside, hub: Hub, env: Callable[..., None], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env(BEDSIDE_NETWORK="deny", BEDSIDE_MODEL_CACHE=cache, BEDSIDE_TEST_HUB_URL=hub.url,
        BEDSIDE_CONFIG="/etc/bedside/bedside.yaml")
    started = time.monotonic()
    bedside.start("--entry", f"{HUB_MODEL}:predict")
    messages = messages_until(bedside, "fatal")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the worker took {elapsed:.2f} s to fail"
    assert [m["type"] for m in messages] == ["hello", "network", "fatal"], messages
    where = f"{HUB_MODEL}:{line_of(HUB_MODEL, 'u = urllib.request.urlopen(req)')}"
    assert messages[1]["attempts"] == [{
        "host": "127.0.0.1", "port": hub.port, "url": hub.url, "event": "urllib.Request", "where": where,
        "function": "download_url_to_file", "count": 1, "denied": True,
    }]
    fatal = messages[2]
    assert (fatal["stage"], fatal["fault"]) == ("import", "researcher")
    assert fatal["error"].startswith(f"URLDenied: network access is off for this model (network: deny): {hub.url}. ")
    assert "Run `bedside prepare --config /etc/bedside/bedside.yaml` once on a machine with internet" in fatal["error"]
    assert "or set `network: allow` for this model" in fatal["error"]
    assert f"{HUB_MODEL}\", line" in fatal["traceback"]
    assert bedside.wait() == 3
    assert hub.requests == []  # refused before anything left the process
    assert attempt_lines(bedside) == [f"bridge: network attempt 127.0.0.1:{hub.port} {hub.url} from {where} (denied)"]
    assert not (cache / "torch" / "hub" / "checkpoints" / WEIGHTS_NAME).exists()


def test_prepared_cache_then_offline_start_makes_no_attempt(
    bedside: FakeBedside, hub: Hub, env: Callable[..., None], tmp_path: Path
) -> None:
    cache, log = tmp_path / "cache", tmp_path / "network.jsonl"
    # `bedside prepare`: network allowed, caches under the model's cache folder, every attempt logged.
    env(BEDSIDE_NETWORK="allow", BEDSIDE_MODEL_CACHE=cache, BEDSIDE_NETWORK_LOG=log, BEDSIDE_TEST_HUB_URL=hub.url)
    bedside.start("--entry", f"{HUB_MODEL}:predict")
    messages = messages_until(bedside, "ready")
    assert [m["type"] for m in messages] == ["hello", "network", "ready"], messages
    (attempt,) = messages[1]["attempts"]
    assert (attempt["url"], attempt["event"], attempt["count"], attempt["denied"]) == (
        hub.url, "urllib.Request", 1, False)
    assert hub.requests == [f"/checkpoints/{WEIGHTS_NAME}"]
    cached = cache / "torch" / "hub" / "checkpoints" / WEIGHTS_NAME
    assert cached.read_bytes() == WEIGHTS
    (logged,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert {k: logged[k] for k in ("host", "port", "url", "event", "where", "denied")} == {
        k: attempt[k] for k in ("host", "port", "url", "event", "where", "denied")}
    assert logged["pid"] == messages[0]["pid"] and isinstance(logged["time"], float)
    bedside.send({"type": "shutdown"})
    assert bedside.wait() == 0

    # On the box: the hub is gone, network denied, the same cache.
    hub.stop()
    offline_log = tmp_path / "offline.jsonl"
    env(BEDSIDE_NETWORK="deny", BEDSIDE_NETWORK_LOG=offline_log)
    box = FakeBedside()
    try:
        box.start("--entry", f"{HUB_MODEL}:predict")
        assert [m["type"] for m in messages_until(box, "ready")] == ["hello", "ready"]
        box.frame(1, np.zeros((4, 4), dtype=np.uint8))
        messages = messages_until(box, "result")
        assert [m["type"] for m in messages] == ["result"]
        assert messages[0]["result"]["extra"] == {
            "weights_sha256": hashlib.sha256(WEIGHTS).hexdigest(), "weights_bytes": len(WEIGHTS)}
        later = quiet_for(box, 0.3)  # a network message would follow the result at once
        assert all(m["type"] == "heartbeat" for m in later), later
        assert attempt_lines(box) == []
        assert not offline_log.exists()
    finally:
        box.close()


@pytest.mark.parametrize("mode", ["deny", "allow"])
def test_telemetry_per_frame_is_reported_with_host_and_port(
    bedside: FakeBedside, env: Callable[..., None], mode: str
) -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    port = listener.getsockname()[1]
    try:
        env(BEDSIDE_NETWORK=mode, BEDSIDE_TEST_TELEMETRY=f"127.0.0.1:{port}")
        bedside.start("--entry", f"{TELEMETRY_MODEL}:predict")
        bedside.handshake()
        reports = []
        for seq in range(1, 6):
            bedside.frame(seq, np.zeros((4, 4), dtype=np.uint8))
            for message in messages_until(bedside, "result"):
                if message["type"] == "network":
                    reports.append(message)
                else:
                    assert message["seq"] == seq
                    assert message["result"]["extra"] == {"telemetry_sent": mode == "allow"}
        where = f"{TELEMETRY_MODEL}:{line_of(TELEMETRY_MODEL, 'socket.create_connection(')}"
        expected = {"host": "127.0.0.1", "port": port, "event": "socket.getaddrinfo", "where": where,
                    "function": "send_usage", "denied": mode == "deny"}
        assert reports and reports[0]["attempts"] == [{**expected, "count": 1}]  # the first, at once
        deadline = time.monotonic() + 5
        while reports[-1]["attempts"][0]["count"] < 5:  # then the count, at most once a second
            assert time.monotonic() < deadline, reports
            reports.extend(m for m in quiet_for(bedside, 0.5) if m["type"] == "network")
        assert reports[-1]["attempts"] == [{**expected, "count": 5}]
        assert len(reports) <= 3, reports
        verdict = "denied" if mode == "deny" else "allowed"
        assert attempt_lines(bedside) == [f"bridge: network attempt 127.0.0.1:{port} from {where} ({verdict})"]
        listener.setblocking(False)
        connections = 0
        while True:
            try:
                listener.accept()[0].close()
                connections += 1
            except BlockingIOError:
                break
        assert connections == (0 if mode == "deny" else 5)
    finally:
        listener.close()


def test_the_bridges_own_tcp_connection_is_not_a_network_attempt(
    bedside: FakeBedside, env: Callable[..., None]
) -> None:
    """A remote worker under deny still reaches Bedside: libzmq's sockets raise no Python audit events."""
    port = bedside.sock.bind_to_random_port("tcp://127.0.0.1")
    bedside.endpoint = f"tcp://127.0.0.1:{port}"
    env(BEDSIDE_NETWORK="deny")
    bedside.start("--entry", f"{MODELS / 'noop.py'}:predict")
    assert [m["type"] for m in messages_until(bedside, "ready")] == ["hello", "ready"]
    bedside.frame(1, np.zeros((4, 4), dtype=np.uint8), remote=True)
    assert [m["type"] for m in messages_until(bedside, "result")] == ["result"]
    assert attempt_lines(bedside) == []


# --- real audit events in a probe process ---------------------------------------------------------------

PROBE = r'''
import json, os, socket, sys, tempfile, threading, urllib.error, urllib.request, http.client
from bridge import network
auditor = network.install()
port = int(sys.argv[1])
threading.excepthook = lambda args: None
results = {}

def attempt(name, fn):
    try:
        fn()
        results[name] = "ok"
    except Exception as exc:
        results[name] = [type(exc).__name__, isinstance(exc, ConnectionRefusedError),
                         isinstance(exc, urllib.error.URLError), str(exc)]

def download():
    urllib.request.urlopen(f"http://127.0.0.1:{port}/checkpoints/x.pth").read()

def raw_connect():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    finally:
        s.close()

def http_client():
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/api/models/x")
    c.getresponse().read()

def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", port))

def local_only():
    a, b = socket.socketpair()
    a.send(b"x"); b.recv(1)
    path = os.path.join(tempfile.mkdtemp(), "s")
    server = socket.socket(socket.AF_UNIX); server.bind(path); server.listen(1)
    client = socket.socket(socket.AF_UNIX); client.connect(path)
    with open(path + ".txt", "w") as f:
        f.write("x")
    urllib.request.urlopen("file://" + path + ".txt").read()
    socket.getaddrinfo(None, 0, flags=socket.AI_PASSIVE)

def in_a_thread():
    thread = threading.Thread(target=raw_connect)
    thread.start()
    thread.join()

attempt("download", download)
attempt("raw_connect", raw_connect)
attempt("http_client", http_client)
attempt("udp", udp)
attempt("lookup", lambda: socket.gethostbyname("localhost"))
attempt("local_only", local_only)
attempt("in_a_thread", in_a_thread)
print(json.dumps({"results": results, "attempts": auditor.take(force=True)}))
'''


def run_probe(tmp_path: Path, hub: Hub, mode: str) -> Dict[str, Any]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k not in BEDSIDE_ENV}
    env.update(PYTHONPATH=str(BRIDGE_ROOT), BEDSIDE_NETWORK=mode)
    done = subprocess.run([sys.executable, str(script), str(hub.port)], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    out: Dict[str, Any] = json.loads(done.stdout)
    out["where"] = {name: f"{script}:{line_of(script, text)}" for name, text in (
        ("download", 'urllib.request.urlopen(f"http'), ("raw_connect", "s.connect(("),
        ("http_client", 'c.request("GET"'), ("udp", "s.sendto("), ("lookup", "gethostbyname"))}
    return out


def test_probe_under_deny_refuses_every_internet_socket_and_nothing_local(tmp_path: Path, hub: Hub) -> None:
    probe = run_probe(tmp_path, hub, "deny")
    results, where = probe["results"], probe["where"]
    assert results["local_only"] == "ok"  # Unix sockets, socketpairs, file:// URLs, passive lookups
    kind, refused, url_error, message = results["download"]
    assert (kind, refused, url_error) == ("URLDenied", True, True)
    assert message.startswith(f"network access is off for this model (network: deny): http://127.0.0.1:{hub.port}/")
    assert "bedside prepare --config <bedside.yaml>" in message
    for name in ("raw_connect", "http_client", "udp", "lookup"):
        assert results[name][:3] == ["NetworkDenied", True, False], (name, results[name])
    assert results["in_a_thread"] == "ok"  # the thread's exception stays in the thread
    got = {(a["event"], a["where"]): a for a in probe["attempts"]}
    assert set(got) == {
        ("urllib.Request", where["download"]), ("socket.connect", where["raw_connect"]),
        ("http.client.connect", where["http_client"]), ("socket.sendto", where["udp"]),
        ("socket.gethostbyname", where["lookup"]),
    }
    assert all(a["denied"] for a in probe["attempts"])
    assert got["socket.connect", where["raw_connect"]]["count"] == 2  # once directly, once from the thread
    assert got["socket.gethostbyname", where["lookup"]]["host"] == "localhost"
    assert hub.requests == []


def test_probe_under_allow_reports_one_attempt_per_download(tmp_path: Path, hub: Hub) -> None:
    probe = run_probe(tmp_path, hub, "allow")
    results, where = probe["results"], probe["where"]
    assert results["download"][0] == "HTTPError"  # reached the server (a 404): allowed
    assert results["raw_connect"] == results["http_client"] == results["udp"] == results["lookup"] == "ok"
    downloads = [a for a in probe["attempts"] if a["where"] == where["download"]]
    assert downloads == [{  # urllib.Request, http.client.connect, getaddrinfo, connect, send: one attempt
        "host": "127.0.0.1", "port": hub.port, "url": f"http://127.0.0.1:{hub.port}/checkpoints/x.pth",
        "event": "urllib.Request", "where": where["download"], "function": "download", "count": 1, "denied": False,
    }]
    by_http = sorted((a["event"], a.get("url")) for a in probe["attempts"] if a["where"] == where["http_client"])
    assert by_http == [("http.client.connect", None),
                       ("http.client.send", f"http://127.0.0.1:{hub.port}/api/models/x")]
    assert hub.requests == ["/checkpoints/x.pth", "/api/models/x"]


# --- the hook's cost ------------------------------------------------------------------------------------

BENCH = r'''
import sys, time
import numpy as np
from bridge import network
from bridge.core import Frame
from bridge.loader import load
from bridge.worker import Worker
model = load(sys.argv[1])
image = np.zeros((224, 288), dtype=np.uint8)
worker = Worker(None, "bench", 0)
frame = Frame(seq=1, width=288, height=224, format="gray8", stride=288)
pixels = [image.tobytes()]

def per_call(fn, n, rounds=5):
    best = float("inf")
    for _ in range(rounds + 1):  # the first round warms up
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best

def predict():
    model(image)

def answer():  # the bridge's whole per-frame path but for ZeroMQ: view, call, convert, timings
    worker.answer(model, frame, pixels, time.perf_counter())

def audit_event():
    sys.audit("bedside.bench")

cases = ((predict, 20_000), (answer, 2_000), (audit_event, 20_000))
before = [per_call(*case) for case in cases]
network.install()
after = [per_call(*case) for case in cases]
events = []
sys.addaudithook(lambda event, args: events.append(event))
for _ in range(100):
    answer()
print(" ".join(f"{b:.1f} {a:.1f}" for b, a in zip(before, after)), len(events) / 100)
'''


def test_hook_cost_for_a_noop_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints ns per predict call (and per frame, and per unrelated audit event) without and with the hook."""
    script = tmp_path / "bench.py"
    script.write_text(BENCH)
    env = {k: v for k, v in os.environ.items() if k not in BEDSIDE_ENV}
    env["PYTHONPATH"] = str(BRIDGE_ROOT)
    done = subprocess.run([sys.executable, str(script), f"{MODELS / 'noop.py'}:predict"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    predict_off, predict_on, answer_off, answer_on, event_off, event_on, events = map(float, done.stdout.split())
    with capsys.disabled():
        print(f"\nnetwork audit hook, no-op model, ns per call without / with the hook: predict {predict_off:.0f} / "
              f"{predict_on:.0f}, bridge per-frame path {answer_off:.0f} / {answer_on:.0f}; audit events per frame: "
              f"{events:g}; an unrelated audit event {event_off:.0f} / {event_on:.0f}")


# --- the Auditor, called directly (never installed here) -----------------------------------------------


class FakeSocket:
    def __init__(self, family: int = socket.AF_INET) -> None:
        self.family = family


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def auditor(mode: str = "allow", **kwargs: Any) -> network.Auditor:
    return network.Auditor(mode, stderr=io.StringIO(), **kwargs)


def here() -> str:
    frame = sys._getframe(1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno + 1}"  # the line after the call


def connect(aud: network.Auditor, times: int = 1) -> str:
    """Research code connecting to 10.1.2.3:443 `times` times from one line; returns that line's `where`."""
    for _ in range(times):
        where = here()
        aud.hook("socket.connect", (FakeSocket(), ("10.1.2.3", 443)))
    return where


def test_attempts_are_deduplicated_and_counts_reported_at_most_once_a_second() -> None:
    clock = Clock()
    aud = auditor(clock=clock)
    where = connect(aud, 3)
    assert aud.take() == [{"host": "10.1.2.3", "port": 443, "event": "socket.connect", "where": where,
                           "function": "connect", "count": 3, "denied": False}]
    connect(aud, 2)
    assert aud.take() == []  # a repeat within the second waits
    aud.hook("socket.connect", (FakeSocket(), ("10.1.2.3", 443)))  # another line: another attempt
    assert [a["count"] for a in aud.take()] == [1]  # new ones go at once
    clock.now += 1.0
    assert [(a["where"], a["count"]) for a in aud.take()] == [(where, 5)]
    assert aud.take() == [] and aud.take(force=True) == []
    connect(aud)
    assert [a["count"] for a in aud.take(force=True)] == [6]
    assert sorted(a["count"] for a in aud.all()) == [1, 6]
    assert aud._stderr.getvalue() == (  # type: ignore[attr-defined]
        f"bridge: network attempt 10.1.2.3:443 from {where} (allowed)\n"
        f"bridge: network attempt 10.1.2.3:443 from {aud.all()[1]['where']} (allowed)\n")


def test_one_download_is_one_attempt_with_its_url() -> None:
    aud = auditor()
    conn = http.client.HTTPSConnection("hub.example")  # not connected: only its type and host are read
    events = [
        ("urllib.Request", ("https://hub.example/w/resnet.pth", None, {}, "GET")),
        ("http.client.connect", (conn, "hub.example", 443)),
        ("socket.getaddrinfo", ("hub.example", 443, 0, 1, 0)),
        ("socket.connect", (FakeSocket(socket.AF_INET6), ("2001:db8::1", 443, 0, 0))),
        ("socket.connect", (FakeSocket(), ("192.0.2.7", 443))),  # the next address, after the first failed
        ("http.client.send", (conn, b"GET /w/resnet.pth HTTP/1.1\r\nHost: hub.example\r\n\r\n")),
        ("http.client.send", (conn, b"\x00" * 100)),
    ]
    for _ in range(2):
        for event, args in events:
            aud.hook(event, args)
    (attempt,) = aud.take(force=True)
    assert {k: attempt[k] for k in ("host", "port", "url", "event", "count")} == {
        "host": "hub.example", "port": 443, "url": "https://hub.example/w/resnet.pth", "event": "urllib.Request",
        "count": 2}


def test_a_library_connection_then_its_requests() -> None:
    """requests/urllib3: a lookup and a connect (one attempt), then one attempt per URL asked over it."""
    aud = auditor()

    class HTTPConnection:
        sock = FakeSocket()
        host, port = "hub.example", 80

    events = [
        ("socket.getaddrinfo", ("hub.example", 80, 0, 1, 0)),
        ("socket.connect", (FakeSocket(), ("192.0.2.7", 80))),
        ("http.client.send", (HTTPConnection(), b"GET /api/a HTTP/1.1\r\nHost: hub.example\r\n\r\n")),
        ("http.client.send", (HTTPConnection(), b"HEAD /b?x=1 HTTP/1.1\r\nhost: hub.example:80\r\n\r\n")),
        ("socket.getaddrinfo", ("hub.example", 80, 0, 1, 0)),  # a second connection: a repeat
        ("socket.connect", (FakeSocket(), ("192.0.2.7", 80))),
    ]
    for event, args in events:
        aud.hook(event, args)
    got = sorted((a["event"], a.get("url"), a["count"]) for a in aud.take(force=True))
    assert got == [("http.client.send", "http://hub.example/api/a", 1),
                   ("http.client.send", "http://hub.example:80/b?x=1", 1),
                   ("socket.getaddrinfo", None, 2)]


def test_deny_raises_an_oserror_that_names_the_target_and_the_fix() -> None:
    aud = auditor("deny", config="/srv/bedside.yaml")
    with pytest.raises(network.URLDenied) as info:
        aud.hook("urllib.Request", ("https://hub.example/w.pth", None, {}, "GET"))
    exc = info.value
    assert isinstance(exc, ConnectionRefusedError) and isinstance(exc, urllib.error.URLError)
    assert (exc.host, exc.port, exc.url) == ("hub.example", 443, "https://hub.example/w.pth")
    assert str(exc) == exc.reason == (
        "network access is off for this model (network: deny): https://hub.example/w.pth. Run `bedside prepare "
        "--config /srv/bedside.yaml` once on a machine with internet to fetch it into the model's cache, or set "
        "`network: allow` for this model.")
    with pytest.raises(network.NetworkDenied, match=r"\(network: deny\): \[::1\]:8080\. Run") as info2:
        aud.hook("socket.connect", (FakeSocket(socket.AF_INET6), ("::1", 8080, 0, 0)))
    assert not isinstance(info2.value, urllib.error.URLError)
    with pytest.raises(network.NetworkDenied, match=r": localhost:80\. "):
        aud.hook("socket.getaddrinfo", ("localhost", "80", 0, 1, 0))
    assert all(a["denied"] for a in aud.take())


@pytest.mark.parametrize("event, args", [
    ("socket.connect", (FakeSocket(socket.AF_UNIX), "/run/x.sock")),
    ("socket.sendto", (FakeSocket(socket.AF_NETLINK if hasattr(socket, "AF_NETLINK") else 16), (0, 0))),
    ("socket.sendmsg", (FakeSocket(), None)),
    ("socket.getaddrinfo", (None, 0, 0, 1, 1)),
    ("urllib.Request", ("file:///etc/hostname", None, {}, "GET")),
    ("urllib.Request", ("data:,hello", None, {}, "GET")),
    ("http.client.send", (type("C", (), {"sock": FakeSocket(socket.AF_UNIX), "host": "localhost"})(),
                          b"GET /v1.41/info HTTP/1.1\r\n\r\n")),
    ("open", ("/etc/hostname", "r", 0)),
    ("socket.bind", (FakeSocket(), ("0.0.0.0", 80))),
], ids=["unix", "netlink", "sendmsg-connected", "passive-lookup", "file-url", "data-url", "http-over-unix", "open",
        "bind"])
def test_what_is_not_network_access_passes_even_under_deny(event: str, args: tuple) -> None:
    aud = auditor("deny")
    aud.hook(event, args)
    assert aud.all() == []


def test_the_hook_is_thread_safe() -> None:
    aud = auditor()

    def connect() -> None:
        for _ in range(500):
            aud.hook("socket.connect", (FakeSocket(), ("192.0.2.1", 9)))

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (attempt,) = aud.take(force=True)
    assert attempt["count"] == 4000 and attempt["function"] == "connect"


def test_where_skips_the_stdlib_site_packages_and_the_bridge() -> None:
    aud = auditor()
    kind = aud._kind
    assert kind(__file__) == network._RESEARCH
    assert kind(str(HUB_MODEL)) == network._RESEARCH
    assert kind(socket.__file__) == network._SKIP
    assert kind(network.__file__) == network._SKIP
    assert kind(np.__file__) == network._LIBRARY
    assert kind("/opt/venv/lib/python3.11/site-packages/timm/models/_hub.py") == network._LIBRARY
    assert kind("<frozen importlib._bootstrap>") == network._SKIP


def test_distinct_attempts_are_bounded() -> None:
    aud = auditor()
    for i in range(3 * network.MAX_ATTEMPTS):
        aud.hook("urllib.Request", (f"http://10.0.0.1/frame?ts={i}", None, {}, "GET"))
    attempts = aud.take(force=True)
    assert network.MAX_ATTEMPTS < len(attempts) <= 2 * network.MAX_ATTEMPTS + 1
    assert sum(a["count"] for a in attempts) == 3 * network.MAX_ATTEMPTS


def test_the_network_log_gets_one_json_line_per_distinct_attempt(tmp_path: Path) -> None:
    log = tmp_path / "net.jsonl"
    aud = auditor(log_path=str(log))
    for _ in range(3):
        aud.hook("urllib.Request", ("https://hub.example/a.pth", None, {}, "GET"))
    aud.hook("urllib.Request", ("https://hub.example/b.pth", None, {}, "GET"))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["url"] for line in lines] == ["https://hub.example/a.pth", "https://hub.example/b.pth"]
    assert set(lines[0]) == {"time", "pid", "host", "port", "url", "event", "where", "function", "denied"}


# --- environment ----------------------------------------------------------------------------------------


def test_mode_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert network.read_mode({}) == "allow"
    assert network.read_mode({"BEDSIDE_NETWORK": "allow"}) == "allow"
    assert network.read_mode({"BEDSIDE_NETWORK": " Deny "}) == "deny"
    assert network.read_mode({"BEDSIDE_NETWORK": "off"}) == "deny"  # unknown: fail closed, and say so
    assert "BEDSIDE_NETWORK='off' is neither allow nor deny" in capsys.readouterr().err


def test_deny_sets_the_offline_switches_and_the_cache_goes_under_the_model_cache() -> None:
    environ = {"BEDSIDE_MODEL_CACHE": "/var/lib/bedside/cache/fetal", "HF_HOME": "/data/hf", "WANDB_MODE": "online"}
    changed = network.configure_environment("deny", environ)
    assert environ["TORCH_HOME"] == "/var/lib/bedside/cache/fetal/torch"
    assert environ["XDG_CACHE_HOME"] == "/var/lib/bedside/cache/fetal"
    assert environ["HF_HOME"] == "/data/hf"  # set already: kept
    assert environ["WANDB_MODE"] == "online"
    assert environ["HF_HUB_OFFLINE"] == environ["TRANSFORMERS_OFFLINE"] == environ["HF_DATASETS_OFFLINE"] == "1"
    assert "HF_HOME" not in changed and "TORCH_HOME" in changed and "HF_HUB_OFFLINE" in changed
    allowed: Dict[str, str] = {}
    assert network.configure_environment("allow", allowed) == [] and allowed == {}
    allowed = {"BEDSIDE_MODEL_CACHE": "/c"}
    network.configure_environment("allow", allowed)
    assert allowed == {"BEDSIDE_MODEL_CACHE": "/c", "TORCH_HOME": "/c/torch", "HF_HOME": "/c/huggingface",
                       "XDG_CACHE_HOME": "/c"}


# --- the message --------------------------------------------------------------------------------------


def test_network_message_round_trip_and_checks() -> None:
    attempts: List[Dict[str, Optional[Any]]] = [
        {"host": "hub.example", "port": 443, "url": "https://hub.example/w.pth", "event": "urllib.Request",
         "where": "/m/model.py:12", "function": "load", "count": 3, "denied": True},
        {"host": "telemetry.example", "event": "socket.gethostbyname", "where": "", "function": "", "count": 1,
         "denied": False},
    ]
    data = encode(Network(attempts=attempts))  # type: ignore[arg-type]
    assert json.loads(data) == {"type": "network", "attempts": attempts}
    assert decode(data) == Network(attempts=attempts)  # type: ignore[arg-type]
    for bad in ({**attempts[0], "count": "3"}, {**attempts[0], "denied": 1}, {**attempts[0], "port": True}, "x"):
        with pytest.raises(ProtocolError):
            decode(json.dumps({"type": "network", "attempts": [bad]}).encode())
