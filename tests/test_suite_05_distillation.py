"""The 05_distillation hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "05_distillation"
TOTAL = 15

BYOL, CM, DINO, UC = "byol_loss", "cosine_momentum", "dino_loss", "update_center"

MUTANTS = {
    # ------------------------------------------------------------------------------------ byol_loss
    "byol_no_stop_gradient": (BYOL, '''
def byol_loss(p, z):
    return (2 - 2 * F.cosine_similarity(p, z, dim=-1)).mean()
''', ["test_byol_loss_stop_gradient"]),
    "byol_detaches_p_too": (BYOL, '''
def byol_loss(p, z):
    return (2 - 2 * F.cosine_similarity(p.detach(), z.detach(), dim=-1)).mean()
''', ["test_byol_loss_stop_gradient"]),
    "byol_unnormalised_mse": (BYOL, '''
def byol_loss(p, z):
    return ((p - z.detach()) ** 2).sum(-1).mean()
''', ["test_byol_loss_matches_definition", "test_byol_loss_scale_invariant"]),
    "byol_normalise_only_p": (BYOL, '''
def byol_loss(p, z):
    return (2 - 2 * (F.normalize(p, dim=-1) * z.detach()).sum(-1)).mean()
''', ["test_byol_loss_scale_invariant"]),
    "byol_sum_over_batch": (BYOL, '''
def byol_loss(p, z):
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)).sum()
''', ["test_byol_loss_matches_definition"]),
    # ------------------------------------------------------------------------------ cosine_momentum
    "cm_swapped_ends": (CM, '''
def cosine_momentum(step, total_steps, base=0.996, final=1.0):
    return base - (base - final) * (math.cos(math.pi * step / total_steps) + 1) / 2
''', ["test_cosine_momentum_endpoints", "test_cosine_momentum_monotone"]),
    "cm_full_cosine": (CM, '''
def cosine_momentum(step, total_steps, base=0.996, final=1.0):
    return final - (final - base) * (math.cos(2 * math.pi * step / total_steps) + 1) / 2
''', ["test_cosine_momentum_endpoints", "test_cosine_momentum_midpoint"]),
    "cm_linear": (CM, '''
def cosine_momentum(step, total_steps, base=0.996, final=1.0):
    return base + (final - base) * step / total_steps
''', ["test_cosine_momentum_matches_definition"]),
    # ------------------------------------------------------------------------------------ dino_loss
    "dino_all_pairs": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(student_out.shape[0] // b)
    terms = [-(q * l).sum(-1).mean() for q in pt for l in ls]
    return sum(terms) / len(terms)
''', ["test_dino_loss_excludes_same_view", "test_dino_loss_two_views"]),
    "dino_teacher_not_detached": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax((teacher_out - center) / teacher_temp, dim=-1).chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(student_out.shape[0] // b)
    terms = [-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i]
    return sum(terms) / len(terms)
''', ["test_dino_loss_teacher_detached"]),
    "dino_center_after_temperature": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax(teacher_out / teacher_temp - center, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(student_out.shape[0] // b)
    terms = [-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i]
    return sum(terms) / len(terms)
''', ["test_dino_loss_center_before_temperature"]),
    "dino_no_center": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax(teacher_out / teacher_temp, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(student_out.shape[0] // b)
    terms = [-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i]
    return sum(terms) / len(terms)
''', ["test_dino_loss_center_before_temperature", "test_dino_loss_two_views"]),
    "dino_swapped_temperatures": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax((teacher_out - center) / student_temp, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / teacher_temp, dim=-1).chunk(student_out.shape[0] // b)
    terms = [-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i]
    return sum(terms) / len(terms)
''', ["test_dino_loss_temperatures"]),
    "dino_sums_pairs": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    pt = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(student_out.shape[0] // b)
    return sum(-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i)
''', ["test_dino_loss_two_views", "test_dino_loss_multi_crop"]),
    "dino_assumes_two_views": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    pt = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach().chunk(2)
    ls = F.log_softmax(student_out / student_temp, dim=-1).chunk(2)
    return (-(pt[0] * ls[1]).sum(-1).mean() - (pt[1] * ls[0]).sum(-1).mean()) / 2
''', ["test_dino_loss_multi_crop"]),
    "dino_image_major_views": (DINO, '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    v_count = student_out.shape[0] // b
    pt = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach().view(b, 2, -1).unbind(1)
    ls = F.log_softmax(student_out / student_temp, dim=-1).view(b, v_count, -1).unbind(1)
    terms = [-(q * l).sum(-1).mean() for i, q in enumerate(pt) for v, l in enumerate(ls) if v != i]
    return sum(terms) / len(terms)
''', ["test_dino_loss_two_views", "test_dino_loss_multi_crop"]),
    # -------------------------------------------------------------------------------- update_center
    "uc_swapped_momentum": (UC, '''
def update_center(center, teacher_out, momentum=0.9):
    return center * (1 - momentum) + teacher_out.mean(0, keepdim=True) * momentum
''', ["test_update_center_matches_definition", "test_update_center_momentum_convention",
      "test_update_center_batch_mean", "test_update_center_chains"]),
    "uc_sum_not_mean": (UC, '''
def update_center(center, teacher_out, momentum=0.9):
    return center * momentum + teacher_out.sum(0, keepdim=True) * (1 - momentum)
''', ["test_update_center_batch_mean", "test_update_center_matches_definition"]),
    "uc_softmax_outputs": (UC, '''
def update_center(center, teacher_out, momentum=0.9):
    return center * momentum + F.softmax(teacher_out, dim=-1).mean(0, keepdim=True) * (1 - momentum)
''', ["test_update_center_matches_definition", "test_update_center_batch_mean"]),
    "uc_forgets_center": (UC, '''
def update_center(center, teacher_out, momentum=0.9):
    return teacher_out.mean(0, keepdim=True) * (1 - momentum)
''', ["test_update_center_chains", "test_update_center_momentum_convention"]),
}

ALTERNATIVES = {
    "vectorised_float64": {BYOL: '''
def byol_loss(p, z):
    p, z = F.normalize(p.double(), dim=1), F.normalize(z.detach().double(), dim=1)
    return F.mse_loss(p, z, reduction="none").sum(dim=1).mean()
''', CM: '''
def cosine_momentum(step, total_steps, base=0.996, final=1.0):
    return float(base + (final - base) * (1 - np.cos(np.pi * step / total_steps)) / 2)
''', DINO: '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    v = student_out.shape[0] // b
    q = torch.softmax((teacher_out.detach().double() - center.double()) / teacher_temp, -1).view(2, b, -1)
    logp = torch.log_softmax(student_out.double() / student_temp, -1).view(v, b, -1)
    ce = -torch.einsum("ibk,vbk->iv", q, logp) / b           # (2, V) mean cross-entropy per pair
    mask = torch.ones(2, v, dtype=torch.bool)
    mask[0, 0] = mask[1, 1] = False
    return ce[mask].mean()
''', UC: '''
def update_center(center, teacher_out, momentum=0.9):
    new = center.clone()
    new.mul_(momentum).add_(teacher_out.mean(dim=0, keepdim=True), alpha=1 - momentum)
    return new
'''},
    "looped": {BYOL: '''
def byol_loss(p, z):
    total = 0.0
    for a, b in zip(p, z.detach()):
        total = total + 2 - 2 * torch.dot(a, b) / (a.norm() * b.norm())
    return total / len(p)
''', DINO: '''
def dino_loss(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    b = teacher_out.shape[0] // 2
    views = student_out.shape[0] // b
    total, n = 0, 0
    for i in range(2):
        for v in range(views):
            if i == v:
                continue
            for j in range(b):
                q = F.softmax((teacher_out[i * b + j] - center[0]) / teacher_temp, dim=0).detach()
                total = total - (q * F.log_softmax(student_out[v * b + j] / student_temp, dim=0)).sum()
                n += 1
    return total / n
'''},
}


globals().update(suite_checks(A, TOTAL, MUTANTS, ALTERNATIVES))
