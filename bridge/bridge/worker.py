"""The worker loop: connect, hello, load, then answer one frame at a time."""

from __future__ import annotations

import mmap
import os
import platform
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import __version__, hub, network
from .core import (
    Error,
    Fatal,
    Frame,
    Heartbeat,
    Hello,
    Message,
    Network,
    ProtocolError,
    Ready,
    Result,
    ResultError,
    Shutdown,
    convert_result,
    decode,
    encode,
    error_line,
    format_traceback,
    frame_image,
)
from .loader import LoadError, Model, load
from .output import OUTPUT_ENV, OutputMap

EXIT_OK = 0
EXIT_FATAL = 3
POLL_MS = 500
HEARTBEAT_S = 1.0
LINGER_MS = 2000  # how long a last message (fatal) may take to leave after close
DEFAULT_IDLE_TIMEOUT_S = 1800.0
MAX_MAPPINGS = 16


class Terminate(BaseException):
    """Raised by the SIGTERM/SIGINT handler; not an Exception, so researcher code does not catch it."""


class SharedMemory:
    """Read-only mappings of shm files, one per path, remapped when the file is replaced or resized."""

    def __init__(self) -> None:
        self._maps: Dict[str, Tuple[Tuple[int, int, int], mmap.mmap]] = {}

    def buffer(self, path: str) -> mmap.mmap:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_size)
        cached = self._maps.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        with open(path, "rb") as f:
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.pop(path, None)  # an old mapping is unmapped once no image refers to it
        if len(self._maps) >= MAX_MAPPINGS:
            self._maps.pop(next(iter(self._maps)))
        self._maps[path] = (key, mapping)
        return mapping


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


