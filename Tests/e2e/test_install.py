"""From an online machine to an offline clinic box (issue 10): bundle, install without network, run as the
service user from the unit's own command line, uninstall leaving nothing behind."""
from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import pytest

from conftest import BIN, REPO, wait_for

USER = "bedside-ci"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a user and a systemd unit: needs root")


def unit_fields(text: str) -> tuple[list[str], dict[str, str]]:
    exec_start, env = [], {}
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            exec_start = shlex.split(line[len("ExecStart="):])
        elif line.startswith("Environment="):
            k, _, v = line[len("Environment="):].partition("=")
            env[k] = v
    return exec_start, env


def test_bundle_then_offline_install_runs_as_the_service_user_and_uninstall_leaves_nothing(tmp_path):
    # A world-readable place, as /opt would be (pytest's tmp folders are root-only).
    root = Path(tempfile.mkdtemp(prefix="bedside-install-", dir="/tmp"))
    root.chmod(0o755)
    subprocess.run(["userdel", USER], capture_output=True)
    try:
        # 1. On the online machine: the bundle (program, research code, wheels).
        made = subprocess.run([str(BIN), "bundle", "--config", str(REPO / "researcher-template/bedside.yaml"),
                               "--out", str(tmp_path / "bedside-bundle"), "--python", sys.executable],
                              capture_output=True, text=True, timeout=600)
        if made.returncode != 0 and "fetching the Python packages' wheels" in made.stderr:
            pytest.skip(f"PyPI not reachable for the bundle's wheels: {made.stderr[-300:]}")
        assert made.returncode == 0, made.stdout + made.stderr
        with tarfile.open(tmp_path / "bedside-bundle.tar.gz") as t:
            t.extractall(root / "box", filter="tar")
        bundle = root / "box/bedside-bundle"
        assert sorted(p.name for p in (bundle / "wheels").iterdir() if p.name.startswith(("bedside_bridge", "numpy", "pyzmq")))

        # 2. On the box, offline: pip may not reach any index (a dead proxy on top of --no-index).
        offline = dict(os.environ, http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                       PIP_NO_INDEX="1")
        offline.pop("BEDSIDE_BRIDGE_PATH", None)
        inst = subprocess.run([str(bundle / "install.sh"), "--prefix", str(root / "opt"), "--unit-dir", str(root / "units"),
                               "--state-dir", str(root / "state"), "--user", USER, "--no-start"],
                              capture_output=True, text=True, env=offline, timeout=600)
        assert inst.returncode == 0, inst.stdout + inst.stderr
        assert "offline from" in inst.stdout and "systemd-analyze verify: ok" in inst.stdout, inst.stdout
        unit = (root / "units/bedside.service").read_text()
        assert f"User={USER}" in unit and "SupplementaryGroups=video" in unit and "Restart=on-failure" in unit
        assert "StartLimitBurst=" in unit and "StandardOutput=journal" in unit
        verify = subprocess.run(["systemd-analyze", "verify", str(root / "units/bedside.service")],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        user = pwd.getpwnam(USER)
        groups = subprocess.run(["id", "-nG", USER], capture_output=True, text=True).stdout.split()
        assert "video" in groups and user.pw_shell.endswith("nologin")

        # 3. systemd is not PID 1 here: start the unit's own ExecStart as the service user, with its Environment.
        exec_start, env = unit_fields(unit)
        ready = root / "state/ready.json"
        cmd = ["runuser", "-u", USER, "--", "env", "-i", "PATH=/usr/bin:/bin", *(f"{k}={v}" for k, v in env.items()),
               *exec_start, "--port", "0", "--ready-file", str(ready)]
        log = (tmp_path / "service.log").open("w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(root / "opt/site"))
        try:
            wait_for(lambda: ready.exists() or proc.poll() is not None, 60, what="the service to serve")
            assert proc.poll() is None, (tmp_path / "service.log").read_text()
            info = json.loads(ready.read_text())
            base = f"http://127.0.0.1:{info['port']}"
            with urllib.request.urlopen(f"{base}/?token={info['token']}", timeout=10) as r:
                assert r.status == 200 and b"<html" in r.read().lower()

            def status():
                with urllib.request.urlopen(f"{base}/api/status?token={info['token']}", timeout=10) as r:
                    return json.load(r)
            wait_for(lambda: status()["models"][0]["predictions"] > 0, 90, what="the demo model from the installed venv")
            s = status()
            assert s["recording"]["state"] == "recording", s["recording"]
            assert s["recording"]["session"].startswith(str(root / "state/recordings")), s["recording"]
            pid = info["pid"]
            uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")).split()[1])
            assert uid == user.pw_uid, "runs as the unprivileged user"
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert f"{root}/opt/lib/libswiftCore.so" in maps or "libswiftCore" not in maps, "the Swift runtime comes from the install"
            model_pid = s["models"][0]["pid"]
            assert os.readlink(f"/proc/{model_pid}/exe").startswith(str(root / "opt/venv")) or \
                Path(f"/proc/{model_pid}/cmdline").read_bytes().startswith(str(root / "opt/venv").encode())
        finally:
            # Stop Bedside itself, as systemd would (runuser would report its own SIGTERM, not Bedside's exit).
            if ready.exists():
                os.kill(json.loads(ready.read_text())["pid"], 15)
            else:
                proc.terminate()
            proc.wait(timeout=30)
            log.close()
        assert proc.returncode == 0, (tmp_path / "service.log").read_text()

        # 4. Uninstall: nothing of the install is left; the recordings are kept aside.
        un = subprocess.run([str(root / "opt/bin/bedside"), "uninstall", "--prefix", str(root / "opt")],
                            capture_output=True, text=True, env=dict(os.environ, LD_LIBRARY_PATH=str(root / "opt/lib")))
        assert un.returncode == 0, un.stdout + un.stderr
        assert not (root / "opt").exists() and not (root / "units/bedside.service").exists()
        assert not (root / "state").exists()
        assert subprocess.run(["id", USER], capture_output=True).returncode != 0, "the user is gone"
        kept = root / "bedside-recordings-kept"
        assert kept.exists() and any(kept.rglob("*.mp4")), "the research data is kept"
    finally:
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["groupdel", USER], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
