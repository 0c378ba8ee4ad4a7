"""The 06_clip hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "06_clip"

CL = "clip_loss"
ZS = "zero_shot_classify"

MUTANTS = {
    "cl_no_normalisation": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * image_emb @ text_emb.T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_normalises_embeddings", "test_clip_loss_matches_definition"]),
    "cl_normalise_image_only": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * F.normalize(image_emb, dim=-1) @ text_emb.T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_normalises_embeddings"]),
    "cl_scale_not_exp": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_uses_exp_of_logit_scale", "test_clip_loss_matches_definition"]),
    "cl_divide_by_scale": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T / logit_scale.exp()
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_uses_exp_of_logit_scale", "test_clip_loss_diagonal_targets"]),
    "cl_image_to_text_only": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    return F.cross_entropy(logits, torch.arange(len(logits)))
''', ["test_clip_loss_is_symmetric", "test_clip_loss_matches_definition"]),
    "cl_sum_of_directions": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    targets = torch.arange(len(logits))
    return F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
''', ["test_clip_loss_matches_definition", "test_clip_loss_is_symmetric"]),
    "cl_target_zero": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    targets = torch.zeros(len(logits), dtype=torch.long)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_diagonal_targets", "test_clip_loss_matches_definition"]),
    "cl_scale_as_float": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = math.exp(float(logit_scale)) * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_gradients"]),
    "cl_detached_text": (CL, '''
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale.exp() * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb.detach(), dim=-1).T
    targets = torch.arange(len(logits))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
''', ["test_clip_loss_gradients"]),
    "zs_dot_product": (ZS, '''
def zero_shot_classify(image_emb, class_text_emb):
    return (image_emb @ class_text_emb.T).argmax(dim=1)
''', ["test_zero_shot_is_scale_invariant"]),
    "zs_euclidean": (ZS, '''
def zero_shot_classify(image_emb, class_text_emb):
    return torch.cdist(image_emb, class_text_emb).argmin(dim=1)
''', ["test_zero_shot_is_scale_invariant"]),
    "zs_argmin": (ZS, '''
def zero_shot_classify(image_emb, class_text_emb):
    return (F.normalize(image_emb, dim=1) @ F.normalize(class_text_emb, dim=1).T).argmin(dim=1)
''', ["test_zero_shot_matches_cosine_argmax", "test_zero_shot_is_scale_invariant"]),
    "zs_float_output": (ZS, '''
def zero_shot_classify(image_emb, class_text_emb):
    return (F.normalize(image_emb, dim=1) @ F.normalize(class_text_emb, dim=1).T).argmax(dim=1).float()
''', ["test_zero_shot_output_format"]),
    "zs_keepdim": (ZS, '''
def zero_shot_classify(image_emb, class_text_emb):
    return (F.normalize(image_emb, dim=1) @ F.normalize(class_text_emb, dim=1).T).argmax(dim=1, keepdim=True)
''', ["test_zero_shot_output_format"]),
}

ALTERNATIVES = {
    "looped_float64": {CL: '''
def clip_loss(image_emb, text_emb, logit_scale):
    img = image_emb.double() / image_emb.double().norm(dim=1, keepdim=True)
    txt = text_emb.double() / text_emb.double().norm(dim=1, keepdim=True)
    scale = torch.exp(logit_scale.double())
    n = img.shape[0]
    total = 0.0
    for i in range(n):
        row = scale * (txt @ img[i])            # image i against every text
        col = scale * (img @ txt[i])            # text i against every image
        total = total - torch.log_softmax(row, 0)[i] - torch.log_softmax(col, 0)[i]
    return total / (2 * n)
''', ZS: '''
def zero_shot_classify(image_emb, class_text_emb):
    preds = []
    for x in image_emb.double():
        sims = [float(x @ w / (x.norm() * w.norm())) for w in class_text_emb.double()]
        preds.append(max(range(len(sims)), key=sims.__getitem__))
    return torch.tensor(preds, dtype=torch.long)
'''},
    "logsumexp_and_cosine_similarity": {CL: '''
def clip_loss(image_emb, text_emb, logit_scale):
    sims = F.cosine_similarity(image_emb[:, None, :], text_emb[None, :, :], dim=-1)   # (N, N)
    logits = sims * logit_scale.exp()
    diag = logits.diagonal()
    return ((logits.logsumexp(1) - diag).mean() + (logits.logsumexp(0) - diag).mean()) / 2
''', ZS: '''
def zero_shot_classify(image_emb, class_text_emb):
    sims = F.cosine_similarity(image_emb[:, None, :], class_text_emb[None, :, :], dim=-1)   # (N, C)
    return torch.max(sims, dim=-1).indices
'''},
}


globals().update(suite_checks(A, 10, MUTANTS, ALTERNATIVES))
