"""Network audit: see, report and (under `network: deny`) refuse the research code's network attempts.

A `sys.addaudithook` hook, installed once per worker process before the research code is imported, sees the
audit events CPython raises for network use: `urllib.Request` (with the URL), `http.client.connect`,
`http.client.send` (the request line: the URL of requests/urllib3 downloads), `socket.getaddrinfo`,
`socket.gethostbyname` / `gethostbyaddr` / `getnameinfo`, `socket.connect` (and `connect_ex`),
`socket.sendto` / `sendmsg`, and the stdlib's mail/ftp/news/telnet clients. Only internet sockets count
(AF_INET, AF_INET6): Unix sockets, netlink and socketpairs are not network access. The bridge's own ZeroMQ
traffic is made by libzmq in C and raises no audit events, so it never shows up here.

Each attempt is recorded with host, port, URL (when known), the event, and the innermost stack frame in the
research code (not the standard library, not site-packages, not the bridge). One download through urllib
raises `urllib.Request`, `http.client.connect`, `socket.getaddrinfo`, `socket.connect` and `http.client.send`
in turn: these are grouped (same thread, same research frame) into one attempt that carries the URL.
Identical attempts (host, port, url, where) are counted, not repeated.

Under `BEDSIDE_NETWORK=deny` the hook raises `NetworkDenied` (a `ConnectionRefusedError`, so code written for
an offline machine handles it; from urllib also a `URLError`) at the first event, before any packet leaves,
with a message that names the URL or host:port and says how to fix it. Loopback is denied too: the research
code has no business with local servers on the box, and the bridge's own endpoints are not Python sockets.

The hook may run in any thread; attempts are queued under a lock and taken by the worker's main thread
(`Auditor.take`), which alone touches the ZeroMQ socket.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import sysconfig
import threading
import time
import urllib.error
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple
from urllib.parse import urlsplit

from . import hub

MODE_ENV = "BEDSIDE_NETWORK"  # allow (default) | deny
LOG_ENV = "BEDSIDE_NETWORK_LOG"  # a file: one JSON line per distinct attempt (bedside prepare)
CACHE_ENV = "BEDSIDE_MODEL_CACHE"  # the model's cache folder: TORCH_HOME, HF_HOME, XDG_CACHE_HOME go under it
CONFIG_ENV = "BEDSIDE_CONFIG"  # the bedside.yaml path, named in the deny message when set
MODES = ("allow", "deny")

# Set under deny, each only when not set already: libraries then fail fast (or stay quiet) instead of retrying.
OFFLINE_SWITCHES: Dict[str, str] = {
    "HF_HUB_OFFLINE": "1",  # huggingface_hub: only the local cache
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "WANDB_MODE": "disabled",  # wandb: no-op runs, no service process (offline mode would start one)
    "WANDB_DISABLED": "true",  # transformers' wandb integration
    "NEPTUNE_MODE": "offline",
    "CLEARML_OFFLINE_MODE": "1",
    "YOLO_OFFLINE": "true",  # ultralytics: no online checks
    "YOLO_AUTOINSTALL": "false",  # ultralytics: no pip install of missing packages at run time
    "NO_ALBUMENTATIONS_UPDATE": "1",  # albumentations checks PyPI for a newer version at import
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
    "PIP_NO_INDEX": "1",  # a pip the research code runs fails at once instead of retrying for minutes
}
# Under BEDSIDE_MODEL_CACHE, each only when not set already (both modes: `bedside prepare` fills them).
CACHE_DIRS: Dict[str, str] = {"TORCH_HOME": "torch", "HF_HOME": "huggingface", "XDG_CACHE_HOME": ""}

COUNT_INTERVAL_S = 1.0  # repeated attempts: their counts are reported at most once a second
MAX_ATTEMPTS = 256  # distinct attempts kept; past it the URL is dropped from the key, past twice it one bucket

# Kinds of code a stack frame belongs to.
_RESEARCH, _LIBRARY, _SKIP = 0, 1, 2

_AF_INET = tuple(int(f) for f in (socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET)))
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_LOCAL_SCHEMES = ("file", "data", "")
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ", b"OPTIONS ")


class NetworkDenied(ConnectionRefusedError):
    """A network attempt of the research code under `network: deny`.

    A ConnectionRefusedError (an OSError), so code that copes with an offline machine copes with this too,
    and it is raised before anything is sent: no timeout, no retry storm.
    """

    def __init__(self, message: str, host: Optional[str] = None, port: Optional[int] = None,
                 url: Optional[str] = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class URLDenied(NetworkDenied, urllib.error.URLError):
    """NetworkDenied from urllib.request.urlopen: also a URLError, which urllib callers catch."""

    def __init__(self, message: str, host: Optional[str] = None, port: Optional[int] = None,
                 url: Optional[str] = None) -> None:
        super().__init__(message, host, port, url)
        self.reason = message


def read_mode(environ: MutableMapping[str, str]) -> str:
    """`allow` or `deny` from BEDSIDE_NETWORK (unset: allow; anything unknown: deny, with a warning)."""
    raw = environ.get(MODE_ENV, "").strip().lower()
    if raw in ("", "allow"):
        return "allow"
    if raw != "deny":
        _warn(f"{MODE_ENV}={environ.get(MODE_ENV)!r} is neither allow nor deny: denying network access")
    return "deny"


def configure_environment(mode: str, environ: MutableMapping[str, str]) -> List[str]:
    """Point the caches under BEDSIDE_MODEL_CACHE and, under deny, set the offline switches; the names set."""
    changed = []
    cache = environ.get(CACHE_ENV)
    if cache:
        for name, sub in CACHE_DIRS.items():
            if not environ.get(name):
                environ[name] = os.path.join(cache, sub) if sub else cache
                changed.append(name)
    if mode == "deny":
        changed += hub.force_offline(environ)  # on whatever was inherited: the hub must not try the network
        for name, value in OFFLINE_SWITCHES.items():
            if not environ.get(name):
                environ[name] = value
                changed.append(name)
    elif environ.get(hub.PREPARE_ENV) == "1":
        hub.clear_for_prepare(environ)  # `bedside prepare`: an inherited HF_HUB_OFFLINE=1 would fetch nothing
    return changed


def host_port(host: Optional[str], port: Optional[int]) -> str:
    if not host:
        return "?" if port is None else f"?:{port}"
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


class Attempt:
    """One distinct network attempt and how often it happened."""

    __slots__ = ("host", "port", "url", "event", "where", "function", "denied", "count")

    def __init__(self, host: str, port: Optional[int], url: Optional[str], event: str, where: str, function: str,
                 denied: bool) -> None:
        self.host = host
        self.port = port
        self.url = url
        self.event = event
        self.where = where
        self.function = function
        self.denied = denied
        self.count = 1

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"host": self.host}
        if self.port is not None:
            out["port"] = self.port
        if self.url is not None:
            out["url"] = self.url
        out.update(event=self.event, where=self.where, function=self.function, count=self.count,
                   denied=self.denied)
        return out


class _Sequence:
    """The events of one connection attempt in one thread: a URL, its lookup, its connects, its request."""

    __slots__ = ("where", "host", "port", "url", "key", "named", "seen", "connected")

    def __init__(self, where: str, host: str, port: Optional[int], url: Optional[str], key: Tuple[Any, ...],
                 named: bool, event: str) -> None:
        self.where = where
        self.host = host.lower()
        self.port = port
        self.url = url
        self.key = key
        self.named = named  # began with a name (URL, host name lookup), so the connects that follow are its own
        self.seen = {event}
        self.connected = False


Key = Tuple[str, Optional[int], Optional[str], str]


class Auditor:
    """Records (and under deny refuses) network attempts; `hook` is what sys.addaudithook runs."""

    def __init__(
        self,
        mode: str = "allow",
        log_path: Optional[str] = None,
        config: Optional[str] = None,
        clock: Callable[[], float] = time.monotonic,
        stderr: Any = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"network mode {mode!r} is not one of {', '.join(MODES)}")
        self.mode = mode
        self.deny = mode == "deny"
        self.log_path = log_path or None
        self.config = config or None
        self.clock = clock
        self._stderr = stderr
        self._lock = threading.Lock()
        self._attempts: Dict[Key, Attempt] = {}
        self._new: List[Attempt] = []
        self._dirty: Dict[Key, Attempt] = {}
        self._reported_at = float("-inf")
        self._local = threading.local()
        self._kinds: Dict[str, int] = {}
        self._log_failed = False
        self._bridge_dir, self._stdlib_dirs, self._site_dirs = _code_roots()
        self._handlers: Dict[str, Callable[[str, Tuple[Any, ...]], None]] = {
            "urllib.Request": self._urllib_request,
            "http.client.connect": self._host_port_event,
            "http.client.send": self._http_send,
            "socket.getaddrinfo": self._getaddrinfo,
            "socket.gethostbyname": self._host_only,
            "socket.gethostbyaddr": self._host_only,
            "socket.getnameinfo": self._getnameinfo,
            "socket.connect": self._socket_address,
            "socket.sendto": self._socket_address,
            "socket.sendmsg": self._socket_address,
            "ftplib.connect": self._host_port_event,
            "smtplib.connect": self._host_port_event,
            "poplib.connect": self._host_port_event,
            "imaplib.open": self._host_port_event,
            "nntplib.connect": self._host_port_event,
            "telnetlib.Telnet.open": self._host_port_event,
        }

    # --- the hook -------------------------------------------------------------------------------------

    def hook(self, event: str, args: Tuple[Any, ...]) -> None:
        """The audit hook: every audit event of the process passes here, so the common case returns at once."""
        handler = self._handlers.get(event)
        if handler is None:
            return
        local = self._local
        if getattr(local, "busy", False):
            return  # our own logging, or a hook of someone else's, raising events while we record
        local.busy = True
        try:
            handler(event, args)  # raises NetworkDenied under deny; nothing else escapes
        finally:
            local.busy = False

    def _urllib_request(self, event: str, args: Tuple[Any, ...]) -> None:
        url = str(args[0])
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in _LOCAL_SCHEMES:
            return
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme)
        except ValueError:
            port = None
        self._observe("urllib.Request", parts.hostname or "", port, url, named=True)

    def _host_port_event(self, event: str, args: Tuple[Any, ...]) -> None:
        self._observe(event, _text(args[1]), _port(args[2]), None, named=True)

    def _getaddrinfo(self, event: str, args: Tuple[Any, ...]) -> None:
        host = args[0]
        if host is None or host == "" or host == b"":
            return  # a passive lookup for bind(), not a destination
        self._observe("socket.getaddrinfo", _text(host), _port(args[1]), None, named=True)

    def _host_only(self, event: str, args: Tuple[Any, ...]) -> None:
        self._observe(event, _text(args[0]), None, None, named=True)

    def _getnameinfo(self, event: str, args: Tuple[Any, ...]) -> None:
        address = args[0]
        if isinstance(address, tuple) and len(address) >= 2:
            self._observe("socket.getnameinfo", _text(address[0]), _port(address[1]), None, named=True)

    def _socket_address(self, event: str, args: Tuple[Any, ...]) -> None:
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) not in _AF_INET or not isinstance(address, tuple) or len(address) < 2:
            return  # Unix sockets, netlink, a sendmsg on a connected socket: not a new destination
        self._observe(event, _text(address[0]), _port(address[1]), None, named=False)

    def _http_send(self, event: str, args: Tuple[Any, ...]) -> None:
        conn, data = args[0], args[1]
        if not isinstance(data, (bytes, bytearray)) or not data.startswith(_HTTP_METHODS):
            return  # a body chunk, or not a request
        sock = getattr(conn, "sock", None)
        if sock is not None and getattr(sock, "family", None) not in _AF_INET:
            return  # HTTP over a Unix socket (a Docker client, say)
        url = _request_url(conn, bytes(data[:8192]))
        if url is None:
            return
        parts = urlsplit(url)
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            port = None
        self._observe("http.client.send", parts.hostname or _text(getattr(conn, "host", "")), port, url,
                      named=True)

    # --- recording ------------------------------------------------------------------------------------

    def _observe(self, event: str, host: str, port: Optional[int], url: Optional[str], named: bool) -> None:
        """Group the event into the thread's current sequence or start a new attempt; deny if so configured."""
        try:
            where, function = self.where()
            key = self._group(event, host, port, url, named, where, function)
        except Exception:  # never break the research code over a bookkeeping bug
            key = None
        if self.deny:
            self._local.sequence = None  # a refused sequence is over: the next try is a new attempt
            url = url or (key[2] if key is not None else None) or _stack_url()
            denied = URLDenied if event == "urllib.Request" else NetworkDenied
            raise denied(self.denial(host, port, url), host, port, url)

    def _group(self, event: str, host: str, port: Optional[int], url: Optional[str], named: bool, where: str,
               function: str) -> Optional[Key]:
        local = self._local
        seq: Optional[_Sequence] = getattr(local, "sequence", None)
        if seq is not None and seq.where == where and event != "urllib.Request":
            if event == "http.client.send":
                if seq.url is not None and host.lower() == seq.host and port == seq.port:
                    return seq.key  # urllib's own request line
            elif not named:
                if seq.named and (seq.port is None or port == seq.port):
                    seq.connected = True
                    return seq.key  # the connect (or the next address tried) of a looked-up name
                if not seq.named and (host.lower(), port) == (seq.host, seq.port):
                    self._record(seq.key, event, host, port, seq.url, where, function)  # a repeat
                    return seq.key
            elif host.lower() == seq.host and (port is None or seq.port is None or port == seq.port):
                if seq.connected or event in seq.seen:  # the same steps again: a new connection, a repeat
                    seq.connected = False
                    seq.seen = {event}
                    self._record(seq.key, event, host, port, seq.url, where, function)
                else:
                    seq.seen.add(event)
                    if seq.port is None:
                        seq.port = port
                return seq.key
        if url is None:
            url = _stack_url()  # requests, httpx, urllib3: the lookup or connect comes before any request line
        key = self._record(None, event, host, port, url, where, function)
        if event != "http.client.send":
            local.sequence = _Sequence(where, host, port, url, key, named, event)
        return key

    def _record(self, key: Optional[Key], event: str, host: str, port: Optional[int], url: Optional[str],
                where: str, function: str) -> Key:
        """Count one attempt; a new one is queued for Bedside, printed and logged at once."""
        if key is None:
            key = (host, port, url, where)
        new = None
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is None and len(self._attempts) >= MAX_ATTEMPTS:
                key = (host, port, None, where) if len(self._attempts) < 2 * MAX_ATTEMPTS else ("*", None, None, "")
                attempt = self._attempts.get(key)
            if attempt is None:
                attempt = new = Attempt(key[0], key[1], key[2], event, key[3], function if key[3] else "", self.deny)
                self._attempts[key] = attempt
                self._new.append(attempt)
            else:
                attempt.count += 1
                self._dirty[key] = attempt
        if new is not None:
            self._announce(new)
        return key

    def _announce(self, attempt: Attempt) -> None:
        verdict = "denied" if attempt.denied else "allowed"
        url = f" {attempt.url}" if attempt.url else ""
        where = attempt.where or "an unknown place"
        line = f"bridge: network attempt {host_port(attempt.host, attempt.port)}{url} from {where} ({verdict})\n"
        stream = self._stderr if self._stderr is not None else sys.stderr
        try:
            if stream is not None:
                stream.write(line)
                stream.flush()
        except Exception:
            pass
        if self.log_path:
            record = {"time": time.time(), "pid": os.getpid(), **attempt.to_dict()}
            del record["count"]
            try:
                fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
                finally:
                    os.close(fd)
            except OSError as exc:
                if not self._log_failed:
                    self._log_failed = True
                    _warn(f"cannot append to {LOG_ENV}={self.log_path}: {exc}")

    def denial(self, host: str, port: Optional[int], url: Optional[str]) -> str:
        """The deny message: what was refused and how to fix it."""
        config = self.config or "<bedside.yaml>"
        return (
            f"network access is off for this model (network: deny): {url or host_port(host, port)}. "
            f"Run `bedside prepare --config {config}` once on a machine with internet to fetch it into the "
            "model's cache, or set `network: allow` for this model."
        )

    # --- where in the research code --------------------------------------------------------------------

    def where(self) -> Tuple[str, str]:
        """`file:line` and function of the innermost research frame (else the outermost library one)."""
        frame = sys._getframe(1)
        fallback = None
        kinds = self._kinds
        while frame is not None:
            filename = frame.f_code.co_filename
            kind = kinds.get(filename)
            if kind is None:
                kind = kinds[filename] = self._kind(filename)
            if kind == _RESEARCH:
                return f"{filename}:{frame.f_lineno}", frame.f_code.co_name
            if kind == _LIBRARY:
                fallback = frame
            frame = frame.f_back
        if fallback is not None:
            return f"{fallback.f_code.co_filename}:{fallback.f_lineno}", fallback.f_code.co_name
        return "", ""

    def _kind(self, filename: str) -> int:
        if not filename or filename.startswith("<"):
            return _SKIP  # frozen importlib, exec'd strings
        path = os.path.realpath(filename)
        if _under(path, (self._bridge_dir,)):
            return _SKIP
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts or _under(path, self._site_dirs):
            return _LIBRARY
        if _under(path, self._stdlib_dirs):
            return _SKIP
        return _RESEARCH

    def is_research(self, filename: str) -> bool:
        """Whether a code file is the research code's (not the standard library, site-packages or the bridge)."""
        kind = self._kinds.get(filename)
        if kind is None:
            kind = self._kinds[filename] = self._kind(filename)
        return kind == _RESEARCH

    def record_request(self, host: str, port: Optional[int], url: str, event: str, where: str, function: str) -> None:
        """An attempt a library answered itself (a hub in offline mode) without raising an audit event."""
        with self._lock:
            known = (host, port, url, where) in self._attempts
        if not known:
            self._record(None, event, host, port, url, where, function)

    # --- for the worker's main thread ------------------------------------------------------------------

    def take(self, force: bool = False) -> List[Dict[str, Any]]:
        """Attempts to report now: new ones always, repeated ones (their new counts) at most once a second."""
        if not self._new and not self._dirty:
            return []  # the common case, once per frame: no lock
        with self._lock:
            now = self.clock()
            counts_due = bool(self._dirty) and (force or now - self._reported_at >= COUNT_INTERVAL_S)
            if not self._new and not counts_due:
                return []
            out = self._new
            self._new = []
            for attempt in out:  # a new attempt goes with its count so far
                self._dirty.pop((attempt.host, attempt.port, attempt.url, attempt.where), None)
            if counts_due:
                out.extend(self._dirty.values())
                self._dirty.clear()
                self._reported_at = now
            return [a.to_dict() for a in out]

    def all(self) -> List[Dict[str, Any]]:
        """Every attempt so far, for a Bedside that connects anew."""
        with self._lock:
            return [a.to_dict() for a in self._attempts.values()]

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a fork while another thread held it must not deadlock the child
        self._local = threading.local()


