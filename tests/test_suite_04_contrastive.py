"""The 04_contrastive hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation.

Most mutants are the solution's own source with one line changed (``mutate``), so each differs from a
correct answer by exactly the mistake it names."""
import ast
import json

import pytest

from autograder.assignments import solution_path
from autograder.suite_points import suite_tests

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "04_contrastive"
INF, CPC, AUG, NTX = "info_nce_loss", "cpc_loss", "simclr_augment", "nt_xent_loss"
EMA, QUEUE, MOCO = "momentum_update", "MemoryQueue", "moco_loss"


def solution_source(name: str) -> str:
    """Source of the top-level def/class ``name`` in the solution notebook, without solution markers."""
    nb = json.loads(solution_path(A).read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse(src).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                lines = src.split("\n")[node.lineno - 1:node.end_lineno]
                return "\n".join(l for l in lines if l.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    raise KeyError(name)


def mutate(name: str, *edits) -> str:
    """The solution's ``name`` with each (old, new) text replaced; every ``old`` must occur."""
    src = solution_source(name)
    for old, new in edits:
        assert old in src, f"mutant edit for {name} no longer applies: {old!r}"
        src = src.replace(old, new)
    return src


def T(*names):
    return [f"test_{n}" for n in names]


MUTANTS = {
    # info_nce_loss
    "inf_no_normalise": (INF, [("q = F.normalize(query, dim=-1)", "q = query"),
                               ("k_pos = F.normalize(positive_key, dim=-1)", "k_pos = positive_key"),
                               ("k_neg = F.normalize(negative_keys, dim=-1)", "k_neg = negative_keys")],
                         T("info_nce_loss_scale_invariant", "info_nce_loss_shared_negatives")),
    "inf_sum_over_queries": (INF, [("return F.cross_entropy(logits, target)",
                                    "return F.cross_entropy(logits, target, reduction='sum')")],
                             T("info_nce_loss_shared_negatives")),
    "inf_positive_last": (INF, [("torch.cat([l_pos, l_neg], dim=1)", "torch.cat([l_neg, l_pos], dim=1)")],
                          T("info_nce_loss_shared_negatives", "info_nce_loss_per_query_negatives")),
    "inf_per_query_flattened": (INF, [('l_neg = torch.einsum("nd,nmd->nm", q, k_neg)',
                                       "l_neg = q @ k_neg.reshape(-1, k_neg.shape[-1]).T")],
                                T("info_nce_loss_per_query_negatives")),
    "inf_times_temperature": (INF, [("/ temperature", "* temperature")],
                              T("info_nce_loss_temperature", "info_nce_loss_shared_negatives")),
    "inf_fixed_temperature": (INF, [("/ temperature", "/ 0.1")], T("info_nce_loss_temperature")),
    # cpc_loss
    "cpc_transposed": (CPC, [("scores = predictions @ targets.T", "scores = targets @ predictions.T")],
                       T("cpc_loss_matches_cross_entropy")),
    "cpc_normalised": (CPC, [("scores = predictions @ targets.T",
                              "scores = F.normalize(predictions, dim=1) @ F.normalize(targets, dim=1).T")],
                       T("cpc_loss_uses_raw_scores", "cpc_loss_matches_cross_entropy")),
    "cpc_temperature": (CPC, [("scores = predictions @ targets.T", "scores = predictions @ targets.T / 0.1")],
                        T("cpc_loss_uses_raw_scores", "cpc_loss_matches_cross_entropy")),
    # simclr_augment
    "aug_identity": (AUG, '''
def simclr_augment(images, generator=None):
    return images.clone()
''', T("simclr_augment_per_image_randomness", "simclr_augment_reproducible", "simclr_augment_flips_and_crops",
       "simclr_augment_colour_jitter_and_grayscale")),
    "aug_global_rng": (AUG, [("torch.rand(B, generator=generator, dtype=torch.float64)",
                              "torch.rand(B, dtype=torch.float64)")], T("simclr_augment_reproducible")),
    "aug_one_draw_per_batch": (AUG, [("torch.rand(B, generator=generator, dtype=torch.float64)",
                                      "torch.rand(1, generator=generator, dtype=torch.float64).expand(B)")],
                               T("simclr_augment_per_image_randomness")),
    "aug_no_clamp": (AUG, [("y = (x * brightness).clamp(0, 1)", "y = x * (brightness + 0.5)"),
                           ("y = torch.einsum(\"bij,bjhw->bihw\", hue, y).clamp(0, 1)",
                            "y = torch.einsum(\"bij,bjhw->bihw\", hue, y)"),
                           ("\n    return x.clamp(0, 1)", "\n    return x")],
                     T("simclr_augment_output_format")),
    "aug_always_float32": (AUG, [("\n    return x.clamp(0, 1)", "\n    return x.clamp(0, 1).float()")],
                           T("simclr_augment_output_format")),
    "aug_no_flip": (AUG, [("flip = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0).to(dtype)",
                           "flip = torch.ones(B, dtype=dtype, device=device)")],
                    T("simclr_augment_flips_and_crops")),
    "aug_no_colour": (AUG, [("x = torch.where(jitter, y, x)", "pass"),
                            ("x = torch.where((uniform(0, 1) < 0.2).view(B, 1, 1, 1), gray, x)", "pass")],
                      T("simclr_augment_colour_jitter_and_grayscale")),
    "aug_gray_always": (AUG, [("(uniform(0, 1) < 0.2).view(B, 1, 1, 1), gray, x)",
                               "(uniform(0, 1) < 2.0).view(B, 1, 1, 1), gray, x)")],
                        T("simclr_augment_colour_jitter_and_grayscale")),
    # nt_xent_loss
    "nt_keeps_self_similarity": (NTX, [('logits = logits.masked_fill(self_mask, float("-inf"))', "pass")],
                                 T("nt_xent_loss_excludes_self_similarity", "nt_xent_loss_matches_loop_definition")),
    "nt_one_direction": (NTX, [("return F.cross_entropy(logits, partner)",
                                "return F.cross_entropy(logits[:n], partner[:n])")],
                         T("nt_xent_loss_symmetric", "nt_xent_loss_matches_loop_definition")),
    "nt_no_normalise": (NTX, [("z = F.normalize(torch.cat([z1, z2]), dim=1)", "z = torch.cat([z1, z2])")],
                        T("nt_xent_loss_scale_invariant", "nt_xent_loss_matches_loop_definition")),
    "nt_ignores_temperature": (NTX, [("logits = z @ z.T / temperature", "logits = z @ z.T / 0.5")],
                               T("nt_xent_loss_matches_loop_definition", "nt_xent_loss_excludes_self_similarity")),
    # momentum_update
    "ema_swapped_momentum": (EMA, [("theta_k.mul_(momentum).add_(theta_q.detach(), alpha=1 - momentum)",
                                    "theta_k.mul_(1 - momentum).add_(theta_q.detach(), alpha=momentum)")],
                             T("momentum_update_parameters", "momentum_update_extremes")),
    "ema_state_dict_with_buffers": (EMA, '''
def momentum_update(online, target, momentum):
    with torch.no_grad():
        for t, o in zip(target.state_dict().values(), online.state_dict().values()):
            if t.is_floating_point():
                t.mul_(momentum).add_(o, alpha=1 - momentum)
''', T("momentum_update_leaves_buffers")),
    "ema_updates_online": (EMA, [("theta_k.mul_(momentum).add_(theta_q.detach(), alpha=1 - momentum)",
                                  "theta_q.mul_(momentum).add_(theta_k.detach(), alpha=1 - momentum)")],
                           T("momentum_update_parameters")),
    "ema_without_no_grad": (EMA, '''
def momentum_update(online, target, momentum):
    for theta_q, theta_k in zip(online.parameters(), target.parameters()):
        theta_k.mul_(momentum).add_(theta_q, alpha=1 - momentum)
''', T("momentum_update_parameters")),
    "ema_not_in_place": (EMA, '''
def momentum_update(online, target, momentum):
    with torch.no_grad():
        for theta_q, theta_k in zip(online.parameters(), target.parameters()):
            theta_k = momentum * theta_k + (1 - momentum) * theta_q
''', T("momentum_update_parameters", "momentum_update_extremes")),
    # MemoryQueue
    "queue_transposed": (QUEUE, [("self._keys = F.normalize(torch.randn(size, dim), dim=1)",
                                  "self._keys = F.normalize(torch.randn(dim, size), dim=0)")],
                         T("memory_queue_shape")),
    "queue_no_wrap": (QUEUE, [("slots = (self.ptr + torch.arange(n)) % self.size", "slots = self.ptr + torch.arange(n)"),
                              ("self.ptr = (self.ptr + n) % self.size", "self.ptr = self.ptr + n")],
                      T("memory_queue_fifo_wraparound", "memory_queue_ring_layout")),
    "queue_never_advances": (QUEUE, [("self.ptr = (self.ptr + n) % self.size", "pass")],
                             T("memory_queue_fifo_wraparound", "memory_queue_ring_layout")),
    "queue_shifts": (QUEUE, [("self._keys[slots] = keys.detach().to(self._keys.device, self._keys.dtype)",
                              "self._keys = torch.cat([self._keys[n:], keys.detach().to(self._keys.dtype)])")],
                     T("memory_queue_ring_layout")),
    "queue_newest_dropped": (QUEUE, [("slots = (self.ptr + torch.arange(n)) % self.size",
                                      "slots = (self.ptr + torch.arange(n)) % self.size\n"
                                      "        keys = keys.flip(0)")],
                             T("memory_queue_fifo_wraparound", "memory_queue_ring_layout")),
    # moco_loss
    "moco_no_detach": (MOCO, [("k = F.normalize(k.detach(), dim=1)", "k = F.normalize(k, dim=1)")],
                       T("moco_loss_stops_gradient_to_k")),
    "moco_positive_last": (MOCO, [("torch.cat([l_pos, l_neg], dim=1)", "torch.cat([l_neg, l_pos], dim=1)")],
                           T("moco_loss_matches_definition")),
    "moco_unnormalised_k": (MOCO, [("k = F.normalize(k.detach(), dim=1)", "k = k.detach()")],
                            T("moco_loss_matches_definition")),
}

ALTERNATIVES = {
    "looped_float64": {INF: '''
def info_nce_loss(query, positive_key, negative_keys, temperature=0.1):
    losses = []
    for n in range(len(query)):
        q = query[n].double() / query[n].double().norm()
        negs = negative_keys if negative_keys.ndim == 2 else negative_keys[n]
        cands = torch.cat([positive_key[n:n + 1], negs]).double()
        cands = cands / cands.norm(dim=1, keepdim=True)
        logits = cands @ q / temperature
        losses.append(torch.logsumexp(logits, 0) - logits[0])
    return torch.stack(losses).mean()
''', CPC: '''
def cpc_loss(predictions, targets):
    total = 0.0
    for i in range(len(predictions)):
        s = targets.double() @ predictions[i].double()
        total = total + torch.logsumexp(s, 0) - s[i]
    return total / len(predictions)
''', NTX: '''
def nt_xent_loss(z1, z2, temperature=0.5):
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n, total = len(z1), 0.0
    for i in range(2 * n):
        sims = torch.stack([z[i] @ z[k] for k in range(2 * n) if k != i]) / temperature
        total = total + torch.logsumexp(sims, 0) - z[i] @ z[(i + n) % (2 * n)] / temperature
    return total / (2 * n)
''', MOCO: '''
def moco_loss(q, k, queue, temperature=0.07):
    q = q.double() / q.double().norm(dim=1, keepdim=True)
    with torch.no_grad():
        k = k.double() / k.double().norm(dim=1, keepdim=True)
    logits = torch.cat([torch.einsum("nd,nd->n", q, k)[:, None], torch.einsum("nd,kd->nk", q, queue.double())], 1)
    return -torch.log_softmax(logits / temperature, dim=1)[:, 0].mean()
''', EMA: '''
def momentum_update(online, target, momentum):
    for p_online, p_target in zip(online.parameters(), target.parameters()):
        p_target.data.lerp_(p_online.data, 1 - momentum)
''', QUEUE: '''
class MemoryQueue:
    def __init__(self, size, dim):
        self.size = size
        self.buffer = torch.zeros(size, dim, dtype=torch.float64)
        self.count = 0

    def enqueue(self, keys):
        for key in keys.detach():
            self.buffer[self.count % self.size] = key
            self.count += 1

    @property
    def keys(self):
        return self.buffer.clone()
'''},
    "per_image_loop": {AUG: '''
def simclr_augment(images, generator=None):
    B, C, H, W = images.shape
    r = lambda: float(torch.rand((), generator=generator, dtype=torch.float64))
    u = torch.ones(3, dtype=torch.float64) / math.sqrt(3)
    cross = torch.tensor([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]], dtype=torch.float64)
    out = []
    for img in images:
        area, ratio = (0.2 + 0.8 * r()) * H * W, math.exp(math.log(3 / 4) + r() * math.log(16 / 9))
        h = min(H, max(1, round(math.sqrt(area / ratio))))
        w = min(W, max(1, round(math.sqrt(area * ratio))))
        top, left = int(r() * (H - h + 1)), int(r() * (W - w + 1))
        x = F.interpolate(img[None, :, top:top + h, left:left + w], size=(H, W), mode="bilinear", align_corners=False)[0]
        if r() < 0.5:
            x = x.flip(-1)
        if C == 3 and r() < 0.8:
            x = (x * (0.6 + 0.8 * r())).clamp(0, 1)
            g = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
            s = 0.6 + 0.8 * r()
            x = (s * x + (1 - s) * g).clamp(0, 1)
            c = 0.6 + 0.8 * r()
            x = (c * x + (1 - c) * g.mean()).clamp(0, 1)
            a = (2 * r() - 1) * math.pi
            rot = math.cos(a) * torch.eye(3, dtype=torch.float64) + (1 - math.cos(a)) * torch.outer(u, u) + math.sin(a) * cross
            x = torch.einsum("ij,jhw->ihw", rot.to(x.dtype), x).clamp(0, 1)
        if C == 3 and r() < 0.2:
            x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).expand(3, H, W)
        out.append(x.clamp(0, 1))
    return torch.stack(out)
'''},
}


def _variant(fn, change):
    return {fn: change if isinstance(change, str) else mutate(fn, *change)}


globals().update(suite_checks(A, 25, MUTANTS, ALTERNATIVES, variant=_variant))


def test_hidden_points_match_the_notebook():
    nb = json.loads(solution_path(A).read_text())
    task = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "hidden_tests"]
    assert task and task[0]["metadata"]["nbgrader"]["points"] == sum(t["points"] for t in suite_tests(A))
