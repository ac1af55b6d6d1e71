"""Torch references for lib/merge.c's TIES (run with /usr/bin/python3; torch 1.13).

  ref_merge.py fixtures [DIR]     write the unit-test fixtures (default tests/data/merge)

The functions below are the TIES authors' (prateeky2806/ties-merging @ 44e7891,
src/utils/merge_utils.py: topk_values_mask, resolve_zero_signs, resolve_sign,
disjoint_merge, ties_merging) and mergekit's (arcee-ai/mergekit @ a6e4028: sparsify.magnitude,
generalized_task_arithmetic.get_mask and the GTATask sum), as ../shared/docs/merge.md §3
pins them, trimmed of the options the method does not use. Data are continuous (no equal
magnitudes, so torch's unspecified argsort order cannot matter, and no exact cancellations).

Fixtures: base-K.npy and model-I-K.npy (float32 tensors K = 0..2 of the base and of models
I = 0..2); for each case C, C-out-K.npy (float32, the merged tensors) and C-info.npy (float64:
density, lambda, then the three weights).
  official-global  the official code: one vector of all tensors, K = 0.2, lambda 1
  official-tensor  the same functions applied to each tensor alone
  mergekit         mergekit ties per tensor: density 0.3, weights 0.5 2 1.5, normalize, lambda 1
"""
import os
import sys

import numpy as np
import torch


# --- the TIES authors' code ---
def topk_values_mask(M, K=0.7):
    if K > 1:
        K /= 100
    original_shape = M.shape
    if M.dim() == 1:
        M = M.unsqueeze(0)
    n, d = M.shape
    k = int(d * K)
    k = d - k  # Keep top k elements instead of bottom k elements
    kth_values, _ = M.abs().kthvalue(k, dim=1, keepdim=True)
    mask = M.abs() >= kth_values
    final_mask = mask.squeeze() if original_shape == M.squeeze().shape else mask
    return M * final_mask


def resolve_zero_signs(sign_to_mult, method="majority"):
    majority_sign = torch.sign(sign_to_mult.sum())
    if method == "majority":
        sign_to_mult[sign_to_mult == 0] = majority_sign
    elif method == "minority":
        sign_to_mult[sign_to_mult == 0] = -1 * majority_sign
    return sign_to_mult


def resolve_sign(Tensor):
    sign_to_mult = torch.sign(Tensor.sum(dim=0))
    return resolve_zero_signs(sign_to_mult, "majority")


def disjoint_merge(Tensor, merge_func, sign_to_mult):
    merge_func = merge_func.split("-")[-1]
    rows_to_keep = torch.where(sign_to_mult.unsqueeze(0) > 0, Tensor > 0, Tensor < 0)
    selected_entries = Tensor * rows_to_keep
    assert merge_func == "mean"
    non_zero_counts = (selected_entries != 0).sum(dim=0).float()
    return torch.sum(selected_entries, dim=0) / torch.clamp(non_zero_counts, min=1)


def ties_merging(flat_task_checks, reset_thresh=None, merge_func=""):
    all_checks = flat_task_checks.clone()
    updated_checks = topk_values_mask(all_checks, K=reset_thresh)
    final_signs = resolve_sign(updated_checks)
    return disjoint_merge(updated_checks, merge_func, final_signs)


def official(base, models, k, lam, scope):
    """base: list of tensors; models: list (per model) of lists of tensors."""
    if scope == "tensor":
        return [official([b], [[m[t]] for m in models], k, lam, "global")[0] for t, b in enumerate(base)]
    flat_ptm = torch.cat([b.reshape(-1) for b in base])
    flat_ft = torch.stack([torch.cat([t.reshape(-1) for t in m]) for m in models])
    tv_flat_checks = flat_ft - flat_ptm
    merged_tv = ties_merging(tv_flat_checks, reset_thresh=k, merge_func="dis-mean")
    merged = flat_ptm + lam * merged_tv
    out, at = [], 0
    for b in base:
        out.append(merged[at:at + b.numel()].reshape(b.shape))
        at += b.numel()
    return out


# --- mergekit ---
def magnitude(tensor, density):
    if density >= 1:
        return tensor
    k = int(density * tensor.numel())
    assert k > 0, "not gonna zero out the whole tensor buddy"
    mask = torch.zeros_like(tensor)
    w = tensor.abs().view(-1)
    if w.device.type == "cpu":
        w = w.float()
    topk = torch.argsort(w, descending=True)[:k]
    mask.view(-1)[topk] = 1
    return tensor * mask


def get_mask(delta, method="sum", mask_dtype=None):
    if mask_dtype is None:
        mask_dtype = delta.dtype
    sign = delta.sign().to(mask_dtype)
    if method == "sum":
        sign_weight = delta.sum(dim=0)
        majority_sign = (sign_weight >= 0).to(mask_dtype) * 2 - 1
    else:
        majority_sign = (sign.sum(dim=0) >= 0).to(mask_dtype) * 2 - 1
    return sign == majority_sign


def mergekit_ties(base, models, density, weights, lam, normalize=True):
    deltas = torch.stack([magnitude(m - base, density) for m in models], dim=0)
    w = torch.tensor(weights, dtype=deltas.dtype)
    while len(deltas.shape) > len(w.shape):
        w.unsqueeze_(-1)
    weighted_deltas = deltas * w
    mask = get_mask(weighted_deltas, method="sum", mask_dtype=deltas.dtype)
    mixed_delta = (weighted_deltas * mask).sum(dim=0)
    divisor = (w * mask).sum(dim=0)
    divisor[divisor == 0] = 1
    if normalize:
        mixed_delta /= divisor
    if lam != 1:
        mixed_delta *= lam
    return (base + mixed_delta).to(base.dtype)


def fixtures(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20250617)
    shapes = [(8, 5), (300,), (17,)]
    base = [torch.from_numpy((rng.standard_normal(s) * 0.02).astype(np.float32)) for s in shapes]
    scales = [1e-3, 2e-3, 5e-4]
    models = [[b + torch.from_numpy((rng.standard_normal(b.shape) * sc).astype(np.float32)) for b in base]
              for sc in scales]
    weights = [0.5, 2.0, 1.5]
    cases = {
        "official-global": (official(base, models, 20, 1.0, "global"), 0.2, 1.0, [1.0, 1.0, 1.0]),
        "official-tensor": (official(base, models, 20, 1.0, "tensor"), 0.2, 1.0, [1.0, 1.0, 1.0]),
        "mergekit": ([mergekit_ties(b, [m[t] for m in models], 0.3, weights, 1.0) for t, b in enumerate(base)],
                     0.3, 1.0, weights),
    }
    for t, b in enumerate(base):
        np.save(f"{out}/base-{t}.npy", b.numpy())
        for i, m in enumerate(models):
            np.save(f"{out}/model-{i}-{t}.npy", m[t].numpy())
    for name, (merged, density, lam, w) in cases.items():
        for t in range(len(base)):
            np.save(f"{out}/{name}-out-{t}.npy", merged[t].numpy().astype(np.float32))
        np.save(f"{out}/{name}-info.npy", np.array([density, lam] + w, np.float64))
        kept = sum(int((merged[t] != base[t]).sum()) for t in range(len(base)))
        print(f"{name}: {kept} of {sum(b.numel() for b in base)} entries changed")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2] if len(sys.argv) > 2 else "tests/data/merge")
    else:
        sys.exit(__doc__)
