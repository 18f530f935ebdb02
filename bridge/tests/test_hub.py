"""Hub downloads at construction (bridge.hub): named, fast, and fetched by `bedside prepare`.

The research code's constructors download weights through huggingface_hub (timm, transformers and PCBM's
backbones do). Under `network: deny` the hub's offline switches make it answer from the cache alone, at once;
the bridge then names the repository, the file and the URL, and says how to fix it. A loopback stand-in for the
hub (fake_hf_hub.py, HF_ENDPOINT) serves the files; no test needs the internet. The tests with the real
huggingface_hub are skipped where it is not installed (scripts/setup.sh installs it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import numpy as np
import pytest
from fake_hf_hub import FakeHub
from test_network import attempt_lines, line_of, messages_until, quiet_for

from bridge import hub, network
from conftest import MODELS, FakeBedside

HF_MODEL = MODELS / "hf_hub_model.py"
REPO_ID = "bedside-test/pcbm-observer"
FILENAME = "observer.safetensors"
WEIGHTS = hashlib.sha256(b"observer").digest() * 4096  # 128 KiB
HAS_HF = importlib.util.find_spec("huggingface_hub") is not None
needs_hf = pytest.mark.skipif(not HAS_HF, reason="huggingface_hub is not installed (scripts/setup.sh installs it)")


# --- naming what was asked for, without the real library ---------------------------------------------------


def fake_library(root: Path) -> None:
    """A `huggingface_hub` package with the shape of the real call: the repo id and file are the frame's locals."""
    pkg = root / "huggingface_hub"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .file_download import hf_hub_download, snapshot_download\n")
    (pkg / "file_download.py").write_text(textwrap.dedent("""
        class OfflineModeIsEnabled(ConnectionError):
            pass

        class LocalEntryNotFoundError(FileNotFoundError):
            pass

        def _download_to_cache_dir(*, repo_id, filename, revision, repo_type, endpoint):
            try:
                raise OfflineModeIsEnabled("offline mode is enabled")
            except OfflineModeIsEnabled as exc:
                raise LocalEntryNotFoundError("cannot find the requested files in the local cache") from exc

        def hf_hub_download(repo_id, filename, *, subfolder=None, repo_type=None, revision=None, endpoint=None):
            if subfolder:
                filename = f"{subfolder}/{filename}"
            return _download_to_cache_dir(repo_id=repo_id, filename=filename, revision=revision or "main",
                                          repo_type=repo_type or "model", endpoint=endpoint)

        def snapshot_download(repo_id, *, revision=None, repo_type=None):
            raise LocalEntryNotFoundError("no snapshot in the cache")
    """))
    (root / "research.py").write_text(textwrap.dedent("""
        from huggingface_hub import hf_hub_download, snapshot_download

        def from_pretrained(name):  # as transformers: the hub's error wrapped in an OSError of its own
            try:
                return hf_hub_download(name, "model.safetensors", subfolder="unet", revision="v1.2")
            except FileNotFoundError as exc:
                raise OSError(f"We couldn't connect to load {name}") from exc

        def whole(name):
            return snapshot_download(name, repo_type="dataset")
    """))


