"""Hidden suite for 04_contrastive: info_nce_loss, cpc_loss, simclr_augment, nt_xent_loss,
momentum_update, MemoryQueue, moco_loss (25 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here from the definitions (float64, written as loops where the definition is a
sum). simclr_augment draws random numbers the signature does not fix, so it is tested by properties:
output format, per-image parameters (copies of one image get different views), reproducibility with a
seeded generator, flips and crops (on a gray left/right image colour jitter cannot flip), colour jitter
and grayscale (on a uniform colour image crops and flips change nothing).
"""
import math

import torch
import torch.nn.functional as F

from autograder.suite import Gen, Grad, ModuleArg, as_tensor, assert_close, assert_scalar, hint, points, visible

NET = "04_contrastive:net"


# ------------------------------------------------------------------------------------- references
def unit(x):
    return x.double() / x.double().norm(dim=-1, keepdim=True)


def ref_info_nce(q, pos, neg, tau):
    """Mean over queries of -log softmax([cos(q, k+), cos(q, k-_j)...] / tau)[0], one query at a time."""
    q, pos, neg = unit(q), unit(pos), unit(neg)
    total = 0.0
    for n in range(len(q)):
        negs = neg if neg.ndim == 2 else neg[n]                    # (M, D)
        logits = torch.cat([(q[n] @ pos[n]).view(1), negs @ q[n]]) / tau
        total += -(logits[0] - torch.logsumexp(logits, 0))
    return total / len(q)


def ref_nt_xent(z1, z2, tau):
    """The loop definition: 2N anchors, partner i <-> i + N, denominator over k != i."""
    z = unit(torch.cat([z1, z2]))
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = torch.stack([z[i] @ z[k] for k in range(2 * n) if k != i]) / tau
        total += -(z[i] @ z[j] / tau - torch.logsumexp(others, 0))
    return total / (2 * n)


def scaled(x, rng, low=0.05, high=20.0):
    """Each row multiplied by its own positive factor."""
    shape = (*x.shape[:-1], 1)
    return x * (low + (high - low) * torch.rand(shape, generator=rng))


def loss_value(got, what):
    return assert_scalar(got, what)


def check_loss(got, expected, what, atol=1e-4, rtol=1e-4):
    value = loss_value(got, what)
    assert_close(torch.tensor(value), torch.as_tensor(float(expected)), what, atol=atol, rtol=rtol)


# ---------------------------------------------------------------------------------- info_nce_loss
@points(2)
@hint("L2-normalise query and keys, logits = [q.k+, q.k-_1, ..., q.k-_M] / temperature, cross-entropy with target 0, mean over queries")
def test_info_nce_loss_shared_negatives(student, rng):
    """Shared (M, D) negatives with the default temperature 0.1 match the definition."""
    q, pos, neg = torch.randn(6, 8, generator=rng), torch.randn(6, 8, generator=rng), torch.randn(9, 8, generator=rng)
    pos = pos + 0.8 * q  # positives somewhat aligned with their queries
    check_loss(student.info_nce_loss(q, pos, neg), ref_info_nce(q, pos, neg, 0.1),
               "InfoNCE loss with 6 queries and 9 shared negatives (default temperature)")


@points(1.5)
@hint("for negative_keys of shape (N, M, D), query n is compared only with its own negatives negative_keys[n] (e.g. torch.einsum('nd,nmd->nm', q, k))")
def test_info_nce_loss_per_query_negatives(student, rng):
    """Per-query (N, M, D) negatives: each query is scored against its own M negatives."""
    q, pos, neg = torch.randn(5, 6, generator=rng), torch.randn(5, 6, generator=rng), torch.randn(5, 4, 6, generator=rng)
    check_loss(student.info_nce_loss(q, pos, neg, temperature=0.2), ref_info_nce(q, pos, neg, 0.2),
               "InfoNCE loss with per-query negatives (5, 4, 6)")


@points(1)
@hint("InfoNCE compares directions: normalise every embedding with F.normalize(x, dim=-1) before the dot products")
def test_info_nce_loss_scale_invariant(student, rng):
    """Rescaling each query and key by its own positive factor does not change the loss."""
    q, pos, neg = torch.randn(5, 7, generator=rng), torch.randn(5, 7, generator=rng), torch.randn(8, 7, generator=rng)
    check_loss(student.info_nce_loss(scaled(q, rng), scaled(pos, rng), scaled(neg, rng), temperature=0.1),
               ref_info_nce(q, pos, neg, 0.1), "InfoNCE loss with rescaled embeddings")
    negs = torch.randn(5, 3, 7, generator=rng)
    check_loss(student.info_nce_loss(q, pos, scaled(negs, rng), temperature=0.1), ref_info_nce(q, pos, negs, 0.1),
               "InfoNCE loss with rescaled per-query negatives")