class Worker:
    """One worker incarnation on a connected DEALER socket."""

    def __init__(
        self, sock: zmq.Socket[bytes], name: str, idle_timeout_s: float, monitor: Optional[zmq.Socket[bytes]] = None
    ) -> None:
        self.sock = sock
        self.name = name
        self.idle_timeout_s = idle_timeout_s
        self.shm = SharedMemory()
        # A remote worker outlives its connection: Bedside may restart, or rebind after a failure. Each new
        # connection after the first is a Bedside that has not heard hello, so hello (and ready) are said again.
        self.monitor = monitor
        self.connections = 0
        self.hello: Optional[Hello] = None
        self.ready: Optional[Ready] = None
        self.network: Optional[network.Auditor] = None
        self.output: Optional[OutputMap] = None  # the model's `output:` block: its own return value mapped

    def send(self, message: Message) -> None:
        """Send one message, waiting for a peer; while waiting, keep reading connection events.

        A DEALER whose only connection was refused (a key not in authorized_workers) has no pipe, so a
        plain blocking send would hang before the loop ever reads the monitor, and the worker would never
        say why it was refused.
        """
        data = encode(message)
        while True:
            try:
                self.sock.send(data, zmq.NOBLOCK)
                return
            except zmq.Again:
                if self.monitor is not None:
                    self.connection_events()
                self.sock.poll(POLL_MS, zmq.POLLOUT)

    def report_network(self, force: bool = False) -> None:
        """Send the research code's new network attempts (and, at most once a second, new counts)."""
        if self.network is not None:
            attempts = self.network.take(force)
            if attempts:
                self.send(Network(attempts=attempts))

    def fatal(self, stage: str, exc: BaseException, fault: str) -> int:
        error = error_line(exc)
        if stage in ("import", "setup"):
            error = self.hub_miss(exc) or error
        try:
            self.report_network(force=True)  # an import-time download that failed: Bedside hears of it first
        except Exception:
            pass
        tb = format_traceback(exc)
        self.send(Fatal(stage=stage, error=error, traceback=tb, fault=fault))
        print(f"bridge: fatal ({stage}): {error}\n{tb}", file=sys.stderr, flush=True)
        return EXIT_FATAL

    def hub_miss(self, exc: BaseException) -> Optional[str]:
        """A construction that failed on a hub file it could not have: the file, its URL and the fix; else None."""
        auditor = self.network
        try:
            request = hub.find_request(exc, research=auditor.is_research if auditor is not None else None)
            if request is None:
                return None
            mode = auditor.mode if auditor is not None else network.read_mode(os.environ)
            if auditor is not None:
                auditor.record_request(request.host, request.port, request.url, "huggingface_hub", request.where,
                                       request.function)
            config = auditor.config if auditor is not None else os.environ.get(network.CONFIG_ENV)
            return f"{hub.explain(request, mode, config)} ({error_line(exc)})"
        except Exception:  # naming the file is a courtesy: never lose the real error over it
            return None

    def serve(self, entry: str, setup: Optional[str], workdir: Optional[str]) -> int:
        self.hello = Hello(pid=os.getpid(), name=self.name, python=platform.python_version(), bridge=__version__)
        self.send(self.hello)
        try:
            # Before the research code is imported: offline switches, cache folders, and the audit hook.
            self.network = network.install()
        except Exception as exc:
            return self.fatal("import", exc, "bridge")
        if os.environ.get(OUTPUT_ENV):
            try:
                self.output = OutputMap.from_json(os.environ[OUTPUT_ENV])
            except ValueError as exc:
                return self.fatal("setup", exc, "researcher")
        start = time.perf_counter()
        try:
            model = load(entry, setup, workdir)
        except LoadError as exc:
            return self.fatal(exc.stage, exc.cause, "researcher")
        self.report_network(force=True)
        info = dict(model.info or {})
        if self.output is not None:
            for key, value in self.output.declares().items():
                info.setdefault(key, value)  # what the code declares itself wins
        self.ready = Ready(setup_ms=ms_since(start), model=info or None)
        self.send(self.ready)
        try:
            return self.loop(model)
        except (Exception, SystemExit) as exc:  # a bad message, an unreadable shm file, or a bridge bug
            return self.fatal("protocol", exc, "bridge")

    def loop(self, model: Model) -> int:
        last = time.monotonic()
        beat = last
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        if self.monitor is not None:
            poller.register(self.monitor, zmq.POLLIN)
        while True:
            events = dict(poller.poll(POLL_MS))
            if self.monitor is not None and self.monitor in events:
                self.connection_events()
            if self.sock not in events:
                self.report_network()  # attempts of the research code's own threads while no frame runs
                now = time.monotonic()
                if self.idle_timeout_s > 0 and now - last > self.idle_timeout_s:
                    print(f"bridge: no message for {self.idle_timeout_s:g} s, exiting", file=sys.stderr, flush=True)
                    return EXIT_OK
                if now - beat >= HEARTBEAT_S:
                    beat = now
                    self.send(Heartbeat(time_ns=time.monotonic_ns()))
                continue
            parts = self.sock.recv_multipart()
            received = time.perf_counter()
            received_ns = time.monotonic_ns()
            last = time.monotonic()
            message = decode(parts[0])
            if isinstance(message, Shutdown):
                return EXIT_OK
            if not isinstance(message, Frame):
                raise ProtocolError(f"unexpected {message.type!r} message from Bedside")
            self.send(self.answer(model, message, parts[1:], received, received_ns))
            self.report_network()
            beat = time.monotonic()

    def connection_events(self) -> None:
        """Log connects and drops; on a reconnect, introduce this worker to the Bedside at the other end again."""
        assert self.monitor is not None
        while self.monitor.poll(0, zmq.POLLIN):
            event = recv_monitor_message(self.monitor)
            kind, endpoint = event["event"], event.get("endpoint", b"")
            where = endpoint.decode(errors="replace") if isinstance(endpoint, bytes) else str(endpoint)
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connections += 1
                print(f"bridge: connected to Bedside at {where} (connection {self.connections})", file=sys.stderr, flush=True)
                if self.connections > 1:
                    if self.hello is not None:
                        self.send(self.hello)
                    if self.ready is not None:
                        self.send(self.ready)
                    if self.network is not None and self.network.all():
                        self.send(Network(attempts=self.network.all()))
            elif kind == zmq.EVENT_DISCONNECTED:
                print(f"bridge: lost the connection to Bedside at {where}; reconnecting", file=sys.stderr, flush=True)
            elif kind in (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                          zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
                print(
                    f"bridge: Bedside at {where} refused this worker (ZeroMQ event {kind}, value {event.get('value')}): "
                    "is this worker's public key in Bedside's authorized_workers, and --server-key Bedside's server.pub?",
                    file=sys.stderr, flush=True)

    def answer(
        self, model: Model, frame: Frame, rest: List[bytes], received: float, received_ns: Optional[int] = None
    ) -> Message:
        """Run the model on one frame; the result, or an error saying whose fault it is."""
        if frame.shm is not None:
            buffer: Any = self.shm.buffer(frame.shm)
        elif rest:
            buffer = rest[0]
        else:
            raise ProtocolError(f"frame {frame.seq} has neither shm nor a pixel frame")
        image = frame_image(frame, buffer)
        start = time.perf_counter()
        start_ns = time.monotonic_ns()
        try:
            value = model(image, frame.upstream)
            if not isinstance(value, dict) and callable(getattr(value, "to_dict", None)):
                value = value.to_dict()
        except (Exception, SystemExit) as exc:
            return Error(frame.seq, ms_since(start), error_line(exc), format_traceback(exc, skip=1), "researcher")
        model_ms = ms_since(start)
        end_ns = time.monotonic_ns()
        try:
            result = convert_result(self.output.apply(value) if self.output is not None else value)
        except ResultError as exc:
            return Error(frame.seq, model_ms, error_line(exc), "", exc.fault)
        return Result(
            frame.seq, model_ms, ms_since(received), result,
            received_ns=received_ns, start_ns=start_ns, end_ns=end_ns,
        )


def watch_parent(interval_s: float = 1.0) -> None:
    """Exit the whole process when the parent dies, even while the model is busy (a daemon thread)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(EXIT_OK)

    if parent != 1:
        threading.Thread(target=watch, name="bridge-parent-watch", daemon=True).start()


def _terminate(signum: int, frame: Any) -> None:
    raise Terminate()


def run(
    endpoint: str,
    entry: str,
    setup: Optional[str] = None,
    name: str = "",
    workdir: Optional[str] = None,
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    curve: Optional[Tuple[str, str, str]] = None,
) -> int:
    """Serve Bedside on `endpoint` until shutdown; returns the process exit code.

    `curve` = (server public key, own public key, own secret key), Z85 text: a remote worker authenticates
    to Bedside and the connection is encrypted (ZeroMQ CURVE).
    """
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    watch_parent()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    if curve is not None:
        server_public, public, secret = curve
        sock.curve_serverkey = server_public.encode("ascii")
        sock.curve_publickey = public.encode("ascii")
        sock.curve_secretkey = secret.encode("ascii")
    monitor = None
    if endpoint.startswith("tcp://"):
        monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        print(f"bridge: connecting to Bedside at {endpoint}", file=sys.stderr, flush=True)
    try:
        sock.connect(endpoint)
        return Worker(sock, name, idle_timeout_s, monitor).serve(entry, setup, workdir)
    except Terminate:
        sock.setsockopt(zmq.LINGER, 0)
        return EXIT_OK
    finally:
        if monitor is not None:
            sock.disable_monitor()
            monitor.close(linger=0)
        sock.close()
        ctx.term()