@pytest.fixture
def research(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_library(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "huggingface_hub" or m.startswith("huggingface_hub.")]:
        monkeypatch.delitem(sys.modules, name)
    import research as module

    yield module
    sys.modules.pop("research", None)


def caught(fn: Callable[[], Any]) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test wants whatever it raised
        return exc
    raise AssertionError("it did not raise")


def test_the_file_repo_and_url_are_found_through_a_wrapped_exception(research: Any, tmp_path: Path) -> None:
    exc = caught(lambda: research.from_pretrained("org/fetal-unet"))
    research_file = str(tmp_path / "research.py")
    request = hub.find_request(exc, {"HF_ENDPOINT": "http://127.0.0.1:9"},
                               research=lambda f: f == research_file)
    assert request is not None
    assert (request.repo_id, request.filename, request.revision, request.repo_type) == (
        "org/fetal-unet", "unet/model.safetensors", "v1.2", "model")
    assert request.url == "http://127.0.0.1:9/org/fetal-unet/resolve/v1.2/unet/model.safetensors"
    assert request.where == f"{research_file}:{line_of(tmp_path / 'research.py', 'return hf_hub_download(')}"
    assert request.function == "from_pretrained"
    assert (request.host, request.port) == ("127.0.0.1", 9)

    text = hub.explain(request, "deny", "/etc/bedside/bedside.yaml", {"HF_HOME": "/var/cache/m/huggingface"})
    assert text.startswith("the model asked for file unet/model.safetensors of the Hugging Face hub repo "
                           "org/fetal-unet (http://127.0.0.1:9/org/fetal-unet/resolve/v1.2/unet/model.safetensors)")
    assert "not in the model's cache (/var/cache/m/huggingface)" in text
    assert "Run `bedside prepare --config /etc/bedside/bedside.yaml` once on a machine with internet" in text
    assert "or set `network: allow`" in text


def test_a_whole_repository_and_the_default_endpoint(research: Any) -> None:
    request = hub.find_request(caught(lambda: research.whole("org/scans")), {})
    assert request is not None and request.filename is None
    assert request.url == "https://huggingface.co/api/datasets/org/scans/revision/main"
    assert "the whole of the Hugging Face hub dataset org/scans" in hub.explain(request, "deny", None, {})


def test_an_error_that_is_not_the_hubs_names_nothing(research: Any) -> None:
    assert hub.find_request(caught(lambda: [][1]), {}) is None
    assert hub.find_request(ValueError("no traceback at all"), {}) is None


def test_allow_with_an_inherited_offline_switch_says_which_and_the_fix(research: Any) -> None:
    request = hub.find_request(caught(lambda: research.from_pretrained("org/m")), {})
    assert request is not None
    text = hub.explain(request, "allow", "b.yaml", {"HF_HUB_OFFLINE": "1"})
    assert "HF_HUB_OFFLINE=1 is set in the environment Bedside was started from" in text
    assert "`bedside prepare --config b.yaml` (which ignores it)" in text
    assert "is the hub reachable from this machine (HF_ENDPOINT=https://huggingface.co)" in hub.explain(
        request, "allow", "b.yaml", {})


def test_deny_forces_the_hub_offline_and_prepare_clears_inherited_switches(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}
    network.configure_environment("deny", environ)
    assert environ["HF_HUB_OFFLINE"] == environ["TRANSFORMERS_OFFLINE"] == environ["HF_DATASETS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE='0' from the environment is overridden with 1" in capsys.readouterr().err

    environ = {"HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1", "BEDSIDE_PREPARE": "1", "HF_ENDPOINT": "http://hub"}
    network.configure_environment("allow", environ)
    assert environ == {"BEDSIDE_PREPARE": "1", "HF_ENDPOINT": "http://hub"}  # HF_ENDPOINT is respected
    err = capsys.readouterr().err
    assert "prepare: ignoring HF_HUB_OFFLINE='1' from the environment" in err and "PIP_NO_INDEX" in err

    environ = {"HF_HUB_OFFLINE": "1"}
    network.configure_environment("allow", environ)  # not prepare: the user's switch is theirs
    assert environ == {"HF_HUB_OFFLINE": "1"}


# --- a refused connection names the URL an HTTP library was fetching ------------------------------------------


def test_a_refused_connect_from_an_http_library_names_the_whole_url(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "site-packages" / "requests"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "sessions.py").write_text(textwrap.dedent("""
        class PreparedRequest:
            def __init__(self, method, url):
                self.method, self.url = method, url

        def send(hook, request):
            hook("socket.getaddrinfo", ("weights.example.org", 443, 0, 1, 6, 0))
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "site-packages"))
    sys.modules.pop("requests", None)
    sys.modules.pop("requests.sessions", None)
    from requests import sessions  # the fake: the real one needs the network to show this

    aud = network.Auditor("deny", stderr=open(os.devnull, "w"))
    url = "https://weights.example.org/v2/resnet18.pth?download=1"
    exc = caught(lambda: sessions.send(aud.hook, sessions.PreparedRequest("GET", url)))
    assert isinstance(exc, network.NetworkDenied) and exc.url == url
    assert f"(network: deny): {url}. Run `bedside prepare" in str(exc)
    assert [a["url"] for a in aud.all()] == [url]
    sys.modules.pop("requests", None)
    sys.modules.pop("requests.sessions", None)


# --- the worker with the real huggingface_hub ---------------------------------------------------------------


@pytest.fixture
def hf_hub() -> Iterator[FakeHub]:
    server = FakeHub({f"{REPO_ID}/{FILENAME}": WEIGHTS})
    try:
        yield server
    finally:
        server.stop()


def cached_files(root: Path) -> Dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@needs_hf
def test_deny_fails_within_2_s_naming_repo_file_url_and_prepare(
    bedside: FakeBedside, hf_hub: FakeHub, env: Callable[..., None], tmp_path: Path
) -> None:
    env(BEDSIDE_NETWORK="deny", BEDSIDE_MODEL_CACHE=tmp_path / "cache", HF_ENDPOINT=hf_hub.endpoint,
        HF_HUB_OFFLINE="0", BEDSIDE_CONFIG="/etc/bedside/bedside.yaml")  # even a user's "0" does not open it
    started = time.monotonic()
    bedside.start("--entry", f"{HF_MODEL}:predict")
    messages = messages_until(bedside, "fatal", timeout_s=20)
    elapsed = time.monotonic() - started
    fatal = messages[-1]
    url = f"{hf_hub.endpoint}/{REPO_ID}/resolve/main/{FILENAME}"
    print(f"\nhub download under deny: fatal after {elapsed:.2f} s (interpreter and huggingface_hub import included): "
          f"{fatal['error'][:160]}...")
    # The issue asks for 2 s; 0.9 s here, most of it the import of huggingface_hub. The bound is loose so a
    # loaded CI machine does not flake, and still catches a retry storm (20-48 s).
    assert elapsed < 5.0, f"{elapsed:.2f} s"
    assert (fatal["stage"], fatal["fault"]) == ("import", "researcher")
    assert fatal["error"].startswith(f"the model asked for file {FILENAME} of the Hugging Face hub repo {REPO_ID} "
                                     f"({url}) at {HF_MODEL}:{line_of(HF_MODEL, 'path = hf_hub_download(')}")
    assert "network access is off for this model (network: deny)" in fatal["error"]
    assert "Run `bedside prepare --config /etc/bedside/bedside.yaml`" in fatal["error"]
    assert "LocalEntryNotFoundError" in fatal["error"]  # the library's own words are kept
    (attempts,) = [m["attempts"] for m in messages if m["type"] == "network"]
    assert [(a["url"], a["event"], a["denied"]) for a in attempts] == [(url, "huggingface_hub", True)]
    assert bedside.wait() == 3
    assert hf_hub.requests == []  # nothing left the process: no retries to wait for


@needs_hf
def test_prepare_fetches_through_an_inherited_offline_switch_then_deny_starts_with_no_attempt(
    bedside: FakeBedside, hf_hub: FakeHub, env: Callable[..., None], tmp_path: Path
) -> None:
    cache, log = tmp_path / "cache", tmp_path / "network.jsonl"
    env(BEDSIDE_NETWORK="allow", BEDSIDE_PREPARE="1", BEDSIDE_MODEL_CACHE=cache, BEDSIDE_NETWORK_LOG=log,
        HF_ENDPOINT=hf_hub.endpoint, HF_HUB_OFFLINE="1")
    bedside.start("--entry", f"{HF_MODEL}:predict")
    messages = messages_until(bedside, "ready", timeout_s=20)
    assert "prepare: ignoring HF_HUB_OFFLINE='1' from the environment" in bedside.output("stderr")
    assert [r for r in hf_hub.file_requests()] == [
        ("HEAD", f"/{REPO_ID}/resolve/main/{FILENAME}"), ("GET", f"/{REPO_ID}/resolve/main/{FILENAME}")]
    assert any(m["type"] == "network" for m in messages)
    snapshot = {k: v for k, v in cached_files(cache).items() if k.endswith(FILENAME)}
    assert list(snapshot.values()) == [len(WEIGHTS)], cached_files(cache)
    bedside.send({"type": "shutdown"})
    assert bedside.wait() == 0

    hf_hub.stop()
    env(BEDSIDE_PREPARE="0", BEDSIDE_NETWORK="deny", BEDSIDE_NETWORK_LOG=tmp_path / "offline.jsonl")
    box = FakeBedside()
    try:
        box.start("--entry", f"{HF_MODEL}:predict")
        assert [m["type"] for m in messages_until(box, "ready", timeout_s=20)] == ["hello", "ready"]
        box.frame(1, np.zeros((4, 4), dtype=np.uint8))
        (result,) = messages_until(box, "result")
        assert result["result"]["extra"] == {"weights_sha256": hashlib.sha256(WEIGHTS).hexdigest(),
                                             "weights_bytes": len(WEIGHTS)}
        assert all(m["type"] == "heartbeat" for m in quiet_for(box, 0.3))
        assert attempt_lines(box) == [] and not (tmp_path / "offline.jsonl").exists()
    finally:
        box.close()


@needs_hf
def test_allow_with_an_inherited_offline_switch_names_it(
    bedside: FakeBedside, hf_hub: FakeHub, env: Callable[..., None], tmp_path: Path
) -> None:
    env(BEDSIDE_NETWORK="allow", BEDSIDE_MODEL_CACHE=tmp_path / "cache", HF_ENDPOINT=hf_hub.endpoint,
        HF_HUB_OFFLINE="1")
    bedside.start("--entry", f"{HF_MODEL}:predict")
    fatal = messages_until(bedside, "fatal", timeout_s=20)[-1]
    assert "HF_HUB_OFFLINE=1 is set in the environment Bedside was started from" in fatal["error"]
    assert hf_hub.requests == []
    assert bedside.wait() == 3