@points(1)
@hint("divide the cosine similarities by the temperature (do not multiply, do not hard-code 0.1)")
def test_info_nce_loss_temperature(student, rng):
    """A small (0.05) and a large (2.0) temperature follow the definition."""
    q, pos, neg = torch.randn(4, 5, generator=rng), torch.randn(4, 5, generator=rng), torch.randn(6, 5, generator=rng)
    for tau in (0.05, 2.0):
        check_loss(student.info_nce_loss(q, pos, neg, temperature=tau), ref_info_nce(q, pos, neg, tau),
                   f"InfoNCE loss with temperature={tau}")


# --------------------------------------------------------------------------------------- cpc_loss
@points(1.5)
@hint("scores = predictions @ targets.T (row i: prediction i against every target), F.cross_entropy(scores, torch.arange(N))")
def test_cpc_loss_matches_cross_entropy(student, rng):
    """cpc_loss equals cross_entropy(predictions @ targets.T, arange(N))."""
    pred, targ = torch.randn(7, 5, generator=rng), torch.randn(7, 5, generator=rng) * 0.7
    pred[:, 0] += 2.0  # asymmetric scores: rows and columns give different losses
    expected = F.cross_entropy(pred.double() @ targ.double().T, torch.arange(7))
    check_loss(student.cpc_loss(pred, targ), expected, "CPC loss for N=7 predictions and targets")


@points(0.5)
@hint("CPC's score is the raw bilinear product: no normalisation and no temperature")
def test_cpc_loss_uses_raw_scores(student, rng):
    """Scaling predictions and targets changes the loss as the raw dot product says (no normalisation)."""
    pred, targ = torch.randn(5, 4, generator=rng), torch.randn(5, 4, generator=rng)
    for scale in (0.2, 3.0):
        expected = F.cross_entropy((scale * pred.double()) @ targ.double().T, torch.arange(5))
        check_loss(student.cpc_loss(scale * pred, targ), expected, f"CPC loss with predictions scaled by {scale}")


# ---------------------------------------------------------------------------------- simclr_augment
def views_of(student, images, seed, what="simclr_augment(images, generator)"):
    out = as_tensor(student.simclr_augment(images, generator=Gen(seed)), what)
    if tuple(out.shape) != tuple(images.shape):
        raise AssertionError(f"{what}: expected shape {tuple(images.shape)}, got {tuple(out.shape)}")
    return out


@points(0.5)
@visible
@hint("return a tensor shaped like the input, same dtype, values clamped to [0, 1]")
def test_simclr_augment_output_format(student, rng):
    """Shape, dtype (float32 and float64) and value range [0, 1] are kept."""
    for dtype in (torch.float32, torch.float64):
        images = torch.rand(5, 3, 12, 10, generator=rng).to(dtype)
        out = views_of(student, images, 0, f"views of a (5, 3, 12, 10) {dtype} batch")
        assert out.dtype == dtype, f"expected dtype {dtype}, got {out.dtype}"
        assert torch.isfinite(out).all(), "the views contain NaN or inf"
        assert out.min() >= 0 and out.max() <= 1, f"values outside [0, 1]: min {out.min():.3f}, max {out.max():.3f}"


@points(1.5)
@hint("draw the random parameters per image, as tensors of shape (B,) (e.g. torch.rand(B, generator=generator)), not one number for the whole batch")
def test_simclr_augment_per_image_randomness(student, rng):
    """Eight copies of one image in a batch get eight different views."""
    image = torch.rand(1, 3, 16, 16, generator=rng)
    out = views_of(student, image.expand(8, 3, 16, 16).clone(), int(torch.randint(0, 10**6, (), generator=rng)))
    flat = out.double().flatten(1)
    dist = torch.cdist(flat, flat) + torch.eye(8) * 1e9
    assert dist.min() > 1e-3, "two copies of the same image got identical views: each image needs its own random draw"


