"""Hidden suite for 06_clip: clip_loss and zero_shot_classify (10 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here, from the definitions: a loop over the rows and columns of the similarity
matrix for the loss, autograd of that loop for its gradients, and cosine argmax for zero-shot.
"""
import math

import torch

from autograder.suite import Grad, assert_close, assert_equal, assert_scalar, hint, points, visible


def reference_loss(image_emb, text_emb, logit_scale):
    """CLIP's loss written as the definition, in float64 (differentiable)."""
    img = image_emb.double() / image_emb.double().norm(dim=1, keepdim=True)
    txt = text_emb.double() / text_emb.double().norm(dim=1, keepdim=True)
    logits = torch.as_tensor(logit_scale).double().exp() * img @ txt.T      # (N, N)
    n = len(logits)
    image_to_text = sum(-torch.log_softmax(logits[i], 0)[i] for i in range(n)) / n
    text_to_image = sum(-torch.log_softmax(logits[:, j], 0)[j] for j in range(n)) / n
    return (image_to_text + text_to_image) / 2


def embeddings(rng, n, d, *, spread=True):
    """(n, d) random embeddings; with ``spread`` every row gets a length between 0.05 and 20."""
    x = torch.randn(n, d, generator=rng)
    if spread:
        x = x * torch.exp(torch.empty(n, 1).uniform_(math.log(0.05), math.log(20), generator=rng))
    return x


def correlated_pairs(rng, n, d, noise=0.8):
    """Image and text embeddings where pair i is similar, so the loss is far from log N."""
    base = torch.randn(n, d, generator=rng)
    return base + noise * torch.randn(n, d, generator=rng), base + noise * torch.randn(n, d, generator=rng)


# --------------------------------------------------------------------------------------- clip_loss
@points(2)
@visible
@hint("normalise both embeddings, logits = logit_scale.exp() * image @ text.T, cross-entropy with targets "
      "torch.arange(N) over rows and over columns, and the mean of the two")
def test_clip_loss_matches_definition(student, rng):
    """The loss equals the definition for random pairs (N=7, d=5), in float32 and float64."""
    img, txt = correlated_pairs(rng, 7, 5)
    t = float(torch.empty(1).uniform_(1.0, 3.5, generator=rng))
    got = student.clip_loss(img, txt, torch.tensor(t))
    assert_close(assert_scalar(got, "loss of 7 pairs (float32)"), reference_loss(img, txt, t), "loss of 7 pairs (float32)",
                 atol=1e-4)
    got64 = student.clip_loss(img.double(), txt.double(), torch.tensor(t, dtype=torch.float64))
    assert_close(assert_scalar(got64, "loss of 7 pairs (float64)"), reference_loss(img, txt, t), "loss of 7 pairs (float64)",
                 atol=1e-6)


@points(1)
@hint("L2-normalise both embeddings inside clip_loss (F.normalize(x, dim=-1)): the logits are scaled "
      "cosine similarities, not dot products")
def test_clip_loss_normalises_embeddings(student, rng):
    """Rows of very different lengths (0.05 to 20) give the loss of their directions."""
    img, txt = correlated_pairs(rng, 6, 4)
    scale_img = torch.exp(torch.empty(6, 1).uniform_(math.log(0.05), math.log(20), generator=rng))
    scale_txt = torch.exp(torch.empty(6, 1).uniform_(math.log(0.05), math.log(20), generator=rng))
    t = torch.tensor(math.log(10.0))
    got = student.clip_loss(img * scale_img, txt * scale_txt, t)
    assert_close(assert_scalar(got, "loss of rescaled embeddings"), reference_loss(img, txt, t),
                 "loss of embeddings with rows rescaled by 0.05 to 20", atol=1e-4)


@points(1)
@hint("logit_scale is the LOG of the scale: multiply the cosine similarities by logit_scale.exp(), "
      "not by logit_scale, and do not divide by it")
def test_clip_loss_uses_exp_of_logit_scale(student, rng):
    """logit_scale in {0, log 3, 2.5, log 100, -1}: the logits are exp(logit_scale) times the cosines."""
    img, txt = correlated_pairs(rng, 5, 6)
    for t in (0.0, math.log(3.0), 2.5, math.log(100.0), -1.0):
        got = student.clip_loss(img, txt, torch.tensor(t))
        assert_close(assert_scalar(got, f"loss with logit_scale={t:.3g}"), reference_loss(img, txt, t),
                     f"loss with logit_scale={t:.3g}", atol=1e-4)


@points(1)
@hint("average BOTH directions: cross-entropy over the rows of the logits (image -> text) and over the "
      "columns, i.e. of logits.T (text -> image)")
def test_clip_loss_is_symmetric(student, rng):
    """Swapping the images and the texts leaves the loss unchanged (both directions are averaged)."""
    img, txt = embeddings(rng, 6, 4), embeddings(rng, 6, 4)
    t = torch.tensor(2.0)
    forward = assert_scalar(student.clip_loss(img, txt, t), "loss(image_emb, text_emb)")
    swapped = assert_scalar(student.clip_loss(txt, img, t), "loss(text_emb, image_emb)")
    assert abs(forward - swapped) < 1e-4, (
        f"clip_loss(image_emb, text_emb) and clip_loss(text_emb, image_emb) differ by {abs(forward - swapped):.3g}: "
        "the loss is not symmetric")
    assert_close(forward, reference_loss(img, txt, t), "loss of 6 unrelated pairs", atol=1e-4)


