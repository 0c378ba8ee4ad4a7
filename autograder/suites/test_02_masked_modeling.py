"""Hidden suite for 02_masked_modeling: mask_tokens, patchify, unpatchify, random_masking, mae_loss (17 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here from the definitions. mask_tokens draws its own random numbers, so its tests
are statistical (rates with tolerances of 5 standard deviations or more) or exact properties that hold for
every draw; random_masking is exact when the noise is given and tested by properties when it is not.
"""
import torch

from autograder.suite import Gen, Grad, ModuleArg, as_tensor, assert_close, assert_equal, assert_scalar, hint, points, visible

A = "02_masked_modeling"
MASK = 3  # the [MASK] id in every test


# ----------------------------------------------------------------------------------- mask_tokens
def token_ids(rng, shape, vocab_size, low=5):
    """Word ids in [low, vocab_size): never a special id, never [MASK]."""
    return torch.randint(low, vocab_size, shape, generator=rng)


def masked(student, ids, vocab_size, special, p, seed):
    """Call mask_tokens; check the format; return (inputs, labels, selected)."""
    got = student.mask_tokens(ids, vocab_size, MASK, special, p, Gen(seed))
    assert isinstance(got, (tuple, list)) and len(got) == 2, \
        f"mask_tokens should return (inputs, labels), got {type(got).__name__}"
    inputs, labels = (as_tensor(x, name) for x, name in zip(got, ("inputs", "labels")))
    for x, name in ((inputs, "inputs"), (labels, "labels")):
        assert tuple(x.shape) == tuple(ids.shape), f"{name}: expected shape {tuple(ids.shape)}, got {tuple(x.shape)}"
        assert not x.dtype.is_floating_point, f"{name}: expected integer ids, got dtype {x.dtype}"
    return inputs.long(), labels.long(), labels != -100


@points(1)
@hint("select each non-special token independently with probability mlm_probability (torch.bernoulli), "
      "and mark the selected positions in labels (everything else is -100)")
def test_mask_tokens_selection_rate(student, rng):
    """About mlm_probability of the non-special tokens are selected (p = 0.15 and p = 0.4, 32,000 tokens)."""
    ids = token_ids(rng, (80, 500), 3000)
    special = torch.rand(80, 500, generator=rng) < 0.2
    for p, tol in ((0.15, 0.012), (0.4, 0.016)):
        _, _, selected = masked(student, ids, 3000, special, p, int(torch.randint(0, 10**6, (1,), generator=rng)))
        rate = selected[~special].float().mean().item()
        assert abs(rate - p) < tol, (f"with mlm_probability={p}, {rate:.1%} of the non-special tokens were selected "
                                     f"(labels != -100), expected {p:.0%} +- {tol:.1%}")


@points(1)
@hint("give special tokens a selection probability of 0 (probs.masked_fill_(special_tokens_mask, 0.0)); "
      "they keep their id in inputs and get -100 in labels")
def test_mask_tokens_never_selects_special_tokens(student, rng):
    """Special positions are never selected nor changed; with p = 1 every other position is selected."""
    ids = token_ids(rng, (20, 30), 100)
    special = torch.rand(20, 30, generator=rng) < 0.3
    special[:, 0] = True
    inputs, labels, _ = masked(student, ids, 100, special, 1.0, 1)
    assert_equal(labels, torch.where(special, torch.full_like(ids, -100), ids), "labels with mlm_probability=1.0")
    assert_equal(inputs[special], ids[special], "inputs at special positions")
    ids = token_ids(rng, (60, 200), 100)
    special = torch.rand(60, 200, generator=rng) < 0.5
    inputs, labels, selected = masked(student, ids, 100, special, 0.5, 2)
    assert not selected[special].any(), f"{int(selected[special].sum())} special tokens were selected (mlm_probability=0.5)"
    assert_equal(inputs[special], ids[special], "inputs at special positions (mlm_probability=0.5)")


@points(1.5)
@hint("among the selected positions: 80% [MASK], then half of the rest (10% overall) a random id, the last 10% "
      "unchanged; draw the random choice only for selected positions that were not replaced by [MASK]")