_HTTP_LIBRARIES = ("requests", "httpx", "httpx2", "urllib3", "httpcore", "aiohttp")


def _stack_url(limit: int = 64) -> Optional[str]:
    """The URL an HTTP library on the stack is fetching, from its frames' locals; None if none says.

    A connection's first audit events (the name lookup, the connect) carry only host and port; requests,
    httpx and urllib3 hold the whole URL in a local of an outer frame (`request.url`, or urllib3's pool and
    path). Read only for a new attempt or a refusal, never per frame.
    """
    try:
        frame: Any = sys._getframe(2)
    except ValueError:
        return None
    depth = 0
    while frame is not None and depth < limit:
        depth += 1
        parts = frame.f_code.co_filename.replace("\\", "/").split("/")
        if any(lib in parts for lib in _HTTP_LIBRARIES):
            local = frame.f_locals
            request = local.get("request")
            if request is not None and hasattr(request, "method"):
                url = str(getattr(request, "url", "") or "")
                if url.startswith(("http://", "https://")):
                    return url
            if frame.f_code.co_name == "urlopen":
                pool, path = local.get("self"), local.get("url")
                host, scheme = getattr(pool, "host", None), getattr(pool, "scheme", None)
                if isinstance(path, str) and isinstance(host, str) and isinstance(scheme, str):
                    if path.startswith(("http://", "https://")):
                        return path
                    if path.startswith("/"):
                        port = getattr(pool, "port", None)
                        default = _DEFAULT_PORTS.get(scheme)
                        shown = host_port(host, None if port in (None, default) else _port(port))
                        return f"{scheme}://{shown}{path}"
        frame = frame.f_back
    return None