@points(1)
@hint("draw every random number from `generator` (torch.rand(..., generator=generator)), never from the global RNG")
def test_simclr_augment_reproducible(student, rng):
    """The same seed gives the same views; another seed gives other views."""
    images = torch.rand(6, 3, 12, 12, generator=rng)
    seed = int(torch.randint(0, 10**6, (), generator=rng))
    a, b = views_of(student, images, seed), views_of(student, images, seed)
    assert torch.allclose(a, b, atol=1e-6), "two calls with generators seeded alike gave different views"
    c = views_of(student, images, seed + 1)
    assert not torch.allclose(a, c, atol=1e-3), "generators with different seeds gave the same views"


@points(0.5)
@hint("random resized crop and horizontal flip (p = 0.5) per image: e.g. one affine map per image with F.affine_grid + F.grid_sample")
def test_simclr_augment_flips_and_crops(student, rng):
    """A gray image, dark left and bright right: some views are flipped, others not, and the crops move the edge."""
    image = torch.zeros(1, 3, 16, 16)
    image[..., 8:] = 0.8
    image += 0.1
    out = views_of(student, image.expand(48, 3, 16, 16).clone(), int(torch.randint(0, 10**6, (), generator=rng)))
    left, right = out[..., :8].double().mean((1, 2, 3)), out[..., 8:].double().mean((1, 2, 3))
    flipped, kept = (left > right + 0.05).sum().item(), (right > left + 0.05).sum().item()
    assert flipped >= 2 and kept >= 2, (f"of 48 views of a left-dark/right-bright image, {flipped} are brighter on "
                                        f"the left and {kept} on the right: flip horizontally with probability 0.5")
    columns = (out.double().mean((1, 2)) > out.double().mean((1, 2, 3))[:, None]).sum(1)  # width of the bright part
    assert len(set(columns.tolist())) >= 3, "the edge between the halves is always at the same place: crop at random"


@points(0.5)
@hint("colour jitter (brightness, contrast, saturation, hue) with probability 0.8 and grayscale with probability 0.2, per image")
def test_simclr_augment_colour_jitter_and_grayscale(student, rng):
    """A uniform orange image (crops and flips change nothing) gets colours that vary per view, some gray."""
    image = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1).expand(64, 3, 8, 8).clone()
    out = views_of(student, image, int(torch.randint(0, 10**6, (), generator=rng))).double()
    colours = out.mean((2, 3))                                                # (64, 3)
    assert colours.std(0).max() > 0.05, "every view has the same colour: apply colour jitter (per image)"
    gray = (colours.max(1).values - colours.min(1).values) < 1e-3
    assert gray.sum() >= 1, "no view of 64 is gray: convert to grayscale with probability 0.2"
    assert gray.sum() <= 32, f"{int(gray.sum())} of 64 views are gray: grayscale should apply with probability 0.2"


# ------------------------------------------------------------------------------------ nt_xent_loss
@points(2)
@hint("2N anchors: cosine similarities / temperature, the partner of i is i + N (mod 2N), the anchor itself excluded, mean over all 2N")
def test_nt_xent_loss_matches_loop_definition(student, rng):
    """NT-Xent equals its definition written as a loop, for the default temperature 0.5 and for 0.1."""
    z1 = torch.randn(5, 4, generator=rng)
    z2 = z1 + 0.5 * torch.randn(5, 4, generator=rng)
    check_loss(student.nt_xent_loss(z1, z2), ref_nt_xent(z1, z2, 0.5), "NT-Xent loss for N=5 (default temperature)")
    check_loss(student.nt_xent_loss(z1, z2, temperature=0.1), ref_nt_xent(z1, z2, 0.1),
               "NT-Xent loss for N=5, temperature=0.1")


@points(1)
@hint("average over both directions: the anchors of z1 (partners in z2) and the anchors of z2 (partners in z1)")
def test_nt_xent_loss_symmetric(student, rng):
    """Swapping the two views does not change the loss."""
    z1, z2 = torch.randn(6, 3, generator=rng), torch.randn(6, 3, generator=rng)
    a = loss_value(student.nt_xent_loss(z1, z2, temperature=0.3), "NT-Xent loss(z1, z2)")
    b = loss_value(student.nt_xent_loss(z2, z1, temperature=0.3), "NT-Xent loss(z2, z1)")
    assert abs(a - b) <= 1e-4 * max(1.0, abs(a)), f"loss(z1, z2) = {a:.5f} but loss(z2, z1) = {b:.5f}"
    check_loss(a, ref_nt_xent(z1, z2, 0.3), "NT-Xent loss for N=6, temperature=0.3")


