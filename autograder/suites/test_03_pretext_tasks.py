"""Hidden suite for 03_pretext_tasks: rotate_batch, sample_patch_pair, relative_position_batch (12 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References: torch.rot90 for the rotations; for the patch pairs, which draw random numbers the signature
does not fix, *properties* of many draws on "coordinate images" whose every pixel value is unique, so the
top-left value of a returned patch says where it was cut: each patch is an exact crop, the anchor sits at
the centre cell (up to the jitter), the neighbour at the cell its label names, the jitter stays in
[-J, J] and covers it, each patch has its own jitter, the labels are uniform, a seeded generator fixes
the result. Convention: the grid spans S = 3P + 2G pixels and starts at ((H - S) // 2, (W - S) // 2);
the tests use even margins H - S and W - S, so "centred" is unambiguous.
"""
import torch

from autograder.suite import Gen, as_tensor, assert_close, assert_equal, hint, points, visible

OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]  # label -> (row, column) step


# ------------------------------------------------------------------------------------- helpers
def coordinate_image(C, H, W, base=0):
    """(C, H, W) float32 whose value at (c, y, x) is base + c*H*W + y*W + x (unique, exact in float32)."""
    return (base + torch.arange(C * H * W, dtype=torch.float64)).reshape(C, H, W).float()


def locate(image, patch, P, what):
    """Top-left (y, x) of ``patch`` in ``image``; fails unless it is exactly image[:, y:y+P, x:x+P]."""
    patch = as_tensor(patch, what)
    C, H, W = image.shape
    if tuple(patch.shape) != (C, P, P):
        raise AssertionError(f"{what}: expected shape {(C, P, P)}, got {tuple(patch.shape)}")
    v = int(round(float(patch[0, 0, 0]))) - int(image[0, 0, 0])
    y, x = divmod(v % (H * W), W)
    if v // (H * W) != 0 or y + P > H or x + P > W or not torch.equal(patch.float(), image[:, y:y + P, x:x + P]):
        raise AssertionError(f"{what}: is not a crop image[:, y:y+P, x:x+P] of the input image (all channels, "
                             "in order, unchanged values)")
    return y, x


def label_of(label, what="label"):
    t = as_tensor(label, what)
    if t.numel() != 1 or t.dtype.is_floating_point and float(t) != int(float(t)):
        raise AssertionError(f"{what}: expected one integer, got {t.dtype} of shape {tuple(t.shape)}")
    return int(t.reshape(()))


def grid_case(rng, jitter=None):
    """Random sizes with even margins: C, P, G, J, H, W (H != W) and the grid corner (o_y, o_x)."""
    P = int(torch.randint(3, 6, (), generator=rng))
    G = int(torch.randint(1, 4, (), generator=rng))
    J = int(torch.randint(1, 3, (), generator=rng)) if jitter is None else jitter
    C = int(torch.randint(1, 4, (), generator=rng))
    S = 3 * P + 2 * G
    my = J + 1 + int(torch.randint(0, 2, (), generator=rng))  # margins > J: a grid at the border is caught
    mx = my + 1 + int(torch.randint(0, 2, (), generator=rng))  # W > H: rows and columns cannot be confused
    H, W = S + 2 * my, S + 2 * mx
    return C, P, G, J, H, W, (my, mx)


def draws(student, image, P, G, J, seeds):
    """[(anchor (y, x), neighbour (y, x), label)] for one call per seed."""
    out = []
    for s in seeds:
        a, n, label = student.sample_patch_pair(image, P, G, J, generator=Gen(s))
        out.append((locate(image, a, P, "anchor"), locate(image, n, P, "neighbor"), label_of(label)))
    return out


def seeds(rng, n):
    return torch.randint(0, 2**31 - 1, (n,), generator=rng).tolist()


def shifts(record, corner, P, G):
    """Jitter of the anchor and of the neighbour relative to their nominal cells: (ay, ax, ny, nx)."""
    (ay, ax), (ny, nx), label = record
    step = P + G
    dy, dx = OFFSETS[label]
    cy, cx = corner[0] + step, corner[1] + step
    return ay - cy, ax - cx, ny - (cy + dy * step), nx - (cx + dx * step)


