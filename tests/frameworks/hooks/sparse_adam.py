"""torch.optim.SparseAdam accepts only sparse gradients: each dense gradient of a case becomes a
sparse COO tensor holding exactly its present rows (rows along the first axis that are not all
zero; a NaN is not zero), which is the reference's definition of a present row."""
from __future__ import annotations


def torch_grad(g, name):
    import torch

    rows = g.reshape(g.shape[0], -1) if g.dim() > 1 else g.reshape(-1, 1)
    keep = (rows != 0).any(dim=1).nonzero().reshape(-1)
    return torch.sparse_coo_tensor(keep.unsqueeze(0), g[keep], g.shape, check_invariants=True).coalesce()