def test_mask_tokens_80_10_10(student, rng):
    """Of the selected tokens about 80% become [MASK], 10% a random id, 10% stay (50,000 selected tokens)."""
    vocab_size = 5000
    ids = token_ids(rng, (200, 500), vocab_size)
    special = torch.zeros(200, 500, dtype=torch.bool)
    inputs, _, selected = masked(student, ids, vocab_size, special, 0.5, int(torch.randint(0, 10**6, (1,), generator=rng)))
    assert selected.sum() > 40_000, f"only {int(selected.sum())} of 100,000 tokens selected with mlm_probability=0.5"
    mask_rate = (inputs[selected] == MASK).float().mean().item()
    same_rate = (inputs[selected] == ids[selected]).float().mean().item()
    random_rate = 1 - mask_rate - same_rate
    msg = f"[MASK] {mask_rate:.1%}, random {random_rate:.1%}, unchanged {same_rate:.1%} of the selected tokens"
    assert abs(mask_rate - 0.8) < 0.015, f"{msg}: expected about 80% [MASK]"
    assert abs(same_rate - 0.1) < 0.01, f"{msg}: expected about 10% unchanged"
    assert abs(random_rate - 0.1) < 0.01, f"{msg}: expected about 10% random"


@points(1)
@hint("labels = the ORIGINAL id where selected (clone input_ids before you corrupt it) and -100 elsewhere; "
      "tokens that are not selected keep their id in inputs")
def test_mask_tokens_labels(student, rng):
    """labels hold the original id at selected positions; unselected positions keep their id in inputs."""
    ids = token_ids(rng, (40, 100), 500)
    special = torch.rand(40, 100, generator=rng) < 0.1
    inputs, labels, selected = masked(student, ids, 500, special, 0.3, 3)
    assert selected.any() and not selected.all(), "expected some (not all) positions selected with mlm_probability=0.3"
    assert_equal(labels[selected], ids[selected], "labels at the selected positions")
    assert_equal(inputs[~selected], ids[~selected], "inputs at the positions that were not selected")
    changed = inputs != ids
    assert not (changed & ~selected).any(), "a token was changed in inputs but its label is -100"


@points(0.5)
@hint("draw the random replacement uniformly from range(vocab_size): torch.randint(vocab_size, shape, generator=generator)")
def test_mask_tokens_random_tokens_cover_the_vocabulary(student, rng):
    """Random replacements are ids in [0, vocab_size), and every id can be drawn (vocab_size = 12)."""
    vocab_size = 12
    ids = token_ids(rng, (100, 100), vocab_size)
    special = torch.zeros(100, 100, dtype=torch.bool)
    inputs, _, selected = masked(student, ids, vocab_size, special, 0.9, 4)
    assert ((inputs >= 0) & (inputs < vocab_size)).all(), f"inputs contain ids outside [0, {vocab_size})"
    replaced = selected & (inputs != ids) & (inputs != MASK)
    drawn = set(inputs[replaced].tolist())
    missing = sorted(set(range(vocab_size)) - {MASK} - drawn)
    assert not missing, f"about 900 random replacements over vocab_size={vocab_size} never used the ids {missing}"


@points(1)
@hint("pass generator=generator to EVERY random call (torch.bernoulli, torch.rand, torch.randint), "
      "and never reseed or use the global generator when one is given")
def test_mask_tokens_uses_the_generator(student, rng):
    """The same generator seed gives the same result, another seed a different one; generator=None works."""
    ids = token_ids(rng, (50, 200), 1000)
    special = torch.rand(50, 200, generator=rng) < 0.1
    seed = int(torch.randint(0, 10**6, (1,), generator=rng))
    first = masked(student, ids, 1000, special, 0.15, seed)
    again = masked(student, ids, 1000, special, 0.15, seed)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]), \
        "two calls with generators of the same seed gave different results"
    other = masked(student, ids, 1000, special, 0.15, seed + 1)
    assert not torch.equal(first[1], other[1]), "generators with different seeds gave the same selection"
    assert not torch.equal(first[0], other[0]), "generators with different seeds gave the same inputs"
    got = student.mask_tokens(ids, 1000, MASK, special, 0.15)
    assert isinstance(got, (tuple, list)) and len(got) == 2, "mask_tokens(..., generator=None) should return (inputs, labels)"


@points(0.5)
@hint("work on copies: inputs = input_ids.clone() (and labels = input_ids.clone()); never write into input_ids")
def test_mask_tokens_does_not_modify_input(student, rng):
    """input_ids holds the same values after the call."""
    ids = token_ids(rng, (16, 40), 60)
    special = torch.zeros(16, 40, dtype=torch.bool)
    special[:, 0] = True
    res = student.call("mask_tokens", ModuleArg(f"{A}:watched_ids", values=ids), 60, MASK, special, 0.5, Gen(5))
    assert isinstance(res.value, (tuple, list)) and len(res.value) == 2, "mask_tokens should return (inputs, labels)"
    assert_equal(res.modules[0]["state"]["values"], ids, "input_ids after the call")


