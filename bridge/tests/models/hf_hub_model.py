"""Test model whose construction downloads its weights through huggingface_hub, the way timm, transformers and
PCBM's backbones do (`hf_hub_download` at import). The repository and file come from BEDSIDE_TEST_HF_REPO and
BEDSIDE_TEST_HF_FILE; HF_ENDPOINT points huggingface_hub at a loopback stand-in for the hub.
"""

import hashlib
import os

from huggingface_hub import hf_hub_download


class Observer:
    """A research-style constructor that fetches pretrained weights."""

    def __init__(self, repo_id, filename):
        path = hf_hub_download(repo_id=repo_id, filename=filename)
        with open(path, "rb") as f:
            self.weights = f.read()


OBSERVER = Observer(os.environ.get("BEDSIDE_TEST_HF_REPO", "bedside-test/pcbm-observer"),
                    os.environ.get("BEDSIDE_TEST_HF_FILE", "observer.safetensors"))


def predict(image):
    w = OBSERVER.weights
    return {"extra": {"weights_sha256": hashlib.sha256(w).hexdigest(), "weights_bytes": len(w)}}
