"""Model hubs the research code downloads from while it is constructed: say what it asked for when it cannot have it.

Research code builds its networks with constructors that fetch weights: huggingface_hub's `hf_hub_download` and
`snapshot_download` (which timm, transformers, diffusers and open_clip call), and torch.hub /
torchvision's `load_state_dict_from_url`. In the clinic (`network: deny`) the bridge sets the hub's offline
switches, so huggingface_hub looks only in the model's cache: no attempt, no retries, an answer at once. Its
error does not say which repository or file was missing, though, and a researcher can only fix what is named.

`find_request` walks an exception's chain (`__cause__`, `__context__`) and tracebacks for the hub's own frames,
whose locals hold the repo id, file name, revision, repo type and endpoint, and rebuilds the URL the way
`huggingface_hub.hf_hub_url` does. Only the failed call's frames are read, after the fact: nothing is patched,
nothing is imported, and a model that never calls the hub pays nothing. torch.hub downloads go through urllib,
which the network audit hook refuses with the URL already (network.py).
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any, Dict, Iterator, List, MutableMapping, Optional, Tuple
from urllib.parse import quote, urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
# The switches that make huggingface_hub (and transformers, datasets) work from the cache alone. Under deny they
# are forced on, whatever the environment said: a hub that tries the network is refused by the audit hook, and
# some versions retry that refusal with backoff for most of a minute. `bedside prepare` clears them.
HUB_OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
# Switches that make a download impossible, cleared for `bedside prepare` (BEDSIDE_PREPARE=1) when inherited.
PREPARE_CLEARS = HUB_OFFLINE_SWITCHES + ("PIP_NO_INDEX", "YOLO_OFFLINE")
PREPARE_ENV = "BEDSIDE_PREPARE"

_REPO_TYPE_PREFIX = {"dataset": "datasets/", "space": "spaces/"}
_MAX_CHAIN = 16


class HubRequest:
    """One file (or, for snapshot_download, one repository) the research code asked a hub for."""

    __slots__ = ("repo_id", "filename", "revision", "repo_type", "endpoint", "where", "function")

    def __init__(self, repo_id: str, filename: Optional[str], revision: str, repo_type: str, endpoint: str,
                 where: str = "", function: str = "") -> None:
        self.repo_id = repo_id
        self.filename = filename
        self.revision = revision
        self.repo_type = repo_type
        self.endpoint = endpoint.rstrip("/")
        self.where = where
        self.function = function

    @property
    def url(self) -> str:
        prefix = _REPO_TYPE_PREFIX.get(self.repo_type, "")
        if self.filename is None:
            kind = {"dataset": "datasets", "space": "spaces"}.get(self.repo_type, "models")
            return f"{self.endpoint}/api/{kind}/{self.repo_id}/revision/{quote(self.revision, safe='')}"
        return f"{self.endpoint}/{prefix}{self.repo_id}/resolve/{quote(self.revision, safe='')}/{quote(self.filename)}"

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""

    @property
    def port(self) -> Optional[int]:
        parts = urlsplit(self.endpoint)
        try:
            return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
        except ValueError:
            return None

    def what(self) -> str:
        """`file observer.pt of the Hugging Face hub repo org/name (URL)`."""
        kind = {"dataset": "dataset", "space": "space"}.get(self.repo_type, "repo")
        thing = f"file {self.filename} of" if self.filename is not None else "the whole of"
        return f"{thing} the Hugging Face hub {kind} {self.repo_id} ({self.url})"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    todo: List[BaseException] = [exc]
    while todo and len(seen) < _MAX_CHAIN:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                todo.append(nxt)


def _frames(tb: Optional[TracebackType]) -> Iterator[Tuple[Any, int]]:
    """Each frame with the line it was at when the exception passed (the frame itself may have moved on)."""
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _is_hub_file(filename: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    return "huggingface_hub" in parts


def find_request(exc: BaseException, environ: Optional[MutableMapping[str, str]] = None,
                 research: Any = None) -> Optional[HubRequest]:
    """The hub file the failed call asked for, from the hub's own frames in the exception's chain; else None.

    `research(filename) -> bool` says which frames are the research code's, for the `where` it is named by.
    """
    env = os.environ if environ is None else environ
    found: Optional[HubRequest] = None
    where, function = "", ""
    for e in _chain(exc):
        for frame, line in _frames(e.__traceback__):
            code = frame.f_code
            if research is not None and research(code.co_filename):
                where, function = f"{code.co_filename}:{line}", code.co_name  # innermost wins
            if not _is_hub_file(code.co_filename):
                continue
            local: Dict[str, Any] = frame.f_locals
            repo = local.get("repo_id")
            if not isinstance(repo, str) or not repo:
                continue
            filename = local.get("filename")
            if not isinstance(filename, str):
                filename = None
            subfolder = local.get("subfolder")
            if filename is not None and isinstance(subfolder, str) and subfolder and not filename.startswith(
                    subfolder + "/"):
                filename = f"{subfolder}/{filename}"
            revision = local.get("revision")
            repo_type = local.get("repo_type")
            endpoint = local.get("endpoint")
            candidate = HubRequest(
                repo, filename, revision if isinstance(revision, str) and revision else "main",
                repo_type if isinstance(repo_type, str) and repo_type else "model",
                endpoint if isinstance(endpoint, str) and endpoint else env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
            if found is None or (found.filename is None and candidate.filename is not None):
                found = candidate  # the first named frame; a file beats a whole repository
        if found is not None and found.filename is not None:
            break
    if found is not None:
        found.where, found.function = where, function
    return found


def explain(request: HubRequest, mode: str, config: Optional[str], environ: Optional[MutableMapping[str, str]] = None,
            forced: Optional[List[str]] = None) -> str:
    """What the model asked for, why it cannot have it here, and the fix."""
    env = os.environ if environ is None else environ
    prepare = f"`bedside prepare --config {config or '<bedside.yaml>'}`"
    cache = env.get("HF_HOME") or env.get("BEDSIDE_MODEL_CACHE") or "the model's cache"
    asked = f"the model asked for {request.what()}"
    if request.where:
        asked += f" at {request.where}"
    if mode == "deny":
        return (f"{asked}, which is not in the model's cache ({cache}), and network access is off for this model "
                f"(network: deny). Run {prepare} once on a machine with internet to fetch it into the model's cache, "
                "or set `network: allow` for this model.")
    inherited = [name for name in HUB_OFFLINE_SWITCHES if _on(env.get(name)) and name not in (forced or [])]
    if inherited:
        return (f"{asked}, which is not in the model's cache ({cache}), and {inherited[0]}={env.get(inherited[0])} "
                "is set in the environment Bedside was started from, so the hub library does not download. Unset "
                f"it, or run {prepare} (which ignores it) on a machine with internet.")
    return (f"{asked} and could not get it: is the hub reachable from this machine (HF_ENDPOINT="
            f"{env.get('HF_ENDPOINT') or DEFAULT_ENDPOINT})? For the clinic, run {prepare} once on a machine with "
            "internet, then use `network: deny`.")


def _on(value: Optional[str]) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


def force_offline(environ: MutableMapping[str, str]) -> List[str]:
    """Under deny: the hub's offline switches on, whatever was inherited; the names changed."""
    changed = []
    for name in HUB_OFFLINE_SWITCHES:
        if not _on(environ.get(name)):
            if environ.get(name):
                _warn(f"network: deny: {name}={environ[name]!r} from the environment is overridden with 1 "
                      "(the model's downloads must come from its cache)")
            environ[name] = "1"
            changed.append(name)
    return changed


def clear_for_prepare(environ: MutableMapping[str, str]) -> List[str]:
    """For `bedside prepare`: remove inherited switches that make any download impossible; the names removed."""
    cleared = []
    for name in PREPARE_CLEARS:
        if name in environ:
            _warn(f"prepare: ignoring {name}={environ[name]!r} from the environment, so the model's downloads can happen")
            del environ[name]
            cleared.append(name)
    return cleared


def _warn(text: str) -> None:
    try:
        print(f"bridge: {text}", file=sys.stderr, flush=True)
    except Exception:
        pass
