"""Test model that downloads its weights at import, the way torch.hub does, unless they are cached.

The weights URL comes from BEDSIDE_TEST_HUB_URL (a loopback server stands in for the model hub); the cache is
$TORCH_HOME/hub/checkpoints/<file name>, TORCH_HOME defaulting to $XDG_CACHE_HOME/torch like torch's.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from urllib.parse import urlparse

WEIGHTS_URL = os.environ.get("BEDSIDE_TEST_HUB_URL", "http://127.0.0.1:9/checkpoints/tiny-net-5f4dcc3b.pth")


def get_dir():
    torch_home = os.path.expanduser(
        os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    )
    return os.path.join(torch_home, "hub")


def download_url_to_file(url, dst):
    """As torch.hub.download_url_to_file: stream into a temporary file beside dst, then move it into place."""
    req = urllib.request.Request(url, headers={"User-Agent": "torch.hub"})
    u = urllib.request.urlopen(req)
    dst_dir = os.path.dirname(os.path.abspath(dst))
    f = tempfile.NamedTemporaryFile(delete=False, dir=dst_dir)
    try:
        while True:
            buffer = u.read(8192)
            if len(buffer) == 0:
                break
            f.write(buffer)
        f.close()
        shutil.move(f.name, dst)
    finally:
        f.close()
        if os.path.exists(f.name):
            os.remove(f.name)


def load_state_dict_from_url(url):
    model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    cached_file = os.path.join(model_dir, os.path.basename(urlparse(url).path))
    if not os.path.exists(cached_file):
        sys.stderr.write(f'Downloading: "{url}" to {cached_file}\n')
        download_url_to_file(url, cached_file)
    with open(cached_file, "rb") as f:
        return f.read()


WEIGHTS = load_state_dict_from_url(WEIGHTS_URL)


def predict(image):
    return {"extra": {"weights_sha256": hashlib.sha256(WEIGHTS).hexdigest(), "weights_bytes": len(WEIGHTS)}}