# ------------------------------------------------------------------------------ patchify / unpatchify
def patchify_loop(images, p):
    """The definition, one value at a time: element (u*p + v)*C + c of patch i*w + j is images[n, c, i*p+u, j*p+v]."""
    n, c, height, width = images.shape
    h, w = height // p, width // p
    out = torch.empty(n, h * w, p * p * c, dtype=images.dtype)
    for i in range(h):
        for j in range(w):
            for u in range(p):
                for v in range(p):
                    for ch in range(c):
                        out[:, i * w + j, (u * p + v) * c + ch] = images[:, ch, i * p + u, j * p + v]
    return out


def unpatchify_loop(patches, p, c):
    n, length, _ = patches.shape
    h = w = int(round(length ** 0.5))
    out = torch.empty(n, c, h * p, w * p, dtype=patches.dtype)
    for i in range(h):
        for j in range(w):
            for u in range(p):
                for v in range(p):
                    for ch in range(c):
                        out[:, ch, i * p + u, j * p + v] = patches[:, i * w + j, (u * p + v) * c + ch]
    return out


@points(1.5)
@hint("patches row by row over the grid; inside a patch: pixel row, pixel column, channel last "
      "(reshape (N, C, h, p, w, p), permute to (N, h, w, p, p, C), reshape (N, h*w, p*p*C))")
def test_patchify_matches_definition(student, rng):
    """patchify equals the loop definition for several sizes, patch sizes and channel counts."""
    for n, c, side, p in ((2, 3, 6, 2), (3, 1, 8, 4), (1, 2, 12, 3), (2, 3, 8, 8)):
        x = torch.rand(n, c, side, side, generator=rng)
        got = student.patchify(x, p)
        assert_close(got, patchify_loop(x, p), f"patchify(images {tuple(x.shape)}, patch_size={p})", atol=1e-6)


@points(1)
@hint("undo patchify step by step in reverse: reshape (N, h, w, p, p, C), permute to (N, C, h, p, w, p), reshape")
def test_unpatchify_matches_definition(student, rng):
    """unpatchify equals the loop definition (the inverse of the patch order)."""
    for n, length, p, c in ((2, 9, 2, 3), (1, 4, 4, 1), (3, 16, 2, 2)):
        patches = torch.rand(n, length, p * p * c, generator=rng)
        got = student.unpatchify(patches, p, c)
        assert_close(got, unpatchify_loop(patches, p, c),
                     f"unpatchify(patches {tuple(patches.shape)}, patch_size={p}, channels={c})", atol=1e-6)


@points(0.5)
@hint("unpatchify(patchify(x, p), p, C) must give x back exactly")
def test_patchify_round_trip(student, rng):
    """unpatchify(patchify(x)) == x for images with 1 and 3 channels."""
    for c, side, p in ((3, 8, 2), (1, 9, 3)):
        x = torch.rand(2, c, side, side, generator=rng)
        back = student.unpatchify(student.patchify(x, p), p, c)
        assert_close(back, x, f"unpatchify(patchify(x {tuple(x.shape)}, {p}), {p}, {c})", atol=1e-6)


# ----------------------------------------------------------------------------------- random_masking
def masking_reference(x, mask_ratio, noise):
    keep = int(x.shape[1] * (1 - mask_ratio))
    ids_shuffle = noise.argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    kept = torch.gather(x, 1, ids_shuffle[:, :keep, None].expand(-1, -1, x.shape[2]))
    mask = torch.ones(x.shape[:2], dtype=x.dtype)
    mask.scatter_(1, ids_shuffle[:, :keep], 0.0)
    return kept, mask, ids_restore


def masking(student, x, mask_ratio, noise=None):
    got = student.random_masking(x, mask_ratio) if noise is None else student.random_masking(x, mask_ratio, noise)
    assert isinstance(got, (tuple, list)) and len(got) == 3, \
        f"random_masking should return (x_kept, mask, ids_restore), got {type(got).__name__}"
    return tuple(as_tensor(v, name) for v, name in zip(got, ("x_kept", "mask", "ids_restore")))


@points(1)
@hint("argsort the noise per sample (dim=1), keep the first K = int(L * (1 - mask_ratio)) indices (lowest noise) "
      "and gather those patches, in that (shuffled) order")
def test_random_masking_kept_patches_given_noise(student, rng):
    """x_kept is the K lowest-noise patches of each sample, in order of increasing noise."""
    x = torch.randn(4, 16, 3, generator=rng)
    noise = torch.rand(4, 16, generator=rng)
    kept, _, _ = masking(student, x, 0.75, noise)
    assert_close(kept, masking_reference(x, 0.75, noise)[0], "x_kept (N=4, L=16, mask_ratio=0.75)", atol=0)