def _request_url(conn: Any, data: bytes) -> Optional[str]:
    """The URL an HTTP request line (and Host header) asks for; None for CONNECT and what is not HTTP."""
    line, _, headers = data.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) < 3:
        return None
    target = parts[1].decode("latin-1")
    if target.startswith(("http://", "https://")):
        return target  # through a proxy: the absolute URL
    if not target.startswith("/"):
        return None
    host = ""
    for header in headers.split(b"\r\n"):
        name, sep, value = header.partition(b":")
        if not sep:
            break
        if name.strip().lower() == b"host":
            host = value.strip().decode("latin-1")
            break
    if not host:
        host = host_port(_text(getattr(conn, "host", "")), _port(getattr(conn, "port", None)))
    import http.client

    https = getattr(http.client, "HTTPSConnection", None)
    scheme = "https" if https is not None and isinstance(conn, https) else "http"
    return f"{scheme}://{host}{target}"


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("idna" if value.isascii() else "utf-8", errors="replace")
    return "" if value is None else str(value)


def _port(value: Any) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # a service name ("https"): left out rather than guessed


def _under(path: str, roots: Tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _code_roots() -> Tuple[str, Tuple[str, ...], Tuple[str, ...]]:
    """The bridge's folder, the standard library's folders and the site-packages folders (real paths)."""
    paths = sysconfig.get_paths()
    stdlib = {paths.get("stdlib"), paths.get("platstdlib"), os.path.dirname(os.__file__),
              os.path.dirname(threading.__file__)}
    site = {paths.get("purelib"), paths.get("platlib")}
    try:
        import site as site_module

        site.update(site_module.getsitepackages())
        site.add(site_module.getusersitepackages())
    except Exception:
        pass

    def real(dirs: Any) -> Tuple[str, ...]:
        return tuple(sorted({os.path.realpath(d) for d in dirs if d}))

    return os.path.realpath(os.path.dirname(os.path.abspath(__file__))), real(stdlib), real(site)


def _warn(text: str) -> None:
    try:
        print(f"bridge: {text}", file=sys.stderr, flush=True)
    except Exception:
        pass


_installed: Optional[Auditor] = None
_install_lock = threading.Lock()


def install(environ: Optional[MutableMapping[str, str]] = None) -> Auditor:
    """Configure the environment and install the audit hook, once per process (hooks cannot be removed).

    Call it before the research code is imported: the offline switches and cache folders are read by
    libraries at import, and only an installed hook sees what the research code does.
    """
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        env = os.environ if environ is None else environ
        mode = read_mode(env)
        configure_environment(mode, env)
        auditor = Auditor(mode, log_path=env.get(LOG_ENV), config=env.get(CONFIG_ENV))
        handlers = auditor._handlers
        hook = auditor.hook

        def bedside_network_audit(event: str, args: Tuple[Any, ...]) -> None:
            if event in handlers:
                try:
                    hook(event, args)
                except NetworkDenied as exc:
                    raise exc.with_traceback(None) from None  # Bedside refuses this network attempt (network: deny)

        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=auditor._after_fork)
        sys.addaudithook(bedside_network_audit)
        _installed = auditor
        return auditor


def installed() -> Optional[Auditor]:
    """The process's auditor, if install() ran."""
    return _installed
