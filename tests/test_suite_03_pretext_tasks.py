"""The 03_pretext_tasks hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "03_pretext_tasks"

ROT = "rotate_batch"
SPP = "sample_patch_pair"
RPB = "relative_position_batch"


def spp(*, grid="((H - S) // 2, (W - S) // 2)", label="int(torch.randint(0, 8, (), generator=generator))",
        cell="label if label < 4 else label + 1", rowcol="divmod(cell, 3)", step="patch_size + gap",
        jitter="torch.randint(-jitter, jitter + 1, (4,), generator=generator).tolist()",
        anchor_shift="ja_y, ja_x", neighbor_shift="jn_y, jn_x", ret="anchor, neighbor, label", dims="_, H, W"):
    """A sample_patch_pair with one piece replaced (the defaults give a correct implementation)."""
    return f'''
def sample_patch_pair(image, patch_size, gap, jitter, generator=None):
    {dims} = image.shape
    S = 3 * patch_size + 2 * gap
    top, left = {grid}
    label = {label}
    cell = {cell}
    row, col = {rowcol}
    ja_y, ja_x, jn_y, jn_x = {jitter}
    sa_y, sa_x = {anchor_shift}
    sn_y, sn_x = {neighbor_shift}
    step = {step}
    ya, xa = top + step + sa_y, left + step + sa_x
    yn, xn = top + row * step + sn_y, left + col * step + sn_x
    anchor = image[:, ya:ya + patch_size, xa:xa + patch_size]
    neighbor = image[:, yn:yn + patch_size, xn:xn + patch_size]
    return {ret}
'''


def rot(*, stack="torch.stack([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)], dim=1).flatten(0, 1)",
        labels="torch.arange(4).repeat(len(images))"):
    return f'''
def rotate_batch(images):
    return {stack}, {labels}
'''


def rpb(body):
    return f'''
def relative_position_batch(images, patch_size, gap, jitter, generator=None):
{body}
'''


STACK_PAIRS = '''    return (torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]),
            torch.tensor([int(p[2]) for p in pairs]))'''

MUTANTS = {
    # rotate_batch
    "rot_rotation_major": (ROT, rot(stack="torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)])"),
                           ["test_rotate_batch_matches_rot90", "test_rotate_batch_image_major_order"]),
    "rot_clockwise": (ROT, rot(stack="torch.stack([torch.rot90(images, -k, dims=(-2, -1)) for k in range(4)], 1).flatten(0, 1)"),
                      ["test_rotate_batch_matches_rot90", "test_rotate_batch_other_shapes"]),
    "rot_transpose_not_rotation": (ROT, rot(stack="torch.stack([images, images.transpose(-2, -1), images.flip(-1).flip(-2), "
                                                  "images.transpose(-2, -1).flip(-1).flip(-2)], 1).flatten(0, 1)"),
                                   ["test_rotate_batch_matches_rot90"]),
    "rot_labels_rotation_major": (ROT, rot(labels="torch.arange(4).repeat_interleave(len(images))"),
                                  ["test_rotate_batch_labels"]),
    "rot_float_labels": (ROT, rot(labels="torch.arange(4).repeat(len(images)).float()"), ["test_rotate_batch_labels"]),
    "rot_three_channels": (ROT, rot(stack="torch.stack([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)], 1)"
                                          ".reshape(-1, 3, images.shape[-2], images.shape[-1])"),
                           ["test_rotate_batch_other_shapes"]),
    # sample_patch_pair
    "spp_channels_last": (SPP, spp(ret="anchor.permute(1, 2, 0), neighbor.permute(1, 2, 0), label"),
                          ["test_sample_patch_pair_output_format"]),
    "spp_grid_at_corner": (SPP, spp(grid="(jitter, jitter)"), ["test_sample_patch_pair_anchor_is_centre_cell"]),
    "spp_height_width_swapped": (SPP, spp(dims="_, W, H"), ["test_sample_patch_pair_anchor_is_centre_cell"]),
    "spp_swapped_outputs": (SPP, spp(ret="neighbor, anchor, label"), ["test_sample_patch_pair_anchor_is_centre_cell"]),
    "spp_column_major": (SPP, spp(rowcol="divmod(cell, 3)[::-1]"), ["test_sample_patch_pair_label_matches_position"]),
    "spp_centre_not_skipped": (SPP, spp(cell="label"), ["test_sample_patch_pair_label_matches_position"]),
    "spp_no_gap": (SPP, spp(step="patch_size"), ["test_sample_patch_pair_label_matches_position",
                                                 "test_sample_patch_pair_anchor_is_centre_cell"]),
    "spp_seven_labels": (SPP, spp(label="int(torch.randint(0, 7, (), generator=generator))"),
                         ["test_sample_patch_pair_labels_uniform"]),
    "spp_jitter_exclusive": (SPP, spp(jitter="torch.randint(-jitter, jitter, (4,), generator=generator).tolist()"),
                             ["test_sample_patch_pair_jitter_bounds"]),
    "spp_jitter_doubled": (SPP, spp(jitter="(2 * torch.randint(-jitter, jitter + 1, (4,), generator=generator)).tolist()"),
                           ["test_sample_patch_pair_jitter_bounds"]),
    "spp_anchor_not_jittered": (SPP, spp(anchor_shift="0, 0"), ["test_sample_patch_pair_jitters_each_patch"]),
    "spp_shared_jitter": (SPP, spp(neighbor_shift="ja_y, ja_x"), ["test_sample_patch_pair_jitters_each_patch"]),
    "spp_global_rng": (SPP, spp(label="int(torch.randint(0, 8, ()))",
                                jitter="torch.randint(-jitter, jitter + 1, (4,)).tolist()"),
                       ["test_sample_patch_pair_uses_generator"]),
    "spp_fixed_seed": (SPP, spp(label="int(torch.randint(0, 8, (), generator=torch.Generator().manual_seed(0)))",
                                jitter="torch.randint(-jitter, jitter + 1, (4,), generator=torch.Generator().manual_seed(1)).tolist()"),
                       ["test_sample_patch_pair_uses_generator"]),
    # relative_position_batch
    "rpb_float_labels": (RPB, rpb('''    pairs = [sample_patch_pair(x, patch_size, gap, jitter, generator=generator) for x in images]
    return (torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs]),
            torch.tensor([float(p[2]) for p in pairs]))'''), ["test_relative_position_batch_output_format"]),
    "rpb_first_image_only": (RPB, rpb('''    pairs = [sample_patch_pair(images[0], patch_size, gap, jitter, generator=generator) for x in images]
''' + STACK_PAIRS), ["test_relative_position_batch_pairs_match_their_images"]),
    "rpb_one_draw_for_batch": (RPB, rpb('''    seed = int(torch.randint(0, 2**31 - 1, (), generator=generator))
    pairs = [sample_patch_pair(x, patch_size, gap, jitter, generator=torch.Generator().manual_seed(seed)) for x in images]
''' + STACK_PAIRS), ["test_relative_position_batch_draws_per_image"]),
    "rpb_generator_dropped": (RPB, rpb('''    pairs = [sample_patch_pair(x, patch_size, gap, jitter) for x in images]
''' + STACK_PAIRS), ["test_relative_position_batch_uses_generator"]),
}

ALTERNATIVES = {
    # other draw order (jitter before label, via torch.rand), vectorised batch, rotations by flips/transposes
    "vectorised_other_draw_order": {
        SPP: '''
def sample_patch_pair(image, patch_size, gap, jitter, generator=None):
    shifts = (torch.rand(4, generator=generator, dtype=torch.float64) * (2 * jitter + 1)).floor().long() - jitter
    label = torch.randint(8, (1,), generator=generator)[0]
    grid = torch.tensor([[0, 0], [0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1], [2, 2]])
    C, H, W = image.shape
    corner = torch.tensor([(H - 3 * patch_size - 2 * gap) // 2, (W - 3 * patch_size - 2 * gap) // 2])
    a = corner + (patch_size + gap) + shifts[:2]
    n = corner + grid[label] * (patch_size + gap) + shifts[2:]
    return (image[:, a[0]:a[0] + patch_size, a[1]:a[1] + patch_size].clone(),
            image[:, n[0]:n[0] + patch_size, n[1]:n[1] + patch_size].clone(), label)
''',
        RPB: '''
def relative_position_batch(images, patch_size, gap, jitter, generator=None):
    B, C, H, W = images.shape
    P, step = patch_size, patch_size + gap
    labels = torch.randint(0, 8, (B,), generator=generator)
    cells = torch.where(labels < 4, labels, labels + 1)
    shifts = torch.randint(-jitter, jitter + 1, (B, 4), generator=generator)
    top, left = (H - 3 * P - 2 * gap) // 2, (W - 3 * P - 2 * gap) // 2
    ya, xa = top + step + shifts[:, 0], left + step + shifts[:, 1]
    yn, xn = top + (cells // 3) * step + shifts[:, 2], left + (cells % 3) * step + shifts[:, 3]
    r = torch.arange(P)
    b = torch.arange(B)[:, None, None]
    def crop(y, x):
        rows, cols = (y[:, None] + r)[:, :, None], (x[:, None] + r)[:, None, :]  # (B, P, 1), (B, 1, P)
        return images.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2)   # (B, C, P, P)
    return crop(ya, xa), crop(yn, xn), labels
''',
        ROT: '''
def rotate_batch(images):
    views = [images, images.flip(-1).transpose(-2, -1), images.flip(-1).flip(-2), images.transpose(-2, -1).flip(-1)]
    out = torch.empty(4 * len(images), *images.shape[1:], dtype=images.dtype)
    for k, v in enumerate(views):
        out[k::4] = v
    return out, torch.tensor([0, 1, 2, 3] * len(images), dtype=torch.long)
''',
    },
    "looped_float64": {
        ROT: '''
def rotate_batch(images):
    rotated, labels = [], []
    for img in images.double():
        for k in range(4):
            rotated.append(torch.rot90(img, k, (1, 2)))
            labels.append(k)
    return torch.stack(rotated), torch.tensor(labels)
''',
        SPP: '''
def sample_patch_pair(image, patch_size, gap, jitter, generator=None):
    positions = [(r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)]
    label = torch.randint(0, 8, (1,), generator=generator)
    dy_a = torch.randint(-jitter, jitter + 1, (1,), generator=generator).item()
    dx_a = torch.randint(-jitter, jitter + 1, (1,), generator=generator).item()
    dy_n = torch.randint(-jitter, jitter + 1, (1,), generator=generator).item()
    dx_n = torch.randint(-jitter, jitter + 1, (1,), generator=generator).item()
    H, W = image.shape[1], image.shape[2]
    oy = (H - (3 * patch_size + 2 * gap)) // 2
    ox = (W - (3 * patch_size + 2 * gap)) // 2
    r, c = positions[label.item()]
    y0, x0 = oy + (patch_size + gap) + dy_a, ox + (patch_size + gap) + dx_a
    y1, x1 = oy + r * (patch_size + gap) + dy_n, ox + c * (patch_size + gap) + dx_n
    return image[:, y0:y0 + patch_size, x0:x0 + patch_size].double(), image[:, y1:y1 + patch_size, x1:x1 + patch_size].double(), label
''',
    },
}


globals().update(suite_checks(A, 12, MUTANTS, ALTERNATIVES))