@points(1)
@hint("an anchor's similarity with itself is always the largest: set the diagonal of the (2N, 2N) logits to -inf before the softmax")
def test_nt_xent_loss_excludes_self_similarity(student, rng):
    """With a low temperature and well-aligned pairs the loss is near 0, which it cannot be with the self term."""
    z1 = torch.randn(4, 8, generator=rng)
    z2 = z1 + 0.05 * torch.randn(4, 8, generator=rng)
    check_loss(student.nt_xent_loss(z1, z2, temperature=0.1), ref_nt_xent(z1, z2, 0.1),
               "NT-Xent loss for 4 well-aligned pairs, temperature=0.1")


@points(0.5)
@hint("use the cosine similarity: L2-normalise z = cat([z1, z2]) before the matrix product")
def test_nt_xent_loss_scale_invariant(student, rng):
    """Rescaling each projection by its own positive factor does not change the loss."""
    z1, z2 = torch.randn(5, 4, generator=rng), torch.randn(5, 4, generator=rng)
    check_loss(student.nt_xent_loss(scaled(z1, rng), scaled(z2, rng), temperature=0.5), ref_nt_xent(z1, z2, 0.5),
               "NT-Xent loss with rescaled projections")


# -------------------------------------------------------------------------------- momentum_update
def ema_expected(online: ModuleArg, target: ModuleArg, m: float) -> dict:
    o, t = online.build(), target.build()
    params = {name: m * p.detach() + (1 - m) * dict(o.named_parameters())[name].detach()
              for name, p in t.named_parameters()}
    return {**t.state_dict(), **params}


@points(1.5)
@hint("for theta_q, theta_k in zip(online.parameters(), target.parameters()): theta_k.mul_(m).add_(theta_q, alpha=1 - m), inside torch.no_grad()")
def test_momentum_update_parameters(student, rng):
    """Every target parameter becomes m * target + (1 - m) * online, in place; the online module is unchanged."""
    s = int(torch.randint(0, 1000, (), generator=rng))
    online, target = ModuleArg(NET, seed=s), ModuleArg(NET, seed=s + 1)
    m = 0.9
    res = student.call("momentum_update", online, target, m)
    expected = ema_expected(online, target, m)
    for name, p in online.build().named_parameters():
        assert_close(res.modules[1]["state"][name], expected[name], f"target parameter {name} after momentum_update(m=0.9)",
                     atol=1e-6)
        assert_close(res.modules[0]["state"][name], p.detach(), f"online parameter {name} (must not change)", atol=0)


@points(1)
@hint("update target.parameters() only: BatchNorm's running_mean / running_var / num_batches_tracked are buffers and stay as they are")
def test_momentum_update_leaves_buffers(student, rng):
    """BatchNorm buffers of the target (and of the online module) are untouched."""
    s = int(torch.randint(0, 1000, (), generator=rng))
    online, target = ModuleArg(NET, seed=s), ModuleArg(NET, seed=s + 7, frozen=True)
    res = student.call("momentum_update", online, target, 0.5)
    for which, arg, state in (("target", target, res.modules[1]["state"]), ("online", online, res.modules[0]["state"])):
        before = arg.build().state_dict()
        for key in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
            assert_close(state[key].double(), before[key].double(), f"{which} BatchNorm {key.split('.')[-1]}", atol=0)


@points(1)
@hint("the target keeps a fraction `momentum` of itself: m = 1 leaves it unchanged, m = 0 copies the online parameters")
def test_momentum_update_extremes(student, rng):
    """momentum=1 keeps the target; momentum=0 copies the online parameters; a frozen target works too."""
    s = int(torch.randint(0, 1000, (), generator=rng))
    for m in (1.0, 0.0):
        online, target = ModuleArg(NET, seed=s), ModuleArg(NET, seed=s + 3, frozen=True)
        res = student.call("momentum_update", online, target, m)
        expected = ema_expected(online, target, m)
        for name, _ in online.build().named_parameters():
            assert_close(res.modules[1]["state"][name], expected[name], f"target parameter {name} with momentum={m}",
                         atol=1e-6)


# ----------------------------------------------------------------------------------- MemoryQueue
def queue_keys(queue, size, dim, what):
    keys = as_tensor(queue.get("keys"), what)
    if tuple(keys.shape) != (size, dim):
        raise AssertionError(f"{what}: expected shape {(size, dim)}, got {tuple(keys.shape)}")
    return keys.double()


