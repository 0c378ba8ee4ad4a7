"""The 02_masked_modeling hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "02_masked_modeling"

MT, PF, UPF, RM, ML = "mask_tokens", "patchify", "unpatchify", "random_masking", "mae_loss"


def mask_tokens_variant(*, select="probs.masked_fill_(special_tokens_mask, 0.0)", p="mlm_probability",
                        labels_from="labels", inputs_from="input_ids.clone()", mask_p="0.8", random_p="0.5",
                        random_ids="torch.randint(vocab_size, input_ids.shape, generator=generator)", gen="generator",
                        first=""):
    """The solution with one knob turned (each default is the correct choice)."""
    return f'''
def mask_tokens(input_ids, vocab_size, mask_token_id, special_tokens_mask, mlm_probability=0.15, generator=None):
    {first or "pass"}
    labels = input_ids.clone()
    inputs = {inputs_from}
    probs = torch.full(input_ids.shape, float({p}))
    {select}
    selected = torch.bernoulli(probs, generator={gen}).bool()
    to_mask = torch.bernoulli(torch.full(input_ids.shape, {mask_p}), generator={gen}).bool() & selected
    inputs[to_mask] = mask_token_id
    to_random = torch.bernoulli(torch.full(input_ids.shape, {random_p}), generator={gen}).bool() & selected & ~to_mask
    random_ids = {random_ids}
    inputs[to_random] = random_ids[to_random]
    labels = {labels_from}.clone()
    labels[~selected] = -100
    return inputs, labels
'''


PATCHIFY = '''
def patchify(images, patch_size):
    n, c, H, W = images.shape
    p = patch_size
    x = images.reshape(n, c, H // p, p, W // p, p)
    return x.permute({perm}).reshape(n, (H // p) * (W // p), p * p * c)
'''
UNPATCHIFY = '''
def unpatchify(patches, patch_size, channels):
    n, L, _ = patches.shape
    p, h = patch_size, int(round(L ** 0.5))
    x = patches.reshape(n, h, h, p, p, channels)
    return x.permute({perm}).reshape(n, channels, h * p, h * p)
'''


def random_masking_variant(*, keep="int(L * (1 - mask_ratio))", noise="torch.rand(N, L)",
                           shuffle="torch.argsort(noise, dim=1)", ids_keep="ids_shuffle[:, :keep]",
                           restore="torch.argsort(ids_shuffle, dim=1)", mask="torch.gather(mask, 1, ids_restore)"):
    return f'''
def random_masking(x, mask_ratio, noise=None):
    N, L, D = x.shape
    keep = {keep}
    if noise is None:
        noise = {noise}
    ids_shuffle = {shuffle}
    ids_restore = {restore}
    ids_keep = {ids_keep}
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))
    mask = torch.ones(N, L)
    mask[:, :keep] = 0
    mask = {mask}
    return x_kept, mask, ids_restore
'''


def mae_loss_variant(*, norm="(target - mean) / (var + 1e-6) ** 0.5", var="target.var(dim=-1, keepdim=True)",
                     per_patch="((pred - target) ** 2).mean(dim=-1)", reduce="(per_patch * mask).sum() / mask.sum()"):
    return f'''
def mae_loss(images, pred, mask, patch_size, norm_pix_loss=False):
    target = patchify(images, patch_size)
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = {var}
        target = {norm}
    per_patch = {per_patch}
    return {reduce}
'''


MUTANTS = {
    # mask_tokens
    "mt_selects_special_tokens": (MT, mask_tokens_variant(select="pass"),
                                  ["test_mask_tokens_never_selects_special_tokens"]),
    "mt_fixed_probability": (MT, mask_tokens_variant(p="0.15"),
                             ["test_mask_tokens_selection_rate", "test_mask_tokens_never_selects_special_tokens"]),
    "mt_always_mask": (MT, mask_tokens_variant(mask_p="1.0"), ["test_mask_tokens_80_10_10"]),
    "mt_no_unchanged": (MT, mask_tokens_variant(random_p="1.0"), ["test_mask_tokens_80_10_10"]),
    "mt_random_ten_percent_of_rest": (MT, mask_tokens_variant(random_p="0.1"), ["test_mask_tokens_80_10_10"]),
    "mt_labels_from_corrupted": (MT, mask_tokens_variant(labels_from="inputs"), ["test_mask_tokens_labels"]),
    "mt_labels_zero": (MT, mask_tokens_variant().replace("labels[~selected] = -100", "labels[~selected] = 0"),
                       ["test_mask_tokens_selection_rate", "test_mask_tokens_labels"]),
    "mt_random_skips_special_ids": (MT, mask_tokens_variant(
        random_ids="torch.randint(5, vocab_size, input_ids.shape, generator=generator)"),
        ["test_mask_tokens_random_tokens_cover_the_vocabulary"]),
    "mt_random_off_by_one": (MT, mask_tokens_variant(
        random_ids="torch.randint(vocab_size - 1, input_ids.shape, generator=generator)"),
        ["test_mask_tokens_random_tokens_cover_the_vocabulary"]),
    "mt_global_rng": (MT, mask_tokens_variant(gen="None", random_ids="torch.randint(vocab_size, input_ids.shape)"),
                      ["test_mask_tokens_uses_the_generator"]),
    "mt_reseeds_global_rng": (MT, mask_tokens_variant(gen="None", first="torch.manual_seed(0)",
                                                      random_ids="torch.randint(vocab_size, input_ids.shape)"),
                              ["test_mask_tokens_uses_the_generator"]),
    "mt_in_place": (MT, mask_tokens_variant(inputs_from="input_ids"), ["test_mask_tokens_does_not_modify_input"]),
    # patchify / unpatchify
    "patchify_channel_first": (PF, PATCHIFY.format(perm="0, 2, 4, 1, 3, 5"),
                               ["test_patchify_matches_definition", "test_patchify_round_trip"]),
    "patchify_column_major": (PF, PATCHIFY.format(perm="0, 4, 2, 3, 5, 1"),
                              ["test_patchify_matches_definition", "test_patchify_round_trip"]),
    "patchify_pixels_transposed": (PF, PATCHIFY.format(perm="0, 2, 4, 5, 3, 1"), ["test_patchify_matches_definition"]),
    "unpatchify_channel_first": (UPF, UNPATCHIFY.format(perm="0, 3, 1, 4, 2, 5"),
                                 ["test_unpatchify_matches_definition", "test_patchify_round_trip"]),
    "unpatchify_grid_transposed": (UPF, UNPATCHIFY.format(perm="0, 5, 2, 3, 1, 4"),
                                   ["test_unpatchify_matches_definition", "test_patchify_round_trip"]),
    # random_masking
    "rm_keeps_highest_noise": (RM, random_masking_variant(shuffle="torch.argsort(noise, dim=1, descending=True)"),
                               ["test_random_masking_kept_patches_given_noise", "test_random_masking_mask_given_noise"]),
    "rm_kept_in_original_order": (RM, random_masking_variant(ids_keep="ids_shuffle[:, :keep].sort(dim=1).values"),
                                  ["test_random_masking_kept_patches_given_noise"]),
    "rm_rounds_keep": (RM, random_masking_variant(keep="round(L * (1 - mask_ratio))"),
                       ["test_random_masking_number_kept"]),
    "rm_removes_int_l_ratio": (RM, random_masking_variant(keep="L - int(L * mask_ratio)"),
                               ["test_random_masking_number_kept"]),
    "rm_mask_in_shuffled_order": (RM, random_masking_variant(mask="mask"), ["test_random_masking_mask_given_noise"]),
    "rm_bool_mask": (RM, random_masking_variant(mask="torch.gather(mask, 1, ids_restore).bool()"),
                     ["test_random_masking_mask_given_noise"]),
    "rm_restore_is_shuffle": (RM, random_masking_variant(restore="ids_shuffle"), ["test_random_masking_ids_restore"]),
    "rm_same_noise_for_all": (RM, random_masking_variant(noise="torch.rand(1, L).expand(N, L)"),
                              ["test_random_masking_without_noise"]),
    # mae_loss
    "loss_all_patches": (ML, mae_loss_variant(reduce="per_patch.mean()"),
                         ["test_mae_loss_matches_definition", "test_mae_loss_only_removed_patches_count"]),
    "loss_sum_per_patch": (ML, mae_loss_variant(per_patch="((pred - target) ** 2).sum(dim=-1)"),
                           ["test_mae_loss_matches_definition", "test_mae_loss_only_removed_patches_count"]),
    "loss_no_gradient": (ML, mae_loss_variant(per_patch="((pred.detach() - target) ** 2).mean(dim=-1)"),
                         ["test_mae_loss_only_removed_patches_count"]),
    "loss_biased_variance": (ML, mae_loss_variant(var="target.var(dim=-1, keepdim=True, unbiased=False)"),
                             ["test_mae_loss_norm_pix"]),
    "loss_per_image_normalisation": (ML, mae_loss_variant(
        norm="(target - target.mean(dim=(1, 2), keepdim=True)) / (target.var(dim=(1, 2), keepdim=True) + 1e-6) ** 0.5"),
        ["test_mae_loss_norm_pix"]),
    "loss_epsilon_outside_sqrt": (ML, mae_loss_variant(norm="(target - mean) / (var ** 0.5 + 1e-6)"),
                                  ["test_mae_loss_norm_pix_epsilon"]),
}

ALTERNATIVES = {
    "looped_float64": {
        MT: '''
def mask_tokens(input_ids, vocab_size, mask_token_id, special_tokens_mask, mlm_probability=0.15, generator=None):
    ids, special = input_ids.tolist(), special_tokens_mask.tolist()
    u = torch.rand(input_ids.shape, generator=generator, dtype=torch.float64).tolist()
    r = torch.rand(input_ids.shape, generator=generator, dtype=torch.float64).tolist()
    inputs = [row[:] for row in ids]
    labels = [[-100] * len(row) for row in ids]
    for b, row in enumerate(ids):
        for t, token in enumerate(row):
            if special[b][t] or u[b][t] >= mlm_probability:
                continue
            labels[b][t] = token
            if r[b][t] < 0.8:
                inputs[b][t] = mask_token_id
            elif r[b][t] < 0.9:
                inputs[b][t] = int(torch.randint(0, vocab_size, (1,), generator=generator))
    return torch.tensor(inputs), torch.tensor(labels)
''',
        PF: '''
def patchify(images, patch_size):
    n, c, H, W = images.shape
    p = patch_size
    out = []
    for i in range(H // p):
        for j in range(W // p):
            block = images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p]      # (N, C, p, p)
            out.append(block.permute(0, 2, 3, 1).reshape(n, -1).double())
    return torch.stack(out, dim=1)
''',
        UPF: '''
def unpatchify(patches, patch_size, channels):
    n, L, _ = patches.shape
    p, h = patch_size, math.isqrt(L)
    images = torch.zeros(n, channels, h * p, h * p, dtype=torch.float64)
    for l in range(L):
        i, j = divmod(l, h)
        images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p] = patches[:, l].reshape(n, p, p, channels).permute(0, 3, 1, 2)
    return images
''',
        RM: '''
def random_masking(x, mask_ratio, noise=None):
    N, L, D = x.shape
    keep = int(L * (1 - mask_ratio))
    if noise is None:
        noise = torch.randn(N, L, dtype=torch.float64)
    kept, masks, restores = [], [], []
    for n in range(N):
        order = sorted(range(L), key=lambda l: float(noise[n, l]))
        kept.append(x[n, order[:keep]])
        m = torch.ones(L, dtype=torch.float64)
        m[order[:keep]] = 0
        masks.append(m)
        restore = torch.empty(L, dtype=torch.long)
        restore[torch.tensor(order)] = torch.arange(L)
        restores.append(restore)
    return torch.stack(kept), torch.stack(masks), torch.stack(restores)
''',
        ML: '''
def mae_loss(images, pred, mask, patch_size, norm_pix_loss=False):
    target = patchify(images, patch_size).double()
    if norm_pix_loss:
        target = (target - target.mean(-1, keepdim=True)) / torch.sqrt(target.std(-1, keepdim=True) ** 2 + 1e-6)
    losses = []
    for n in range(pred.shape[0]):
        removed = mask[n].bool()
        losses.append(((pred[n][removed].double() - target[n][removed]) ** 2).mean(-1).mean())
    return torch.stack(losses).mean()
''',
    },
    "functional": {
        MT: '''
def mask_tokens(input_ids, vocab_size, mask_token_id, special_tokens_mask, mlm_probability=0.15, generator=None):
    u = torch.rand(input_ids.shape, generator=generator)
    selected = (u < mlm_probability) & ~special_tokens_mask
    r = torch.rand(input_ids.shape, generator=generator)
    offset = torch.randint(1, vocab_size, input_ids.shape, generator=generator)
    other = (input_ids + offset) % vocab_size        # a random id different from the original
    inputs = torch.where(selected & (r < 0.8), torch.full_like(input_ids, mask_token_id), input_ids)
    inputs = torch.where(selected & (r >= 0.8) & (r < 0.9), other, inputs)
    return inputs, torch.where(selected, input_ids, torch.full_like(input_ids, -100))
''',
        PF: '''
def patchify(images, patch_size):
    p = patch_size
    x = F.unfold(images, kernel_size=p, stride=p)                 # (N, C*p*p, L), channel-major
    n, _, L = x.shape
    c = images.shape[1]
    return x.reshape(n, c, p * p, L).permute(0, 3, 2, 1).reshape(n, L, p * p * c)
''',
        UPF: '''
def unpatchify(patches, patch_size, channels):
    n, L, _ = patches.shape
    p, h = patch_size, math.isqrt(L)
    x = patches.reshape(n, L, p * p, channels).permute(0, 3, 2, 1).reshape(n, channels * p * p, L)
    return F.fold(x, output_size=(h * p, h * p), kernel_size=p, stride=p)
''',
        RM: '''
def random_masking(x, mask_ratio, noise=None):
    N, L, D = x.shape
    keep = int(L * (1 - mask_ratio))
    noise = torch.rand(N, L) if noise is None else noise
    ids_shuffle = noise.argsort(dim=-1)
    ids_restore = ids_shuffle.argsort(dim=-1)
    x_kept = x[torch.arange(N)[:, None], ids_shuffle[:, :keep]]
    mask = torch.ones(N, L).scatter(1, ids_shuffle[:, :keep], 0.0)
    return x_kept, mask, ids_restore
''',
        ML: '''
def mae_loss(images, pred, mask, patch_size, norm_pix_loss=False):
    target = patchify(images, patch_size)
    if norm_pix_loss:
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    removed = mask.bool()
    return F.mse_loss(pred[removed], target[removed])
''',
    },
}


globals().update(suite_checks(A, 17, MUTANTS, ALTERNATIVES, timeout=3600))