@points(1)
@hint("the target of row i (and of column i) is i: targets = torch.arange(N), the diagonal of the logits")
def test_clip_loss_diagonal_targets(student, rng):
    """Perfectly matched pairs at scale 100 give a loss near 0; the same texts in another order a large one."""
    d = 8
    img = torch.linalg.qr(torch.randn(d, d, generator=rng))[0][:6] * 3      # (6, 8) orthogonal rows
    t = torch.tensor(math.log(100.0))
    got = assert_scalar(student.clip_loss(img, img * 0.5, t), "loss of perfectly matched pairs")
    assert got < 1e-3, f"perfectly matched pairs (text i = image i) at scale 100 should give a loss near 0, got {got:.4g}"
    perm = torch.roll(torch.arange(6), 1)
    shuffled = student.clip_loss(img, img[perm], t)
    assert_close(assert_scalar(shuffled, "loss of shuffled pairs"), reference_loss(img, img[perm], t),
                 "loss when text i matches image i-1", atol=1e-3, rtol=1e-4)


@points(1.5)
@hint("keep everything in torch: no .item(), float(...), math.exp or .detach(); the gradient must reach "
      "both embeddings and logit_scale")
def test_clip_loss_gradients(student, rng):
    """Gradients with respect to image_emb, text_emb and logit_scale equal those of the definition."""
    img, txt = correlated_pairs(rng, 5, 4)
    t = torch.tensor(float(torch.empty(1).uniform_(1.0, 3.0, generator=rng)))
    result = student.call("clip_loss", Grad(img), Grad(txt), Grad(t))
    leaves = [x.clone().double().requires_grad_(True) for x in (img, txt, t)]
    reference_loss(*leaves).backward()
    for name, got, leaf in zip(("image_emb", "text_emb", "logit_scale"), result.grads, leaves):
        assert got is not None, f"no gradient reached {name}"
        assert_close(got, leaf.grad, f"gradient with respect to {name}", atol=1e-4)


# ------------------------------------------------------------------------------ zero_shot_classify
def reference_predictions(image_emb, class_emb):
    img = image_emb.double() / image_emb.double().norm(dim=1, keepdim=True)
    cls = class_emb.double() / class_emb.double().norm(dim=1, keepdim=True)
    sims = img @ cls.T                                                      # (N, C)
    top2 = sims.topk(2, dim=1).values
    return sims.argmax(1), (top2[:, 0] - top2[:, 1]) > 1e-4                 # predictions, no near-ties


@points(1)
@hint("argmax over the classes (dim=1) of the cosine similarity between each image and each class embedding")
def test_zero_shot_matches_cosine_argmax(student, rng):
    """Predictions equal the cosine argmax for 40 images and 6 classes (unit class embeddings)."""
    cls = torch.randn(6, 5, generator=rng)
    cls = cls / cls.norm(dim=1, keepdim=True)
    img = embeddings(rng, 40, 5)
    expected, keep = reference_predictions(img, cls)
    got = torch.as_tensor(student.zero_shot_classify(img, cls))
    assert got.numel() == 40, f"expected 40 predictions, got shape {tuple(got.shape)}"
    assert_equal(got.reshape(-1)[keep], expected[keep], "predictions of 40 images among 6 classes")


@points(1)
@hint("normalise the class text embeddings as well: a long class vector must not win because it is long "
      "(cosine similarity, not dot product or Euclidean distance)")
def test_zero_shot_is_scale_invariant(student, rng):
    """Rescaling every image and every class embedding by its own positive factor changes nothing."""
    cls, img = torch.randn(5, 6, generator=rng), torch.randn(50, 6, generator=rng)
    expected, keep = reference_predictions(img, cls)
    cls_scale = torch.exp(torch.empty(5, 1).uniform_(math.log(0.02), math.log(50), generator=rng))
    img_scale = torch.exp(torch.empty(50, 1).uniform_(math.log(0.02), math.log(50), generator=rng))
    got = torch.as_tensor(student.zero_shot_classify(img * img_scale, cls * cls_scale))
    assert got.numel() == 50, f"expected 50 predictions, got shape {tuple(got.shape)}"
    assert_equal(got.reshape(-1)[keep], expected[keep], "predictions with rescaled embeddings")
    got64 = torch.as_tensor(student.zero_shot_classify((img * img_scale).double(), (cls * cls_scale).double()))
    assert_equal(got64.reshape(-1)[keep], expected[keep], "predictions with rescaled float64 embeddings")


@points(0.5)
@visible
@hint("return the argmax over classes: an integer tensor of shape (N,) with values in [0, C)")
def test_zero_shot_output_format(student, rng):
    """The output is an integer tensor of shape (N,) with values in [0, C), also for N < C and C = 1."""
    for n, c in ((9, 3), (2, 7), (4, 1)):
        got = student.zero_shot_classify(torch.randn(n, 4, generator=rng), torch.randn(c, 4, generator=rng))
        assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
        assert tuple(got.shape) == (n,), f"{n} images and {c} classes: expected shape ({n},), got {tuple(got.shape)}"
        assert not got.dtype.is_floating_point and got.dtype != torch.bool, \
            f"expected integer class indices, got dtype {got.dtype}"
        assert ((got >= 0) & (got < c)).all(), f"predictions outside [0, {c})"
