"""Constrained MALIS loss on 2-D nearest-neighbour affinity graphs.

This re-implements the MALIS loss as it was used by Greentea (Turaga et al.
2009, with the constrained two-pass variant of Briggman/Funke). Two
deliberate deviations from the 2015 C++ code:

* the returned gradient is the *true* gradient of the reported loss (the
  original reported a hinge but returned the squared-hinge gradient), and
* the affinity backward routes each edge gradient to the pixel that attained the
  minimum (the original effectively always used the centre pixel).

Affinity layout
---------------
An affinity array has shape ``(2, H, W)``:

* channel 0 is the +x edge ``(i, j) -- (i, j + 1)``, valid for ``j < W - 1``;
* channel 1 is the +y edge ``(i, j) -- (i + 1, j)``, valid for ``i < H - 1``.

The invalid entries (last column of channel 0, last row of channel 1) are
filled with 0 and never enter the graph; their gradient is always 0.
:func:`affinity_valid_mask` returns the boolean mask of valid entries.

Why the gradient is sparse
--------------------------
MALIS attributes every pixel pair to its *maximin* edge: the weakest edge on the
maximum spanning tree path between the two pixels. This assignment is locally
constant in the edge weights (away from ties), so the loss is a sum of
per-edge terms ``n_e * l(w_e)`` and its gradient is ``n_e * l'(w_e)``.

In the constrained variant the positive pass uses ``min(pred, gt)`` and the
negative pass ``max(pred, gt)``. The gradient reaches ``pred`` only where the
pass weight *is* ``pred``: in the positive pass an edge with ``gt == 0`` has the
constant weight 0 (no gradient), and in the negative pass an edge with
``gt == 1`` has the constant weight 1 (no gradient). Hence, constrained, the
positive pass can only pull up edges inside segments and the negative pass can
only push down edges that leave a segment.
"""

from __future__ import annotations

import logging

import numpy as np
from numba import njit, types
from numba.typed import Dict

logger = logging.getLogger(__name__)

__all__ = [
    "affinities_2d",
    "affinity_valid_mask",
    "gt_affinities_2d",
    "malis_loss_torch",
    "malis_weights",
    "maximin_pair_counts",
]


def affinity_valid_mask(shape: tuple[int, int]) -> np.ndarray:
    """Return the ``(2, H, W)`` boolean mask of edges that exist in the graph.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(H, W)``.
    """
    h, w = shape
    valid = np.ones((2, h, w), dtype=bool)
    valid[0, :, w - 1] = False
    valid[1, h - 1, :] = False
    return valid


def affinities_2d(p: np.ndarray) -> np.ndarray:
    """Nearest-neighbour affinities ``min`` of the two endpoint probabilities.

    Parameters
    ----------
    p : ndarray, shape (H, W)
        Probability that a pixel is cell interior (not boundary). An edge is as
        strong as its weaker endpoint, which is why the minimum is used.

    Returns
    -------
    ndarray, shape (2, H, W)
        Affinities in the layout described in the module docstring; invalid
        entries are 0.
    """
    p = np.asarray(p)
    if p.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {p.shape}")
    aff = np.zeros((2, *p.shape), dtype=p.dtype)
    aff[0, :, :-1] = np.minimum(p[:, :-1], p[:, 1:])
    aff[1, :-1, :] = np.minimum(p[:-1, :], p[1:, :])
    return aff


def gt_affinities_2d(seg: np.ndarray) -> np.ndarray:
    """Ground-truth affinities: 1 where both endpoints share a nonzero segment.

    Parameters
    ----------
    seg : ndarray of int, shape (H, W)
        Segment ids, 0 = background/boundary/unlabeled.

    Returns
    -------
    ndarray of float64, shape (2, H, W)
    """
    seg = np.asarray(seg)
    aff = np.zeros((2, *seg.shape), dtype=np.float64)
    aff[0, :, :-1] = (seg[:, :-1] == seg[:, 1:]) & (seg[:, :-1] != 0)
    aff[1, :-1, :] = (seg[:-1, :] == seg[1:, :]) & (seg[:-1, :] != 0)
    return aff


@njit(cache=True)
def _find(parent, x):
    # Path halving keeps the trees shallow without recursion.
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


_SCAN = 8  # label lists with at most this many labels are scanned, not hashed


