#!/usr/bin/python3
"""
Reference forward passes of the model graph ops (schemas/stream.md 9.3) computed by the
PyTorch modules of the same names, in float64 so that the reference carries no float32
rounding of its own. Each function takes numpy arrays with a leading batch dimension and
the op's attrs as the graph spells them, and returns a numpy float64 array.
Run with /usr/bin/python3 (Debian python3-torch, numpy).
"""
import numpy as np
import torch
import torch.nn.functional as F


def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return F.conv2d(_t(x), _t(weight), None if bias is None else _t(bias), tuple(stride), tuple(padding),
                    tuple(dilation), groups).numpy()


def batchnorm(x, weight, bias, running_mean, running_var, eps=1e-5):
    """Inference form, normalising along dimension 1 (the per-sample dimension 0)."""
    return F.batch_norm(_t(x), _t(running_mean), _t(running_var), _t(weight), _t(bias), False, 0.0, eps).numpy()


def maxpool2d(x, kernel, stride=None, padding=(0, 0)):
    return F.max_pool2d(_t(x), tuple(kernel), tuple(stride or kernel), tuple(padding)).numpy()


def avgpool2d(x, kernel, stride=None, padding=(0, 0), count_include_pad=True):
    return F.avg_pool2d(_t(x), tuple(kernel), tuple(stride or kernel), tuple(padding),
                        count_include_pad=count_include_pad).numpy()


def global_avgpool(x):
    return F.adaptive_avg_pool2d(_t(x), 1).flatten(1).numpy()


def gelu(x, approximate="none"):
    return F.gelu(_t(x), approximate=approximate).numpy()


def softmax(x, axis=-1):
    """axis is per sample, as in the graph: -1 is the last dimension, 0 the one after the batch."""
    return F.softmax(_t(x), dim=axis if axis < 0 else axis + 1).numpy()


def layernorm(x, weight, bias=None, eps=1e-5):
    w = np.asarray(weight)
    return F.layer_norm(_t(x), w.shape, _t(w), None if bias is None else _t(bias), eps).numpy()


def linear(x, weight, bias=None):
    return F.linear(_t(x), _t(weight), None if bias is None else _t(bias)).numpy()