# ---------------------------------------------------------------------------------- rotate_batch
@points(1.5)
@hint("row 4 * i + k must be torch.rot90(images[i], k, dims=(-2, -1)): counter-clockwise, over the last two axes")
def test_rotate_batch_matches_rot90(student, rng):
    """Every output image is torch.rot90 of its input image by its k (B=3, C=2, 5x5)."""
    x = torch.rand(3, 2, 5, 5, generator=rng)
    rotated, _ = student.rotate_batch(x)
    expected = torch.stack([torch.rot90(x[i], k, dims=(-2, -1)) for i in range(3) for k in range(4)])
    assert_close(rotated, expected, "rotated images (4B, C, H, W)", atol=0, rtol=0)


@points(0.75)
@hint("image-major order: [img0 rot0, img0 rot1, img0 rot2, img0 rot3, img1 rot0, ...]; stack the rotations on dim=1 and flatten, do not torch.cat them")
def test_rotate_batch_image_major_order(student, rng):
    """Rows 4i..4i+3 all come from image i (rotation-invariant constant images, B=4)."""
    values = torch.randperm(50, generator=rng)[:4].double() + 1
    x = values.reshape(4, 1, 1, 1).expand(4, 3, 6, 6).contiguous()
    rotated, _ = student.rotate_batch(x)
    rotated = as_tensor(rotated, "rotated")
    assert tuple(rotated.shape) == (16, 3, 6, 6), f"rotated: expected shape (16, 3, 6, 6), got {tuple(rotated.shape)}"
    assert_close(rotated[:, 0, 0, 0], values.repeat_interleave(4), "the image each output row comes from", atol=0, rtol=0)


@points(0.75)
@hint("labels (4B,) int64: [0, 1, 2, 3, 0, 1, 2, 3, ...], label k for torch.rot90(x, k)")
def test_rotate_batch_labels(student, rng):
    """Labels are an integer tensor (4B,) equal to [0, 1, 2, 3] repeated B times."""
    B = int(torch.randint(2, 6, (), generator=rng))
    _, labels = student.rotate_batch(torch.rand(B, 1, 4, 4, generator=rng))
    labels = as_tensor(labels, "labels")
    assert not labels.dtype.is_floating_point, f"labels: expected an integer tensor (int64), got {labels.dtype}"
    assert_equal(labels, torch.arange(4).repeat(B), f"labels for B={B}")