@njit(cache=True)
def _list_find(head, nxt, seg, lst, lab, n_distinct, lookup, stride):
    if n_distinct[lst] <= _SCAN:
        node = head[lst]
        while node != -1:
            if seg[node] == lab:
                return node
            node = nxt[node]
        return -1
    key = lst * stride + lab
    if key in lookup:
        return lookup[key]
    return -1


@njit(cache=True)
def _kruskal_counts(order, eu, ev, seg, n_edges):
    """Kruskal over ``order`` counting same/different-label pairs per edge.

    Every set owns a linked list of (label, count) nodes. Lists with more than
    ``_SCAN`` distinct labels are also indexed by a typed dict keyed by
    ``list_id * stride + label`` (small lists are scanned, which avoids hashing
    the many singleton sets). Merging walks the list with fewer distinct
    labels (smaller-into-larger), so the work is O(N log N) lookups.
    """
    n = seg.size
    stride = np.int64(seg.max()) + 1
    parent = np.arange(n)
    rank = np.zeros(n, dtype=np.int8)
    list_of = np.arange(n)  # union-find root -> id of its label list
    head = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    n_distinct = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=np.int64)
    count = np.ones(n, dtype=np.int64)
    lookup = Dict.empty(key_type=types.int64, value_type=types.int64)
    for p in range(n):
        if seg[p] > 0:
            head[p] = p
            n_distinct[p] = 1
            total[p] = 1
    same = np.zeros(n_edges, dtype=np.int64)
    diff = np.zeros(n_edges, dtype=np.int64)
    for k in range(order.size):
        e = order[k]
        a = _find(parent, eu[e])
        b = _find(parent, ev[e])
        if a == b:
            continue
        small = list_of[a]
        large = list_of[b]
        if n_distinct[small] > n_distinct[large]:
            small, large = large, small
        hashed_small = n_distinct[small] > _SCAN
        n_same = np.int64(0)
        node = head[small]
        while node != -1:
            nx = nxt[node]
            lab = np.int64(seg[node])
            if hashed_small:
                lookup.pop(small * stride + lab)
            other = _list_find(head, nxt, seg, large, lab, n_distinct, lookup, stride)
            if other >= 0:
                n_same += count[node] * count[other]
                count[other] += count[node]
            else:
                nxt[node] = head[large]
                head[large] = node
                n_distinct[large] += 1
                if n_distinct[large] > _SCAN + 1:
                    lookup[large * stride + lab] = node
                elif n_distinct[large] == _SCAN + 1:
                    m = head[large]
                    while m != -1:
                        lookup[large * stride + seg[m]] = m
                        m = nxt[m]
            node = nx
        head[small] = -1
        same[e] = n_same
        diff[e] = total[small] * total[large] - n_same
        total[large] += total[small]
        if rank[a] < rank[b]:
            parent[a] = b
            root = b
        elif rank[a] > rank[b]:
            parent[b] = a
            root = a
        else:
            parent[b] = a
            rank[a] += 1
            root = a
        list_of[root] = large
    return same, diff