@points(0.5)
@hint("the number of kept patches is int(L * (1 - mask_ratio)), rounded down (not round(), not L - int(L * mask_ratio))")
def test_random_masking_number_kept(student, rng):
    """K = int(L * (1 - mask_ratio)) when that is not a whole number (L=12, ratio 0.6; L=7, ratio 0.5)."""
    for length, ratio in ((12, 0.6), (7, 0.5), (10, 0.25)):
        x = torch.randn(2, length, 2, generator=rng)
        noise = torch.rand(2, length, generator=rng)
        kept, mask, _ = masking(student, x, ratio, noise)
        k = int(length * (1 - ratio))
        assert tuple(kept.shape) == (2, k, 2), \
            f"L={length}, mask_ratio={ratio}: expected x_kept of shape (2, {k}, 2), got {tuple(kept.shape)}"
        assert_close(kept, masking_reference(x, ratio, noise)[0], f"x_kept (L={length}, mask_ratio={ratio})", atol=0)


@points(1)
@hint("mask is float, 1 = removed and 0 = kept, in the ORIGINAL patch order: build it in shuffled order "
      "(zeros for the first K) and gather it with ids_restore")
def test_random_masking_mask_given_noise(student, rng):
    """mask (N, L) is float with 1 at the removed patches, in the original patch order."""
    x = torch.randn(5, 12, 4, generator=rng)
    noise = torch.rand(5, 12, generator=rng)
    _, mask, _ = masking(student, x, 0.5, noise)
    assert mask.dtype.is_floating_point, f"mask: expected a float tensor (1 = removed), got dtype {mask.dtype}"
    assert_close(mask, masking_reference(x, 0.5, noise)[1], "mask (N=5, L=12, mask_ratio=0.5)", atol=0)


@points(0.5)
@hint("ids_restore = argsort(ids_shuffle, dim=1): the position of each original patch in the shuffled sequence")
def test_random_masking_ids_restore(student, rng):
    """ids_restore inverts the shuffle: gathering cat([x_kept, zeros]) with it puts every kept patch back in place."""
    x = torch.randn(3, 16, 2, generator=rng)
    noise = torch.rand(3, 16, generator=rng)
    kept, _, ids_restore = masking(student, x, 0.75, noise)
    ref_kept, ref_mask, ref_restore = masking_reference(x, 0.75, noise)
    assert not ids_restore.dtype.is_floating_point, f"ids_restore: expected integer indices, got {ids_restore.dtype}"
    assert_equal(ids_restore, ref_restore, "ids_restore (N=3, L=16)")
    full = torch.cat([ref_kept, torch.zeros(3, 12, 2)], dim=1)
    restored = torch.gather(full, 1, ids_restore.long()[:, :, None].expand(-1, -1, 2))
    assert_close(restored, x * (1 - ref_mask)[:, :, None], "cat([x_kept, zeros]) gathered with ids_restore", atol=0)


@points(1)
@hint("with noise=None draw torch.rand(N, L): one independent noise row per sample, so each sample gets its own mask")
def test_random_masking_without_noise(student, rng):
    """noise=None: a valid, per-sample, uniformly random mask consistent with x_kept and ids_restore."""
    n, length, dim = 6, 32, 3
    x = torch.randn(n, length, dim, generator=rng)
    kept, mask, ids_restore = masking(student, x, 0.75)
    assert tuple(kept.shape) == (n, 8, dim), f"x_kept: expected shape ({n}, 8, {dim}), got {tuple(kept.shape)}"
    assert tuple(mask.shape) == (n, length), f"mask: expected shape ({n}, {length}), got {tuple(mask.shape)}"
    assert_close(mask.double().sum(1), torch.full((n,), 24.0), "removed patches per sample (L=32, mask_ratio=0.75)", atol=0)
    for i in range(n):
        kept_rows = torch.nonzero(mask[i] == 0).flatten()
        assert_close(kept[i][kept[i][:, 0].argsort()], x[i, kept_rows][x[i, kept_rows][:, 0].argsort()],
                     f"sample {i}: the kept patches are the patches where mask == 0", atol=0)
        assert_equal(ids_restore[i].sort().values, torch.arange(length), f"sample {i}: ids_restore is a permutation")
    assert len({tuple(m.tolist()) for m in mask}) == n, "some samples got the same mask: draw noise of shape (N, L)"
    _, many, _ = masking(student, torch.zeros(2000, 8, 1), 0.5)
    freq = many.double().mean(0)
    assert ((freq - 0.5).abs() < 0.07).all(), \
        f"over 2000 samples each position should be removed about half the time, got {[round(f, 2) for f in freq.tolist()]}"


