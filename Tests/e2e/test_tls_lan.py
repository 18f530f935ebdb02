"""Issue 19: encrypted by default beyond loopback. Bedside in the host namespace, bound to every address as in a
clinic; a tablet (Chromium) in a network namespace behind a veth pair, reaching it at the LAN address. Without
Bedside's CA the tablet gets a clear page that refuses to show the live page and says how to install the CA, and
HTTPS fails certificate verification (nothing ignores certificate errors); with the CA installed the way that page
says, the plain address opens the encrypted live page by itself, with the video decoding (a secure context).

Needs root (ip netns) and certutil (libnss3-tools); skipped elsewhere. Everything it makes it removes."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HOST_IP, NS_IP = "10.213.0.1", "10.213.0.2"
CHROMIUM = os.environ.get("BEDSIDE_CHROMIUM", "/usr/bin/chromium")


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def lan():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("certutil") or not os.path.exists(CHROMIUM):
        pytest.skip("needs root (ip netns), certutil (libnss3-tools) and Chromium")
    tag = f"t{os.getpid() % 10000}"
    ns, host_dev, ns_dev = f"bedside-{tag}", f"bh-{tag}", f"bt-{tag}"
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", host_dev, check=False)
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_dev, "type", "veth", "peer", "name", ns_dev)
        sh("ip", "link", "set", ns_dev, "netns", ns)
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", host_dev)
        sh("ip", "link", "set", host_dev, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NS_IP}/24", "dev", ns_dev)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_dev, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
    except subprocess.CalledProcessError as e:
        sh("ip", "netns", "del", ns, check=False)
        pytest.skip(f"cannot make a network namespace here: {e.stderr.strip()}")
    try:
        yield ns
    finally:
        sh("ip", "link", "del", host_dev, check=False)
        sh("ip", "netns", "del", ns, check=False)


def test_tablet_on_the_lan_pairs_over_https_after_installing_the_ca_as_the_page_says(lan, tmp_path):
    from conftest import start_bedside

    cfg = tmp_path / "bedside.yaml"
    # Bound to every address, as in a clinic; web.tls left out: HTTPS with Bedside's own CA is the default.
    cfg.write_text("source: {kind: phantom, width: 640, height: 480, fps: 15}\nrecording: {enabled: false}\n"
                   "web: {bind: 0.0.0.0}\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        ready = json.loads((tmp_path / "bedside-ready.json").read_text())
        assert ready["url"].startswith("https://"), ready
        console = b.log.read_text()
        fingerprint = re.search(r"certificate SHA-256 ([0-9A-F:]{95})", console)
        assert fingerprint, console
        assert f"http://{HOST_IP}:" in console or "open http://" in console, console
        # This machine itself still gets plain HTTP on loopback (nothing crosses a network there).
        with urllib.request.urlopen(f"{b.base_url}/api/status?token={b.token}", timeout=5) as r:
            assert r.status == 200
        # The admin page says how tablets are reached, with the fingerprint to compare.
        req = urllib.request.Request(f"{b.base_url}/api/admin/overview?token={b.token}", method="POST", data=b"",
                                     headers={"X-Admin-PIN": b.admin_pin})
        with urllib.request.urlopen(req, timeout=5) as r:
            transport = json.load(r)["transport"]
        assert transport["encryption"] == "bedside-ca" and transport["ca_fingerprint"] == fingerprint.group(1), transport
        assert HOST_IP in transport["hosts"], transport  # the address a tablet opens, for the admin page's note
        # The CA from this machine too (the admin page links it), the same bytes as in the state folder.
        with urllib.request.urlopen(f"{b.base_url}/bedside-ca.pem", timeout=5) as r:
            assert r.read().decode() == (tmp_path / "bedside-state/tls/bedside-ca.pem").read_text()

        home = tmp_path / "tablet-home"
        home.mkdir()
        out = tmp_path / "inside.json"
        r = subprocess.run(
            ["ip", "netns", "exec", lan, sys.executable, __file__, "--inside", f"{HOST_IP}:{b.port}", b.token, str(home),
             str(out), str(b.artifacts)],
            capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        got = json.loads(out.read_text())
        print("\n" + json.dumps(got, indent=1))

        # Without the CA: the page that refuses, names the steps and the fingerprint; HTTPS does not verify.
        before = got["before"]
        assert before["state"] == "untrusted" and before["live_page"] is False, before
        assert before["fingerprint"] == fingerprint.group(1), (before, fingerprint.group(1))
        assert "iPad" in before["text"] and "Android" in before["text"] and "Windows" in before["text"], before
        assert "ERR_CERT_AUTHORITY_INVALID" in before["https_error"], before
        assert before["api_status"] == 403 and f"https://{HOST_IP}:{b.port}/api/status" in before["api_fix"], before
        assert b.token not in before["api_fix"], "the token is not echoed back in plain text"
        assert before["ws_status"] == 403, before
        # The CA as downloaded from that page is the one the console printed.
        assert got["downloaded_fingerprint"] == fingerprint.group(1)

        # With the CA installed by the page's own command: plain address -> the encrypted live page, by itself.
        after = got["after"]
        assert after["url"].startswith(f"https://{HOST_IP}:{b.port}/") and f"token={b.token}" in after["url"], after
        assert after["secure_context"] is True and after["frames"] > 5, after
        assert after["video"] == "h264", after   # WebCodecs: only in a secure context
        assert after["errors"] == [], after
        # The operator reads one line per device that does not trust the CA yet, naming it and the fix; no errors
        # for the connections the gate answered itself.
        log = b.log.read_text()
        assert f"TLS handshake from {NS_IP} failed" in log and "install the certificate" in log, log[-3000:]
        assert " error " not in log, [line for line in log.splitlines() if " error " in line]
    finally:
        b.stop()


def test_own_certificate_on_the_lan_redirects_plain_http_to_https(lan, tmp_path):
    """`web.tls: {cert, key}` (a certificate the tablets already trust): plain HTTP to the LAN address is sent
    straight to HTTPS; the API in plain text is refused, naming the HTTPS address."""
    from conftest import start_bedside

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
       "-subj", f"/CN={HOST_IP}", "-addext", f"subjectAltName=IP:{HOST_IP}", "-keyout", str(key), "-out", str(cert))
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nrecording: {enabled: false}\n"
                   f"web: {{bind: 0.0.0.0, tls: {{cert: {cert}, key: {key}}}}}\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        def curl(*args: str) -> str:
            return sh("ip", "netns", "exec", lan, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                      *args, check=False).stdout.strip()

        page = curl("-H", "Accept: text/html", f"http://{HOST_IP}:{b.port}/?token={b.token}")
        assert page == f"308 https://{HOST_IP}:{b.port}/?token={b.token}", page
        assert curl(f"http://{HOST_IP}:{b.port}/api/status?token={b.token}").startswith("403"), "the API is not redirected"
        assert curl("--cacert", str(cert), f"https://{HOST_IP}:{b.port}/api/status?token={b.token}").startswith("200")
        assert curl(f"https://{HOST_IP}:{b.port}/api/status?token={b.token}").startswith("000"), "an unknown CA fails"
    finally:
        b.stop()


PAGE = """() => ({ state: (document.querySelector('[data-testid=secure-state]') || {}).dataset?.state || '',
  fingerprint: (document.querySelector('[data-testid=secure-fingerprint]') || {}).textContent || '',
  text: document.body.innerText, live_page: !!document.getElementById('app') })"""

LIVE = """() => { const S = window.__bedside && window.__bedside.state;
  return { frames: S ? S.frame.count : 0, video: S ? S.video : '', secure_context: window.isSecureContext }; }"""


def inside(address: str, token: str, home: str, out: str, artifacts: str) -> None:
    """In the tablet's namespace: Chromium with its own HOME (its own certificate store)."""
    from playwright.sync_api import Error, sync_playwright

    env = dict(os.environ, HOME=home)
    result: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], env=env)
        page = browser.new_context(viewport={"width": 1180, "height": 820}, accept_downloads=True).new_page()
        page.goto(f"http://{address}/?token={token}")
        page.wait_for_function("() => document.querySelector('[data-testid=secure-state]')?.dataset.state === 'untrusted'",
                               timeout=20_000)
        before = page.evaluate(PAGE)
        page.screenshot(path=f"{artifacts}/tls-refusal-without-ca.png", full_page=True)
        command = page.locator('details[data-os=linux] code').first.inner_text()
        with page.expect_download() as dl:
            page.click('[data-testid=secure-download-crt]')
        crt = Path(home) / "Downloads" / "bedside-ca.crt"
        crt.parent.mkdir(parents=True, exist_ok=True)
        dl.value.save_as(str(crt))
        try:
            page.goto(f"https://{address}/?token={token}")
            before["https_error"] = ""
        except Error as e:
            before["https_error"] = str(e).splitlines()[0]
        for path, extra in (("/api/status", {}), ("/ws", {"Upgrade": "websocket", "Connection": "Upgrade",
                                                            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})):
            req = urllib.request.Request(f"http://{address}{path}?token={token}", headers=extra)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    code, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read()
            key = "api" if path == "/api/status" else "ws"
            before[f"{key}_status"] = code
            if key == "api":
                before["api_fix"] = json.loads(body).get("fix", "")
        browser.close()
        result["before"] = before
        der = crt.read_bytes()
        import hashlib
        result["downloaded_fingerprint"] = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())

        # The page's Linux step, as written there (~/Downloads is this tablet's HOME's).
        subprocess.run(["bash", "-c", command], check=True, env=env)

        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], env=env)
        page = browser.new_context(viewport={"width": 1180, "height": 820}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://{address}/?token={token}")
        page.wait_for_url(re.compile(r"^https://"), timeout=20_000)
        page.wait_for_function(f"() => ({LIVE})().frames > 5", timeout=30_000)
        after = page.evaluate(LIVE)
        after["url"] = page.url
        after["errors"] = errors
        page.screenshot(path=f"{artifacts}/tls-live-page-after-ca.png")
        browser.close()
        result["after"] = after
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--inside":
    inside(*sys.argv[2:7])