def _edge_endpoints(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    pix = np.arange(h * w, dtype=np.int64).reshape(h, w)
    eu = np.concatenate([pix.ravel(), pix.ravel()])
    ev = np.concatenate([pix.ravel() + 1, pix.ravel() + w])
    return eu, ev


def maximin_pair_counts(weights: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count, per edge, the labeled pixel pairs whose maximin edge it is.

    Parameters
    ----------
    weights : ndarray, shape (2, H, W)
        Edge weights (affinity layout). Ties are broken by a stable sort, i.e.
        by flat edge index.
    seg : ndarray of int, shape (H, W)
        Segment ids; pixels with 0 connect the graph but belong to no pair.

    Returns
    -------
    same, diff : ndarray of int64, shape (2, H, W)
        Number of pairs with equal (``same``) or different (``diff``) nonzero
        segment ids whose maximin edge is this edge. Exposed mainly so the
        Kruskal pass can be checked against a brute-force search.
    """
    weights = np.asarray(weights, dtype=np.float64)
    seg = np.asarray(seg)
    if weights.shape != (2, *seg.shape):
        raise ValueError(f"weights shape {weights.shape} does not match (2, *{seg.shape})")
    if seg.min(initial=0) < 0:
        raise ValueError("segment ids must be non-negative")
    eu, ev = _edge_endpoints(seg.shape)
    valid = np.flatnonzero(affinity_valid_mask(seg.shape).ravel())
    flat = weights.ravel()
    order = valid[np.argsort(-flat[valid], kind="stable")]
    same, diff = _kruskal_counts(
        order, eu, ev, np.ascontiguousarray(seg, dtype=np.int64).ravel(), flat.size
    )
    return same.reshape(weights.shape), diff.reshape(weights.shape)


def malis_weights(
    pred_aff: np.ndarray,
    gt_seg: np.ndarray,
    *,
    margin: float = 0.3,
    threshold: float = 0.5,
    loss: str = "hinge",
    constrained: bool = True,
) -> tuple[float, np.ndarray, dict]:
    """MALIS loss value, its gradient w.r.t. the predicted affinities, and stats.

    Parameters
    ----------
    pred_aff : ndarray, shape (2, H, W)
        Predicted affinities in [0, 1] (layout: module docstring).
    gt_seg : ndarray of int, shape (H, W)
        Ground-truth segments; 0 = background/boundary/unlabeled, which is not
        counted in any pair.
    margin, threshold : float
        Hinge parameters: positive pairs are penalised below
        ``threshold + margin``, negative pairs above ``threshold - margin``.
    loss : {"hinge", "square"}
        ``"hinge"``: ``max(0, threshold + margin - w)`` per positive pair and
        ``max(0, w - threshold + margin)`` per negative pair.
        ``"square"`` (Turaga, naibaf7/caffe PR #14): ``0.5 (1 - w)^2`` per
        positive and ``0.5 w^2`` per negative pair; ``margin`` is unused.
    constrained : bool
        Use ``min(pred, gt)`` in the positive and ``max(pred, gt)`` in the
        negative pass (see module docstring); otherwise both passes use
        ``pred``.

    Returns
    -------
    loss : float
        ``loss_pos / n_pos_pairs + loss_neg / n_neg_pairs`` (a term is 0 if its
        pair count is 0).
    grad : ndarray of float64, shape (2, H, W)
        Exact gradient of ``loss`` w.r.t. ``pred_aff`` (away from ties and
        hinge kinks); 0 on invalid edges.
    stats : dict
        ``n_pos_pairs``, ``n_neg_pairs``, ``loss_pos``, ``loss_neg`` (both
        normalised), ``rand_index`` (fraction of pairs whose pass maximin
        weight lands on the correct side of ``threshold``) and
        ``class_error`` (fraction of valid edges whose binarised prediction
        disagrees with the ground-truth affinity).
    """
    if loss not in ("hinge", "square"):
        raise ValueError(f"loss must be 'hinge' or 'square', got {loss!r}")
    pred = np.asarray(pred_aff, dtype=np.float64)
    seg = np.asarray(gt_seg)
    valid = affinity_valid_mask(seg.shape)
    if pred.shape != valid.shape:
        raise ValueError(f"pred_aff shape {pred.shape} != (2, *{seg.shape})")
    gt_aff = gt_affinities_2d(seg)
    pred = np.where(valid, pred, 0.0)

    if constrained:
        w_pos = np.minimum(pred, gt_aff)
        w_neg = np.maximum(pred, gt_aff)
        # d w / d pred: 1 where the pass weight is the prediction itself.
        dw_pos = (pred < gt_aff).astype(np.float64)
        dw_neg = (pred > gt_aff).astype(np.float64)
    else:
        w_pos = w_neg = pred
        dw_pos = dw_neg = np.ones_like(pred)
    n_same, _ = maximin_pair_counts(w_pos, seg)
    _, n_diff = maximin_pair_counts(w_neg, seg)

    sizes = np.bincount(seg[seg > 0].ravel().astype(np.int64))
    n_lab = int(sizes.sum())
    n_pos = int((sizes * (sizes - 1) // 2).sum())
    n_neg = n_lab * (n_lab - 1) // 2 - n_pos

    if loss == "hinge":
        dl_pos = np.maximum(0.0, threshold + margin - w_pos)
        dl_neg = np.maximum(0.0, w_neg - threshold + margin)
        l_pos, g_pos = dl_pos * n_same, -1.0 * (dl_pos > 0) * n_same
        l_neg, g_neg = dl_neg * n_diff, 1.0 * (dl_neg > 0) * n_diff
    else:
        l_pos, g_pos = 0.5 * (1.0 - w_pos) ** 2 * n_same, -(1.0 - w_pos) * n_same
        l_neg, g_neg = 0.5 * w_neg**2 * n_diff, w_neg * n_diff

    norm_pos = 1.0 / n_pos if n_pos > 0 else 0.0
    norm_neg = 1.0 / n_neg if n_neg > 0 else 0.0
    loss_pos = float(l_pos.sum()) * norm_pos
    loss_neg = float(l_neg.sum()) * norm_neg
    grad = (g_pos * dw_pos * norm_pos + g_neg * dw_neg * norm_neg) * valid

    wrong = n_same[w_pos <= threshold].sum() + n_diff[w_neg > threshold].sum()
    stats = {
        "n_pos_pairs": n_pos,
        "n_neg_pairs": n_neg,
        "loss_pos": loss_pos,
        "loss_neg": loss_neg,
        "rand_index": 1.0 - float(wrong) / max(n_pos + n_neg, 1),
        "class_error": float(((pred > threshold) != (gt_aff > 0.5))[valid].mean()),
    }
    return loss_pos + loss_neg, grad, stats


def _segments_from_labels(labels: np.ndarray) -> np.ndarray:
    """4-connected components of cell pixels (label ``CELL``); everything else is 0."""
    from scipy import ndimage

    from ..sample import CELL

    seg, _ = ndimage.label(labels == CELL)  # default structure = 4-connectivity
    return seg


def malis_loss_torch(prob_cell, gt_labels, **opts):
    """MALIS loss for a batch of cell-probability maps, differentiable in torch.

    Parameters
    ----------
    prob_cell : torch.Tensor, shape (N, H, W)
        Probability of the cell-interior class (e.g. softmax channel of class
        2). Affinities are built from it with ``torch.minimum`` so autograd
        routes each edge gradient to the endpoint that attained the minimum.
    gt_labels : torch.Tensor or ndarray of int, shape (N, H, W)
        Labels in the package convention (0 unlabeled, 1 membrane, 2 cell).
        Segments are the 4-connected components of cell pixels; membrane and
        unlabeled pixels belong to no segment.
    **opts
        Forwarded to :func:`malis_weights` (``margin``, ``threshold``,
        ``loss``, ``constrained``).

    Returns
    -------
    torch.Tensor
        Scalar: mean over the N patches of the per-patch MALIS loss. Its
        gradient w.r.t. the affinities is exactly the MALIS gradient. Patches
        without positive or without negative pairs contribute 0 (logged at
        INFO level), since one of the two normalisers is then undefined.
    """
    import torch

    if prob_cell.ndim != 3:
        raise ValueError(f"prob_cell must be (N, H, W), got {tuple(prob_cell.shape)}")
    labels = (
        gt_labels.detach().cpu().numpy()
        if isinstance(gt_labels, torch.Tensor)
        else np.asarray(gt_labels)
    )
    if labels.shape != tuple(prob_cell.shape):
        raise ValueError(
            f"gt_labels shape {labels.shape} != prob_cell shape {tuple(prob_cell.shape)}"
        )
    n, h, w = prob_cell.shape
    aff = prob_cell.new_zeros((n, 2, h, w))
    aff[:, 0, :, :-1] = torch.minimum(prob_cell[:, :, :-1], prob_cell[:, :, 1:])
    aff[:, 1, :-1, :] = torch.minimum(prob_cell[:, :-1, :], prob_cell[:, 1:, :])
    aff_np = aff.detach().cpu().numpy().astype(np.float64)

    grads = np.zeros((n, 2, h, w), dtype=np.float64)
    total = 0.0
    for i in range(n):
        seg = _segments_from_labels(labels[i])
        value, grad, stats = malis_weights(aff_np[i], seg, **opts)
        if stats["n_pos_pairs"] == 0 or stats["n_neg_pairs"] == 0:
            logger.info(
                "MALIS: skipping patch %d (%d positive, %d negative pairs)",
                i,
                stats["n_pos_pairs"],
                stats["n_neg_pairs"],
            )
            continue
        total += value
        grads[i] = grad
    grad_t = torch.as_tensor(grads / n, dtype=aff.dtype, device=aff.device)
    surrogate = (aff * grad_t).sum()
    return surrogate + (total / n - surrogate.detach())
