"""Storage faults (issue 9): the disk fills up, the recording folder is not writable, the session folder is deleted
while recording. Capture and the page must go on in every case; each test records what Bedside did, what was lost and
how long it took to record again (faults.record).

Mounts need root (a small tmpfs for a full disk, a read-only tmpfs for an unwritable folder); where mounting is not
allowed those tests skip, as test_recording.py's full-disk test does. Root ignores file permissions, so chmod 555 is
no test here: a read-only mount (EROFS) and a path under a regular file (ENOTDIR) make real failures.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_faults_process import exit_code_after_sigterm, record_row, sessions, short, timed_wait
from test_recording import ffprobe_frames, post

from conftest import start_bedside, wait_for


def mount_tmpfs(mnt: Path, options: str) -> None:
    mnt.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")


def state_of(b) -> dict:
    return b.status()["recording"]


def test_disk_fills_up_while_recording_then_space_returns(tmp_path):
    """A write fails with ENOSPC (min_free_mb 0: the once-a-second check cannot see it coming)."""
    fps = 30
    mnt = tmp_path / "small-disk"
    mount_tmpfs(mnt, "size=50m")
    try:
        filler = mnt / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * (48 << 20 | 1 << 19))  # 1.5 MB left: ~7 s of 640x480@30
        cfg = tmp_path / "bedside.yaml"
        cfg.write_text(f"source: {{kind: phantom, width: 640, height: 480, fps: {fps}}}\nmodels: []\n"
                       "recording: {min_free_mb: 0}\n")
        b = start_bedside(["run", "--config", str(cfg)], tmp_path, recordings=mnt / "rec")
        try:
            rec, full_s = timed_wait(lambda: (lambda r: r if r["state"] == "paused" else None)(state_of(b)), 90,
                                     "recording to pause on ENOSPC")
            c1 = b.status()["source"]["frames_captured"]
            time.sleep(2)
            c2 = b.status()["source"]["frames_captured"]
            assert c2 > c1, "capture goes on while recording is paused"
            filler.unlink()
            t0 = time.monotonic()
            wait_for(lambda: state_of(b)["state"] == "recording" and state_of(b)["alert"] is None, 30,
                     interval=0.05, what="recording to resume")
            resumed_s = time.monotonic() - t0
            wait_for(lambda: len(json.loads((Path(state_of(b)["session"]) / "session.json").read_text())["segments"]) >= 2,
                     30, what="the new file in session.json")
            time.sleep(1)
            captured = b.status()["source"]["frames_captured"]
        finally:
            code = exit_code_after_sigterm(b)
        session = sessions(mnt / "rec")[-1]
        info = json.loads((session / "session.json").read_text())
        decodable = [len(ffprobe_frames(session / seg["file"])) for seg in info["segments"]]
        written = sum(seg["frames"] for seg in info["segments"])
        lost_at_enospc = info["segments"][0]["frames"] - decodable[0]
        skipped = info["frames_skipped_for_disk"]
        print(f"\npaused after {full_s:.1f} s: {rec['alert']}\nsegments {[(s['file'], s['frames']) for s in info['segments']]}, "
              f"decodable {decodable}, skipped for disk {skipped}, resumed {resumed_s:.2f} s after space returned, "
              f"exit {code}")
        record_row("storage", "disk full while recording (a write fails with ENOSPC; 50 MB tmpfs, min_free_mb 0)",
               f"finalised the file, paused recording with an alert ({short(rec['alert'])[:60]}...), capture and page went "
               f"on; resumed in a new file of the same session when space was freed; session.json finished with "
               f"{len(info['pauses'])} pause; exit {code} on SIGTERM",
               f"{lost_at_enospc} frames of the file being written when the disk filled ({decodable[0]} of "
               f"{info['segments'][0]['frames']} decodable), {skipped} frames not recorded while the disk was full "
               f"(~{skipped / fps:.1f} s, by design); 0 after resuming ({decodable[1:]} of "
               f"{[s['frames'] for s in info['segments'][1:]]} decodable)",
               recovery_s=resumed_s, crashes=0 if code == 0 else 1)
        assert code == 0 and info["state"] == "finished" and len(info["pauses"]) == 1
        assert lost_at_enospc <= fps, "at most the fragment in progress (1 s)"
        assert decodable[1:] == [s["frames"] for s in info["segments"][1:]]
        assert written + skipped + info["frames_dropped"] >= captured - 2 * fps
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_recording_folder_under_a_file_is_not_writable(tmp_path):
    """`recording.directory` below a regular file (ENOTDIR): a real failure even for root."""
    (tmp_path / "a-file").write_text("not a folder")
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path, recordings=tmp_path / "a-file" / "recordings")
    try:
        rec, fail_s = timed_wait(lambda: (lambda r: r if r["state"] == "failed" else None)(state_of(b)), 20,
                                 "recording to fail")
        c1 = b.status()["source"]["frames_captured"]
        time.sleep(1.5)
        assert b.status()["source"]["frames_captured"] > c1, "capture goes on"
        code, body = post(b, "recording/start", pin=b.admin_pin)
        again = state_of(b)
    finally:
        code_exit = exit_code_after_sigterm(b)
    print(f"\nfailed {fail_s:.2f} s after serving: {rec['error']}\nalert {rec['alert']!r}; start again -> {code} {body}, "
          f"then {again['state']}: {again.get('error')}")
    record_row("storage", "recording folder not writable at start (a path below a regular file: ENOTDIR)",
           f"kept capturing and serving; recording state `failed` within {fail_s:.1f} s with the error "
           f"{rec['error']!r} and the page alert {rec['alert']!r} (in `always` mode tried again every 10 s); "
           f"POST /api/recording/start (admin PIN) answered {code} with the error and the fix "
           f"({body.get('error', '')[:60]!r}...); exit {code_exit} on SIGTERM",
           "everything to be recorded until the folder is fixed (0 capture frames)", recovery_s=None,
           crashes=0 if code_exit == 0 else 1)
    assert code_exit == 0
    assert "cannot create the recording folder" in rec["error"] and "Not a directory" in rec["error"], rec
    assert "tries again every 10 s" in (rec["alert"] or ""), rec
    assert code == 500 and body["started"] is False and "Not a directory" in body["error"] and body["fix"], body
    assert again["state"] == "failed" and again["failures"] >= 2, again


def test_recording_folder_read_only_then_writable_again(tmp_path):
    """The recordings folder is a read-only mount (EROFS) at start; then it is made writable: does recording
    come back by itself, or after an admin's start?"""
    mnt = tmp_path / "ro"
    mount_tmpfs(mnt, "size=20m")
    try:
        (mnt / "recordings").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        cfg = tmp_path / "bedside.yaml"
        cfg.write_text("source: {kind: phantom, width: 320, height: 240, fps: 15}\nmodels: []\n"
                       "recording: {min_free_mb: 1}\n")
        b = start_bedside(["run", "--config", str(cfg)], tmp_path, recordings=mnt / "recordings")
        try:
            rec, fail_s = timed_wait(lambda: (lambda r: r if r["state"] == "failed" else None)(state_of(b)), 20,
                                     "recording to fail")
            subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
            t1 = time.monotonic()
            # `always` mode tries again every 10 s by itself: no admin needed.
            wait_for(lambda: state_of(b)["state"] == "recording" and state_of(b)["frames_written"] > 0, 25,
                     interval=0.1, what="recording to come back by itself")
            recovered_s = time.monotonic() - t1
            time.sleep(1)
            session = Path(state_of(b)["session"])
            failures = state_of(b)["failures"]
        finally:
            code_exit = exit_code_after_sigterm(b)
        info = json.loads((session / "session.json").read_text())
        n = len(ffprobe_frames(session / "video-000.mp4"))
        print(f"\nfailed after {fail_s:.2f} s: {rec['error']}; recording again by itself {recovered_s:.1f} s after the "
              f"folder became writable ({failures} failed attempts); recorded {n}/{info['frames_written']}")
        record_row("storage", "recording folder on a read-only filesystem at start (EROFS), made writable later",
               f"kept capturing and serving; recording `failed` within {fail_s:.1f} s ({rec['error']!r}), the alert "
               f"says it is tried again every 10 s; {failures} failed attempt(s) in all; recording again by itself "
               f"{recovered_s:.1f} s after the folder became writable, in a new session that finished cleanly ({n} "
               "frames); recovery time: from the folder becoming writable to the first frame written",
               "everything until the folder became writable, then up to 10 s (the retry interval); 0 capture frames",
               recovery_s=recovered_s, crashes=0 if code_exit == 0 else 1)
        assert code_exit == 0
        assert "Read-only file system" in rec["error"], rec
        assert recovered_s <= 15
        assert info["state"] == "finished" and n == info["frames_written"]
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_session_folder_deleted_while_recording(tmp_path):
    """`rm -rf` of the open session's folder (a cleanup script, a curious user): Bedside notices within a second,
    says so, and records on in the folder made again; what was in the folder is lost."""
    fps = 15
    cfg = tmp_path / "bedside.yaml"
    cfg.write_text(f"source: {{kind: phantom, width: 320, height: 240, fps: {fps}}}\nmodels: []\n")
    b = start_bedside(["run", "--config", str(cfg)], tmp_path)
    try:
        wait_for(lambda: state_of(b)["frames_written"] >= 2 * fps, 30, what="2 s recorded")
        session = Path(state_of(b)["session"])
        w0 = state_of(b)["frames_written"]
        shutil.rmtree(session)
        t0 = time.monotonic()
        r = wait_for(lambda: (lambda r: r if r.get("alert") and "deleted" in r["alert"] else None)(state_of(b)),
                     10, interval=0.05, what="the deletion to be noticed")
        noticed_s = time.monotonic() - t0
        w_noticed = r["frames_written"]
        wait_for(lambda: any(session.glob("video-*.mp4")), 10, interval=0.05, what="a new file in the folder made again")
        time.sleep(3)
        r = state_of(b)
        c1 = b.status()["source"]["frames_captured"]
        time.sleep(1)
        capture_goes_on = b.status()["source"]["frames_captured"] > c1
    finally:
        code_exit = exit_code_after_sigterm(b)
    info = json.loads((session / "session.json").read_text())
    files = sorted(session.glob("video-*.mp4"))
    decodable = sum(len(ffprobe_frames(f)) for f in files)
    in_deleted = w_noticed - w0
    print(f"\nnoticed after {noticed_s:.2f} s; {in_deleted} frames went to the deleted file; files now "
          f"{[f.name for f in files]} with {decodable} decodable frames; state {r['state']}; session {info['state']}")
    record_row("storage", "session folder deleted (rm -rf) while recording",
               f"noticed {noticed_s:.1f} s after the deletion (checked once a second): alert on the page and the admin "
               f"page, the folder made again, recording went on in a new file ({', '.join(f.name for f in files)}); "
               f"session.json rewritten with the event in `pauses`; capture and page went on",
               f"the {w0} frames already in the folder (deleted by the user) and {in_deleted} frames written before "
               f"it was noticed; 0 after", recovery_s=noticed_s, crashes=0 if code_exit == 0 else 1)
    assert code_exit == 0 and capture_goes_on
    assert noticed_s < 3, noticed_s
    assert r["state"] == "recording" and decodable > 2 * fps
    assert info["state"] == "finished" and "deleted" in info["pauses"][0]["reason"]
