"""PlaneNet: a small standard-plane classifier, written the way a PyTorch model is written.

The lab's real model subclasses torch.nn.Module. This copy implements the few pieces of that API it
uses (Module, Linear, ReLU, AvgPool2d, state_dict / load_state_dict, eval) in numpy, so that
Bedside's example runs without torch. With torch the code reads the same:

    net = PlaneNet(**ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    with torch.no_grad():
        logits = net(x)          # x: (N, 1, H, W) float32, normalised

DEMONSTRATION CODE, trained on Bedside's synthetic phantom only. Not a clinical model.
"""

import json

import numpy as np


class Module:
    """The part of torch.nn.Module this model needs."""

    training = True

    def __call__(self, *args):
        return self.forward(*args)

    def forward(self, *args):
        raise NotImplementedError

    def _children(self):
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Module)]

    def _parameters(self):
        return [(name, value) for name, value in vars(self).items() if isinstance(value, np.ndarray)]

    def state_dict(self, prefix=""):
        out = {prefix + name: value for name, value in self._parameters()}
        for name, child in self._children():
            out.update(child.state_dict(prefix + name + "."))
        return out

    def load_state_dict(self, state, strict=True):
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        for key, value in state.items():
            if key not in own:
                continue
            if own[key].shape != value.shape:
                raise ValueError(f"{key}: checkpoint shape {value.shape}, model shape {own[key].shape}")
            owner, name = self, key
            while "." in name:
                head, name = name.split(".", 1)
                owner = getattr(owner, head)
            setattr(owner, name, np.array(value, dtype=np.float32))
        return self

    def train(self, mode=True):
        self.training = mode
        for _, child in self._children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)


class Linear(Module):
    def __init__(self, in_features, out_features):
        self.weight = np.zeros((out_features, in_features), np.float32)
        self.bias = np.zeros(out_features, np.float32)

    def forward(self, x):
        return x @ self.weight.T + self.bias


class ReLU(Module):
    def forward(self, x):
        return np.maximum(x, 0)


class AvgPool2d(Module):
    def __init__(self, kernel_size):
        self.kernel_size = kernel_size

    def forward(self, x):
        n, c, h, w = x.shape
        k = self.kernel_size
        return x[:, :, : h - h % k, : w - w % k].reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


class PlaneNet(Module):
    """(N, 1, height, width) normalised grey frames -> (N, num_classes) logits."""

    def __init__(self, height=64, width=80, pool=4, hidden=32, num_classes=4):
        self.pool = AvgPool2d(pool)
        self.fc1 = Linear((height // pool) * (width // pool), hidden)
        self.act = ReLU()
        self.fc2 = Linear(hidden, num_classes)

    def forward(self, x):
        x = self.pool(x)
        x = x.reshape(x.shape[0], -1)
        return self.fc2(self.act(self.fc1(x)))


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by train.py (the numpy stand-in for torch.load).

    Returns {"state_dict": {name: array}, "config": PlaneNet arguments, "classes": [...],
    "normalise": {"mean": m, "std": s}, "epoch": n, ...}.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        meta["state_dict"] = {k[len("state_dict/"):]: data[k] for k in data.files if k.startswith("state_dict/")}
    return meta


def save_checkpoint(path, net, **meta):
    arrays = {"state_dict/" + k: v for k, v in net.state_dict().items()}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