def sorted_rows(x):
    """Rows in lexicographic order (compare sets of keys regardless of their slots)."""
    x = x.double()
    for col in reversed(range(x.shape[1])):
        x = x[x[:, col].argsort(stable=True)]
    return x


@points(0.5)
@visible
@hint("allocate a (size, dim) tensor in __init__ and return it from the `keys` property")
def test_memory_queue_shape(student, rng):
    """A new MemoryQueue(7, 3) has keys of shape (7, 3), finite floats."""
    keys = queue_keys(student.new("MemoryQueue", 7, 3), 7, 3, "MemoryQueue(7, 3).keys")
    assert torch.isfinite(keys).all(), "the initial keys contain NaN or inf"


@points(1.5)
@hint("FIFO: after more than `size` keys the queue holds exactly the `size` newest ones; write at a pointer that wraps around (ptr = (ptr + n) % size)")
def test_memory_queue_fifo_wraparound(student, rng):
    """After 3 + 4 + 2 + 5 keys into a queue of 6, it holds exactly the 6 newest keys."""
    size, dim = 6, 3
    queue = student.new("MemoryQueue", size, dim)
    batches = [torch.randn(n, dim, generator=rng) for n in (3, 4, 2, 5)]
    seen = []
    for i, batch in enumerate(batches):
        queue.call("enqueue", batch)
        seen.append(batch)
        if i >= 1:
            newest = torch.cat(seen)[-size:]
            keys = queue_keys(queue, size, dim, f"keys after {sum(len(b) for b in seen)} enqueued keys")
            assert_close(sorted_rows(keys), sorted_rows(newest), f"the set of keys after {sum(len(b) for b in seen)} "
                         f"enqueued keys (queue size {size})", atol=1e-6)


@points(1)
@hint("a ring buffer: the j-th key ever enqueued is written to slot j % size; do not shift the other keys")
def test_memory_queue_ring_layout(student, rng):
    """Key number j (counting from 0 over all enqueues) sits in slot j % size."""
    size, dim = 5, 2
    queue = student.new("MemoryQueue", size, dim)
    stream = torch.randn(12, dim, generator=rng)
    for a, b in ((0, 2), (2, 6), (6, 9), (9, 12)):
        queue.call("enqueue", stream[a:b])
    expected = torch.empty(size, dim)
    for j in range(12):
        expected[j % size] = stream[j]
    assert_close(queue_keys(queue, size, dim, "keys after 12 enqueued keys"), expected,
                 "keys by slot after 2 + 4 + 3 + 3 keys into a queue of size 5", atol=1e-6)


# -------------------------------------------------------------------------------------- moco_loss
def ref_moco(q, k, queue, tau):
    return ref_info_nce(q, k, queue, tau)


@points(1.5)
@hint("normalise q and k, logits = cat([(q * k).sum(1, keepdim=True), q @ queue.T], 1) / temperature, cross-entropy with target 0")
def test_moco_loss_matches_definition(student, rng):
    """moco_loss equals InfoNCE with the queue as shared negatives and the positive first (tau = 0.07 and 0.2)."""
    q, k = scaled(torch.randn(5, 6, generator=rng), rng, 0.5, 3.0), scaled(torch.randn(5, 6, generator=rng), rng, 0.5, 3.0)
    k = k + q  # positives aligned with their queries
    queue = F.normalize(torch.randn(11, 6, generator=rng), dim=1)
    check_loss(student.moco_loss(q, k, queue), ref_moco(q, k, queue, 0.07), "MoCo loss (default temperature 0.07)")
    check_loss(student.moco_loss(q, k, queue, temperature=0.2), ref_moco(q, k, queue, 0.2), "MoCo loss (temperature 0.2)")


@points(1)
@hint("stop-gradient: use k.detach() (the key encoder is updated by the momentum rule, not by backprop)")
def test_moco_loss_stops_gradient_to_k(student, rng):
    """The gradient reaches q but not k."""
    q, k = torch.randn(4, 5, generator=rng), torch.randn(4, 5, generator=rng)
    queue = F.normalize(torch.randn(7, 5, generator=rng), dim=1)
    res = student.call("moco_loss", Grad(q), Grad(k), queue, temperature=0.2)
    grad_q, grad_k = res.grads
    assert grad_q is not None and as_tensor(grad_q, "gradient of q").abs().sum() > 0, "no gradient reaches q"
    assert grad_k is None or as_tensor(grad_k, "gradient of k").abs().max() == 0, "a gradient reaches k: detach it"
