#!/usr/bin/env python3
"""Train PlaneNet on labelled frames. This script produced weights/planenet.npz.

    bedside phantom --out /tmp/train --count 960 --step 0.05 --model-size 80x64 --crop 248,72,784,610
    bedside phantom --out /tmp/val --count 150 --step 0.37 --model-size 80x64 --crop 248,72,784,610
    python train.py /tmp/train --val /tmp/val --out weights/planenet.npz

A frame folder holds 8-bit PGM files and truth.jsonl (one {"file", "plane", ...} per line), as
`bedside phantom` writes them. Full-batch Adam on the cross-entropy, written out in numpy (the lab's
version uses torch.optim.Adam and autograd; the arithmetic is the same).
"""

import argparse
import json
import os
import sys

import numpy as np

from planenet import PlaneNet, save_checkpoint, softmax

CLASSES = ["none", "head", "abdomen", "femur"]


def read_pgm(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and int(maxval) == 255, f"{path}: not an 8-bit binary PGM"
    w, h = int(width), int(height)
    return np.frombuffer(pixels[: w * h], np.uint8).reshape(h, w)


def load_folder(folder):
    xs, ys = [], []
    with open(os.path.join(folder, "truth.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            xs.append(read_pgm(os.path.join(folder, row["file"])))
            ys.append(CLASSES.index(row["plane"]))
    return np.stack(xs).astype(np.float32)[:, None] / 255.0, np.array(ys)


def main(argv=None):
    p = argparse.ArgumentParser(description="Train PlaneNet.")
    p.add_argument("train", help="folder of training frames with truth.jsonl")
    p.add_argument("--val", help="folder of validation frames")
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="weights/planenet.npz")
    args = p.parse_args(argv)

    x, y = load_folder(args.train)
    mean, std = float(x.mean()), float(x.std())
    x = (x - mean) / std
    n, _, height, width = x.shape
    net = PlaneNet(height=height, width=width, hidden=args.hidden, num_classes=len(CLASSES))
    rng = np.random.default_rng(args.seed)
    for layer in (net.fc1, net.fc2):  # the default init of torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in))
        bound = 1.0 / np.sqrt(layer.weight.shape[1])
        layer.weight = rng.uniform(-bound, bound, layer.weight.shape).astype(np.float32)
        layer.bias = rng.uniform(-bound, bound, layer.bias.shape).astype(np.float32)
    net.train()

    pooled = net.pool(x).reshape(n, -1)  # the pooling layer has no weights: compute it once
    onehot = np.eye(len(CLASSES), dtype=np.float32)[y]
    params = [net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias]
    m = [np.zeros_like(q) for q in params]
    v = [np.zeros_like(q) for q in params]
    for epoch in range(1, args.epochs + 1):
        h = pooled @ net.fc1.weight.T + net.fc1.bias
        a = np.maximum(h, 0)
        prob = softmax(a @ net.fc2.weight.T + net.fc2.bias)
        loss = float(-np.log(prob[np.arange(n), y] + 1e-9).mean())
        d_out = (prob - onehot) / n
        d_a = d_out @ net.fc2.weight
        d_h = d_a * (h > 0)
        grads = [d_h.T @ pooled, d_h.sum(0), d_out.T @ a, d_out.sum(0)]
        for i, (q, g) in enumerate(zip(params, grads)):  # Adam, betas (0.9, 0.999)
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            q -= args.lr * (m[i] / (1 - 0.9**epoch)) / (np.sqrt(v[i] / (1 - 0.999**epoch)) + 1e-8)
        if epoch % 100 == 0 or epoch == args.epochs:
            acc = float((prob.argmax(1) == y).mean())
            print(f"epoch {epoch:4d}  loss {loss:.4f}  train accuracy {acc:.1%}")
    net.eval()

    val_acc = None
    if args.val:
        xv, yv = load_folder(args.val)
        val_acc = float((net((xv - mean) / std).argmax(1) == yv).mean())
        print(f"validation accuracy {val_acc:.1%} ({len(yv)} frames)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_checkpoint(
        args.out, net,
        config={"height": height, "width": width, "pool": 4, "hidden": args.hidden, "num_classes": len(CLASSES)},
        classes=CLASSES, normalise={"mean": mean, "std": std}, epoch=args.epochs,
        val_accuracy=val_acc, trained_on=os.path.basename(os.path.normpath(args.train)),
    )
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
