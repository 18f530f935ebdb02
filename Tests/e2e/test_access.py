"""Access control end to end: nothing without pairing, pairing by code, revocation, Origin, persistence."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from conftest import start_bedside

POST_ROUTES = ["snapshot", "recording/start", "recording/stop", "admin/overview", "admin/revoke?id=x",
               "admin/pairing-code"]


def request(b, path: str, method: str = "GET", cookie: str | None = None, token: str | None = None,
            pin: str | None = None, body: dict | None = None) -> tuple[int, dict | str, dict]:
    url = f"{b.base_url}{path}"
    if token:
        url += ("&" if "?" in url else "?") + f"token={token}"
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, method=method, data=data)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    if pin:
        req.add_header("X-Admin-PIN", pin)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            headers = dict(r.headers)
            status = r.status
    except urllib.error.HTTPError as e:
        raw, headers, status = e.read(), dict(e.headers), e.code
    try:
        return status, json.loads(raw), headers
    except ValueError:
        return status, raw.decode(errors="replace"), headers


def pair(b, code: str, name: str = "tablet") -> tuple[int, dict, str | None]:
    status, body, headers = request(b, "/api/pair", "POST", body={"code": code, "name": name})
    cookie = headers.get("Set-Cookie")
    return status, body, cookie.split(";")[0] if cookie else None


def current_code(b) -> str:
    status, body, _ = request(b, "/api/admin/overview", "POST", token=b.token, pin=b.admin_pin)
    assert status == 200, body
    return body["pairing_code"]


def ws_url(b) -> str:
    return f"ws://127.0.0.1:{b.port}/ws"


@pytest.fixture
def bedside_run(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\nrecording: {enabled: false}\n")
    b = start_bedside(["run", "--config", str(cfg), "--python", sys.executable], tmp_path)
    try:
        yield b
    finally:
        b.stop()


def test_nothing_without_pairing(bedside_run):
    b = bedside_run
    # The page's own code is public (it shows the pairing form); no data is.
    assert request(b, "/")[0] == 200
    assert request(b, "/api/status")[0] == 401
    assert request(b, "/api/status", token="wrong-token")[0] == 401
    assert request(b, "/api/status", cookie="bedside_token=forged")[0] == 401
    for route in POST_ROUTES:
        status, body, _ = request(b, f"/api/{route}", "POST")
        assert status == 401, (route, status, body)
        assert "pairing token" in body["error"]
    with pytest.raises(InvalidStatus):
        connect(ws_url(b), open_timeout=5)
    # With the console token but without the admin PIN: viewer routes work, admin routes do not.
    for route in POST_ROUTES[1:]:
        status, body, _ = request(b, f"/api/{route}", "POST", token=b.token)
        assert status == 403 and "admin PIN" in body["error"], (route, status, body)


def test_pairing_by_code_gives_a_cookie_that_works_everywhere_and_can_be_revoked(bedside_run):
    b = bedside_run
    code = current_code(b)
    status, body, _ = request(b, "/api/pair", "POST", body={"code": "000000" if code != "000000" else "111111"})
    assert status == 403 and "pairing code" in body["error"] and body["attempts_left"] == 4
    status, body, cookie = pair(b, code, "ward tablet")
    assert status == 200 and body["name"] == "ward tablet", body
    assert cookie and cookie.startswith("bedside_token=")
    _, _, headers = request(b, "/api/pair", "POST", body={"code": current_code(b), "name": "x"})
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    assert current_code(b) != code, "a code pairs one tablet"
    assert pair(b, code)[0] == 403, "the used code does not pair again"

    assert request(b, "/api/status", cookie=cookie)[0] == 200
    with connect(ws_url(b), additional_headers={"Cookie": cookie}, open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello"

        overview = request(b, "/api/admin/overview", "POST", token=b.token, pin=b.admin_pin)[1]
        tablet = next(t for t in overview["tablets"] if t["name"] == "ward tablet")
        assert "token" not in tablet, "tokens never leave the box"
        assert tablet["last_seen"] is not None
        status, body, _ = request(b, f"/api/admin/revoke?id={tablet['id']}", "POST", token=b.token, pin=b.admin_pin)
        assert status == 200, body
        # The open connection is closed within about a second, with the code the page knows as "revoked".
        deadline = time.monotonic() + 5
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert request(b, "/api/status", cookie=cookie)[0] == 401
    with pytest.raises(InvalidStatus):
        connect(ws_url(b), additional_headers={"Cookie": cookie}, open_timeout=5)


def test_wrong_codes_lock_the_client_out(bedside_run):
    b = bedside_run
    code = current_code(b)
    wrong = "000000" if code != "000000" else "111111"
    statuses = [request(b, "/api/pair", "POST", body={"code": wrong})[0] for _ in range(5)]
    assert statuses == [403, 403, 403, 403, 429]
    status, body, _ = request(b, "/api/pair", "POST", body={"code": code})
    assert status == 429 and "wait" in body["fix"], "even the right code is refused while locked out"


def test_websocket_from_another_site_is_refused(bedside_run):
    b = bedside_run
    with pytest.raises(InvalidStatus):
        connect(f"{ws_url(b)}?token={b.token}", origin="http://evil.example", open_timeout=5)
    with connect(f"{ws_url(b)}?token={b.token}", origin=f"http://127.0.0.1:{b.port}", open_timeout=5) as ok:
        assert json.loads(ok.recv(timeout=5))["type"] == "hello"


def test_a_paired_tablet_stays_paired_across_a_restart(tmp_path):
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\nrecording: {enabled: false}\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        status, _, cookie = pair(b, current_code(b))
        assert status == 200
    finally:
        b.stop()
    b2 = start_bedside(["run", "--config", str(cfg)], tmp_path)  # same state folder, new console token
    try:
        assert b2.token != b.token
        assert request(b2, "/api/status", cookie=cookie)[0] == 200
        assert request(b2, "/api/status", token=b.token)[0] == 401, "the old console link is not valid any more"
        state = tmp_path / "bedside-state" / "viewers.json"
        assert oct(state.stat().st_mode & 0o777) == "0o600"
    finally:
        b2.stop()


def test_https_with_a_given_certificate(tmp_path):
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\nrecording: {enabled: false}\n"
                   f"web: {{tls: {{cert: {cert}, key: {key}}}}}\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        ready = json.loads((tmp_path / "bedside-ready.json").read_text())
        assert ready["url"].startswith("https://")
        ctx = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://127.0.0.1:{b.port}/api/status?token={b.token}", context=ctx,
                                    timeout=10) as r:
            assert r.status == 200 and json.load(r)["type"] == "status"
        code = current_code_tls(b, ctx)
        req = urllib.request.Request(f"https://127.0.0.1:{b.port}/api/pair", method="POST",
                                     data=json.dumps({"code": code}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            assert "; Secure" in r.headers["Set-Cookie"], "the cookie never travels without TLS"
        with connect(f"wss://127.0.0.1:{b.port}/ws?token={b.token}", ssl=ctx, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        # Plain HTTP on the same port from this machine itself is served (nothing crosses a network); from another
        # machine it is redirected to HTTPS (Tests/e2e/test_tls_lan.py, in a network namespace).
        with urllib.request.urlopen(f"http://127.0.0.1:{b.port}/api/status?token={b.token}", timeout=5) as r:
            assert r.status == 200
    finally:
        b.stop()


def current_code_tls(b, ctx) -> str:
    req = urllib.request.Request(f"https://127.0.0.1:{b.port}/api/admin/overview?token={b.token}", method="POST",
                                 data=b"", headers={"X-Admin-PIN": b.admin_pin})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.load(r)["pairing_code"]


def test_tls_with_a_missing_key_file_is_a_clear_config_error(tmp_path):
    import subprocess

    from conftest import BIN

    cfg = tmp_path / "bedside.yaml"
    (tmp_path / "cert.pem").write_text("x")
    cfg.write_text("web: {tls: {cert: cert.pem, key: nowhere/key.pem}}\n")
    r = subprocess.run([str(BIN), "check", "--config", str(cfg), "--no-run"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "web.tls.key" in out and "nowhere/key.pem" in out and "does not exist" in out, out