# --------------------------------------------------------------------------------------- mae_loss
def loss_reference(images, pred, mask, p, norm_pix):
    target = patchify_loop(images.double(), p)
    if norm_pix:
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    per_patch = ((pred.double() - target) ** 2).mean(-1)
    return (per_patch * mask).sum() / mask.sum()


def random_mask(rng, n, length, removed):
    """(n, L) float, exactly `removed` ones per row (as random_masking makes them)."""
    order = torch.rand(n, length, generator=rng).argsort(1)
    mask = torch.zeros(n, length)
    mask.scatter_(1, order[:, :removed], 1.0)
    return mask


@points(1)
@visible
@hint("target = patchify(images, p); mean of the squared error over each patch's p*p*C values, "
      "then the mean over the removed patches (sum(loss * mask) / sum(mask))")
def test_mae_loss_matches_definition(student, rng):
    """The per-patch MSE averaged over removed patches equals the definition (N=3, C=3, 8x8, p=4)."""
    images = torch.rand(3, 3, 8, 8, generator=rng)
    pred = torch.randn(3, 4, 48, generator=rng)
    mask = random_mask(rng, 3, 4, 2)
    got = assert_scalar(student.mae_loss(images, pred, mask, 4), "mae_loss")
    assert_close(torch.tensor(got), loss_reference(images, pred, mask, 4, False), "mae_loss(images, pred, mask, 4)", atol=1e-5)


@points(1)
@hint("only removed patches (mask == 1) count: multiply the per-patch loss by the mask and divide by mask.sum()")
def test_mae_loss_only_removed_patches_count(student, rng):
    """The gradient reaches exactly the removed patches, with the size the definition gives."""
    images = torch.rand(2, 3, 8, 8, generator=rng)
    pred = torch.randn(2, 16, 12, generator=rng)
    mask = random_mask(rng, 2, 16, 12)
    res = student.call("mae_loss", images, Grad(pred), mask, 2)
    grad = res.grads[0]
    assert grad is not None, "no gradient reached pred: compute the loss from pred with differentiable operations"
    target = patchify_loop(images, 2)
    expected = 2 * (pred - target) * mask[:, :, None] / (12 * mask.sum())
    assert_close(grad[mask == 0], torch.zeros(8, 12), "gradient on the visible patches", atol=1e-7)
    assert_close(grad, expected, "gradient of mae_loss with respect to pred", atol=1e-6)


@points(1)
@hint("norm_pix_loss: per patch, target = (target - mean) / sqrt(var + 1e-6) with the UNBIASED variance "
      "(Tensor.var's default), over the patch's p*p*C values; the prediction is not normalised")
def test_mae_loss_norm_pix(student, rng):
    """norm_pix_loss normalises each target patch by its mean and unbiased variance (1 and 3 channels, p=2)."""
    for c in (1, 3):
        images = torch.rand(2, c, 4, 4, generator=rng)
        pred = torch.randn(2, 4, 4 * c, generator=rng)
        mask = random_mask(rng, 2, 4, 3)
        got = assert_scalar(student.mae_loss(images, pred, mask, 2, True), "mae_loss with norm_pix_loss")
        assert_close(torch.tensor(got), loss_reference(images, pred, mask, 2, True),
                     f"mae_loss(images (2, {c}, 4, 4), ..., norm_pix_loss=True)", atol=1e-5)


@points(0.5)
@hint("add 1e-6 to the variance inside the square root: (target - mean) / (var + 1e-6) ** 0.5")
def test_mae_loss_norm_pix_epsilon(student, rng):
    """Nearly flat patches (variance about 1e-7) are normalised with sqrt(var + 1e-6)."""
    images = 0.5 + 1e-3 * torch.rand(2, 3, 4, 4, generator=rng, dtype=torch.float64)
    pred = 0.5 * torch.randn(2, 4, 12, generator=rng, dtype=torch.float64)
    mask = random_mask(rng, 2, 4, 2).double()
    got = assert_scalar(student.mae_loss(images, pred, mask, 2, True), "mae_loss on nearly flat patches")
    assert_close(torch.tensor(got), loss_reference(images, pred, mask, 2, True),
                 "mae_loss(nearly flat images, ..., norm_pix_loss=True)", atol=1e-4, rtol=1e-3)