@points(0.5)
@hint("do not hard-code the number of channels or the image size: use the input's shape")
def test_rotate_batch_other_shapes(student, rng):
    """One-channel float64 7x7 images and a single three-channel image are rotated correctly too."""
    for shape in ((2, 1, 7, 7), (1, 3, 3, 3)):
        x = torch.rand(*shape, generator=rng, dtype=torch.float64)
        rotated, _ = student.rotate_batch(x)
        expected = torch.stack([torch.rot90(img, k, dims=(-2, -1)) for img in x for k in range(4)])
        assert_close(rotated, expected, f"rotated images for input shape {shape}", atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------- sample_patch_pair
@points(0.5)
@visible
@hint("return (anchor, neighbor, label): two (C, P, P) crops and one integer in 0..7")
def test_sample_patch_pair_output_format(student, rng):
    """anchor and neighbor are (C, P, P) crops of the image; label is one integer in 0..7."""
    image = coordinate_image(2, 20, 20)
    a, n, label = student.sample_patch_pair(image, 4, 2, 1, generator=Gen(0))
    locate(image, a, 4, "anchor (C=2, P=4 on a 20x20 image)")
    locate(image, n, 4, "neighbor (C=2, P=4 on a 20x20 image)")
    value = label_of(label)
    assert 0 <= value < 8, f"label: expected an integer in 0..7, got {value}"


@points(1)
@hint("the grid (3P + 2G pixels) is centred: it starts at ((H - S) // 2, (W - S) // 2) and the anchor is its centre cell, P + G further along each axis")
def test_sample_patch_pair_anchor_is_centre_cell(student, rng):
    """Without jitter the anchor is always the centre cell of the centred grid (non-square image)."""
    C, P, G, _, H, W, corner = grid_case(rng, jitter=0)
    image = coordinate_image(C, H, W)
    expected = (corner[0] + P + G, corner[1] + P + G)
    for anchor, _, _ in draws(student, image, P, G, 0, seeds(rng, 12)):
        assert anchor == expected, (f"with jitter=0 on a {H}x{W} image (P={P}, G={G}) the anchor starts at "
                                    f"{anchor}, not at the centre cell")


@points(1.5)
@hint("labels are row-major around the centre, skipping it (0 1 2 / 3 . 4 / 5 6 7), rows first (y), and neighbouring cells are P + G pixels apart")
def test_sample_patch_pair_label_matches_position(student, rng):
    """Without jitter the neighbour sits (dy, dx) * (P + G) from the anchor, (dy, dx) given by the label."""
    C, P, G, _, H, W, corner = grid_case(rng, jitter=0)
    image = coordinate_image(C, H, W)
    for (ay, ax), (ny, nx), label in draws(student, image, P, G, 0, seeds(rng, 40)):
        assert 0 <= label < 8, f"label {label} is not in 0..7"
        dy, dx = OFFSETS[label]
        assert (ny - ay, nx - ax) == (dy * (P + G), dx * (P + G)), (
            f"label {label} with P={P}, G={G}: the neighbour is {(ny - ay, nx - ax)} pixels from the anchor "
            f"(row, column), which is not the cell that label names")


@points(0.75)
@hint("draw the label uniformly from the 8 neighbours: torch.randint(0, 8, ...) (the upper bound is exclusive)")
def test_sample_patch_pair_labels_uniform(student, rng):
    """Over 320 seeds every label 0..7 occurs, each between 12 and 80 times (expected 40)."""
    image = coordinate_image(1, 20, 20)
    counts = [0] * 8
    for s in seeds(rng, 320):
        label = label_of(student.sample_patch_pair(image, 4, 2, 1, generator=Gen(s))[2])
        assert 0 <= label < 8, f"label {label} is not in 0..7"
        counts[label] += 1
    assert min(counts) >= 12 and max(counts) <= 80, f"label counts over 320 draws: {counts} (expected about 40 each)"


@points(0.75)
@hint("each shift is an integer drawn uniformly from -J..J inclusive: torch.randint(-jitter, jitter + 1, ...)")
def test_sample_patch_pair_jitter_bounds(student, rng):
    """Every shift from the nominal cell is in [-J, J], and both -J and +J occur (J = 2)."""
    C, P, G, J, H, W, corner = grid_case(rng, jitter=2)
    image = coordinate_image(C, H, W)
    seen = set()
    for record in draws(student, image, P, G, J, seeds(rng, 80)):
        s = shifts(record, corner, P, G)
        assert max(map(abs, s)) <= J, (f"jitter={J}: a patch moved {s} pixels (anchor y, x, neighbour y, x) from "
                                       "its cell, more than the jitter allows")
        seen.update(s)
    assert seen == set(range(-J, J + 1)), f"jitter={J}: over 80 draws the shifts took only the values {sorted(seen)}"


@points(0.75)
@hint("jitter the anchor and the neighbour independently: four random integers (anchor y, x, neighbour y, x)")
def test_sample_patch_pair_jitters_each_patch(student, rng):
    """With J > 0 both patches move, along both axes, and not by the same shift."""
    C, P, G, J, H, W, corner = grid_case(rng, jitter=2)
    image = coordinate_image(C, H, W)
    records = [shifts(r, corner, P, G) for r in draws(student, image, P, G, J, seeds(rng, 60))]
    for i, name in enumerate(("anchor row", "anchor column", "neighbour row", "neighbour column")):
        assert len({r[i] for r in records}) > 1, f"jitter={J}: the {name} never moved in 60 draws"
    assert any((r[0], r[1]) != (r[2], r[3]) for r in records), (
        f"jitter={J}: the anchor and the neighbour always moved by the same shift; each patch needs its own")


@points(0.75)
@hint("pass `generator=generator` to every torch.randint/torch.rand call, and never create or re-seed a generator inside")
def test_sample_patch_pair_uses_generator(student, rng):
    """The same seed gives the same pair; different seeds give different pairs."""
    image = coordinate_image(2, 22, 22)
    s = seeds(rng, 6)
    first = draws(student, image, 4, 2, 2, s)
    again = draws(student, image, 4, 2, 2, s)
    assert first == again, "two calls with generators seeded alike returned different pairs"
    assert len(set(first)) > 1, "six different seeds all returned the same pair: use the generator you are given"


# ----------------------------------------------------------------------- relative_position_batch
def batch_case(rng, B, J):
    C, P, G, _, H, W, corner = grid_case(rng, jitter=J)
    images = torch.stack([coordinate_image(C, H, W, base=i * C * H * W) for i in range(B)])  # unique values
    return images, C, P, G, H, W, corner


def batch_records(student, images, P, G, J, seed):
    anchors, neighbors, labels = student.relative_position_batch(images, P, G, J, generator=Gen(seed))
    labels = as_tensor(labels, "labels")
    B = len(images)
    assert tuple(labels.shape) == (B,), f"labels: expected shape ({B},), got {tuple(labels.shape)}"
    anchors, neighbors = as_tensor(anchors, "anchors"), as_tensor(neighbors, "neighbors")
    for name, t in (("anchors", anchors), ("neighbors", neighbors)):
        assert tuple(t.shape) == (B, images.shape[1], P, P), (
            f"{name}: expected shape {(B, images.shape[1], P, P)}, got {tuple(t.shape)}")
    return [(locate(images[i], anchors[i], P, f"anchors[{i}]"), locate(images[i], neighbors[i], P, f"neighbors[{i}]"),
             label_of(labels[i], f"labels[{i}]")) for i in range(B)], labels


@points(0.5)
@hint("return anchors (B, C, P, P), neighbors (B, C, P, P) and labels (B,) as an int64 tensor (torch.stack, torch.tensor(..., dtype=torch.long))")
def test_relative_position_batch_output_format(student, rng):
    """Shapes (B, C, P, P), (B, C, P, P), (B,) and int64 labels in 0..7."""
    images, C, P, G, H, W, _ = batch_case(rng, 5, 1)
    _, labels = batch_records(student, images, P, G, 1, 0)
    assert labels.dtype == torch.int64, f"labels: expected dtype torch.int64, got {labels.dtype}"
    assert ((labels >= 0) & (labels < 8)).all(), "labels outside 0..7"


@points(1)
@hint("pair i must be cut from images[i], with its own label, as sample_patch_pair would do it")
def test_relative_position_batch_pairs_match_their_images(student, rng):
    """Without jitter, pair i is cut from image i: anchor at the centre cell, neighbour at its label's cell."""
    images, C, P, G, H, W, corner = batch_case(rng, 12, 0)
    records, _ = batch_records(student, images, P, G, 0, int(torch.randint(0, 10**6, (), generator=rng)))
    for i, ((ay, ax), (ny, nx), label) in enumerate(records):
        assert (ay, ax) == (corner[0] + P + G, corner[1] + P + G), f"anchors[{i}] is not the centre cell of images[{i}]"
        dy, dx = OFFSETS[label]
        assert (ny - ay, nx - ax) == (dy * (P + G), dx * (P + G)), f"neighbors[{i}] is not at the cell labels[{i}] names"


@points(0.5)
@hint("draw a new label and new shifts for every image, not once for the whole batch")
def test_relative_position_batch_draws_per_image(student, rng):
    """In one batch of 24 images the labels and the anchor shifts vary from image to image."""
    images, C, P, G, H, W, corner = batch_case(rng, 24, 2)
    records, labels = batch_records(student, images, P, G, 2, int(torch.randint(0, 10**6, (), generator=rng)))
    assert len(set(labels.tolist())) > 1, "all 24 images got the same label"
    assert len({r[0] for r in records}) > 1, "all 24 anchors have the same shift"


@points(0.5)
@hint("pass the generator on to every random draw (e.g. sample_patch_pair(..., generator=generator))")
def test_relative_position_batch_uses_generator(student, rng):
    """The same seed gives the same batch; a different seed a different one."""
    images, C, P, G, H, W, _ = batch_case(rng, 8, 1)
    s1, s2 = seeds(rng, 2)
    first = batch_records(student, images, P, G, 1, s1)[0]
    assert batch_records(student, images, P, G, 1, s1)[0] == first, "two calls with generators seeded alike differ"
    assert batch_records(student, images, P, G, 1, s2)[0] != first, "two different seeds gave the same batch"
