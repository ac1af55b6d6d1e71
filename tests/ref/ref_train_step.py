#!/usr/bin/python3
"""
Reference training steps for tests/cli/train.sh, in PyTorch (float64):

  ref_train_step.py NET SEED IN.xs OUT.npz --steps K --optimizer sgd|adamw --lr R
                    [--momentum M] [--weight-decay W] [--label-smoothing S] [--width W]

builds the net of ref_torchnets.py with random weights and batchnorm statistics from SEED,
puts it in training mode, and takes K optimiser steps, each on all the rows of IN.xs (field x,
float32 [1, 32, 32]; labels y) as one batch, with cross-entropy (mean over the rows, label
smoothing S). Weight decay applies to conv and linear weights only, as xfer-train does. Saves
the state_dict after the steps (running statistics included) to OUT.npz.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_torchnets as R  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("net")
    p.add_argument("seed", type=int)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--width", type=int, default=16)
    a = p.parse_args()
    torch.set_num_threads(1)
    module, _ = R.make(a.net, a.seed, width=a.width)
    module = module.double().train()
    x = torch.from_numpy(R.read_samples(a.input))
    import msgpack, msgpack_numpy as m
    y = torch.from_numpy(np.concatenate([f["cols"]["y"] for f in msgpack.Unpacker(open(a.input, "rb"),
                         object_hook=m.decode, raw=False) if f["t"] == "batch"]).astype(np.int64))
    decay = [q for n, q in module.named_parameters() if n.endswith("weight") and q.dim() > 1]
    rest = [q for n, q in module.named_parameters() if not (n.endswith("weight") and q.dim() > 1)]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=a.lr, momentum=a.momentum)
    else:
        opt = torch.optim.AdamW(groups, lr=a.lr)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=a.label_smoothing)
    for _ in range(a.steps):
        opt.zero_grad()
        loss_fn(module(x), y).backward()
        opt.step()
    np.savez(a.output, **{k: v.numpy() for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")})


if __name__ == "__main__":
    main()
