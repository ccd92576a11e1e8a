"""Softmax attention over all positions, computed in chunks of queries (SAN, CSNLN).

The non-local blocks of these networks compute ``softmax(q kᵀ) v`` over every pixel of a
feature map (no 1/√d scaling): the score matrix has N² entries, 62 GB for N = 125 000. Run
``chunk`` queries at a time, each row's softmax is exact and the memory is ``chunk × N``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: queries per chunk: a 4096 × N score block (N = 62 500: 1 GB in float32)
QUERY_CHUNK = 4096


def softmax_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      chunk: int = QUERY_CHUNK) -> torch.Tensor:
    """``softmax(query keyᵀ) value`` for B×N×C tokens (query and key C, value C'), row by row
    exact; at most `chunk` query rows at a time (`F.scaled_dot_product_attention`, scale 1)."""
    key, value = key.unsqueeze(1), value.unsqueeze(1)
    parts = [F.scaled_dot_product_attention(query[:, None, start:start + chunk], key, value, scale=1.0)
             for start in range(0, max(query.shape[1], 1), chunk)]
    return torch.cat(parts, dim=2).squeeze(1)
