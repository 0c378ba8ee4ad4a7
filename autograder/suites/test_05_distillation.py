"""Hidden suite for 05_distillation: byol_loss, cosine_momentum, dino_loss, update_center (15 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here in float64 from the definitions: BYOL's normalised regression with a
stop-gradient, the half-cosine EMA schedule, DINO's cross-entropy as a slow loop over (teacher view,
student view) pairs, and the EMA of the batch mean for the centre.
"""
import math

import torch

from autograder.suite import Grad, as_tensor, assert_close, assert_scalar, hint, points, visible


# ------------------------------------------------------------------------------------- references
def reference_byol(p, z):
    p, z = p.double(), z.double()
    cos = (p * z).sum(-1) / (p.norm(dim=-1) * z.norm(dim=-1))
    return (2 - 2 * cos).mean()


def reference_momentum(step, total, base=0.996, final=1.0):
    return final - (final - base) * (math.cos(math.pi * step / total) + 1) / 2


def reference_dino(student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04):
    """The definition as a slow loop over view pairs and images, in float64."""
    s, t, c = student_out.double(), teacher_out.double(), center.double().reshape(1, -1)
    batch = t.shape[0] // 2
    views = s.shape[0] // batch
    total, pairs = 0.0, 0
    for i in range(2):
        p_t = torch.softmax((t[i * batch:(i + 1) * batch] - c) / teacher_temp, dim=-1)
        for v in range(views):
            if v == i:
                continue
            log_p_s = torch.log_softmax(s[v * batch:(v + 1) * batch] / student_temp, dim=-1)
            per_image = [-(p_t[b] * log_p_s[b]).sum() for b in range(batch)]
            total = total + sum(per_image) / batch
            pairs += 1
    return total / pairs


def reference_center(center, teacher_out, momentum=0.9):
    return center.double() * momentum + teacher_out.double().mean(0, keepdim=True) * (1 - momentum)


def dino_inputs(rng, batch, views, k, scale=1.0):
    student = torch.randn(views * batch, k, generator=rng) * scale
    teacher = torch.randn(2 * batch, k, generator=rng) * scale
    center = torch.randn(1, k, generator=rng) * scale
    return student, teacher, center


# ------------------------------------------------------------------------------------- byol_loss
@points(1.5)
@visible
@hint("L2-normalise p and z along the last dimension, take 2 - 2 * (p * z).sum(-1), then the mean over the batch")
def test_byol_loss_matches_definition(student, rng):
    """byol_loss(p, z) is the batch mean of 2 - 2 cos(p_i, z_i), for (7, 5) inputs in float32 and float64."""
    p, z = torch.randn(7, 5, generator=rng), torch.randn(7, 5, generator=rng)
    got = assert_scalar(student.byol_loss(p, z), "byol_loss(p (7, 5), z (7, 5))")
    assert_close(torch.tensor(got), reference_byol(p, z), "byol_loss(p (7, 5), z (7, 5))", atol=1e-5)
    got64 = assert_scalar(student.byol_loss(p.double(), z.double()), "byol_loss in float64")
    assert_close(torch.tensor(got64), reference_byol(p, z), "byol_loss in float64", atol=1e-6)


@points(1.5)
@hint("the target is a constant for the loss: normalise z.detach(), and keep p attached to the graph")
def test_byol_loss_stop_gradient(student, rng):
    """No gradient reaches the target z; the gradient w.r.t. the prediction p is that of the definition."""
    p, z = torch.randn(6, 4, generator=rng), torch.randn(6, 4, generator=rng)
    res = student.call("byol_loss", Grad(p), Grad(z))
    grad_p, grad_z = res.grads
    assert grad_z is None or as_tensor(grad_z, "gradient w.r.t. z").abs().max() == 0, \
        "a gradient reached the target z: the target must be detached (stop-gradient)"
    assert grad_p is not None, "no gradient reached the prediction p: do not detach p"
    p64 = p.double().requires_grad_(True)
    reference_byol(p64, z.double()).backward()
    assert_close(grad_p, p64.grad, "gradient of the loss w.r.t. p", atol=1e-5)


@points(1)
@hint("the loss compares directions: it must not change when p or z is multiplied by a positive number")
def test_byol_loss_scale_invariant(student, rng):
    """Rescaling each row of p and of z by a different positive factor leaves the loss unchanged."""
    p, z = torch.randn(8, 6, generator=rng), torch.randn(8, 6, generator=rng)
    sp = torch.rand(8, 1, generator=rng) * 20 + 0.05
    sz = torch.rand(8, 1, generator=rng) * 20 + 0.05
    got = assert_scalar(student.byol_loss(p * sp, z * sz), "byol_loss of rescaled vectors")
    assert_close(torch.tensor(got), reference_byol(p, z), "byol_loss of rows rescaled by factors in [0.05, 20]",
                 atol=1e-5)


# -------------------------------------------------------------------------------- cosine_momentum
@points(0.5)
@visible
@hint("step 0 gives base and step total_steps gives final: final - (final - base) * (cos(pi * k / K) + 1) / 2")
def test_cosine_momentum_endpoints(student, rng):
    """tau(0) = base and tau(K) = final, for the defaults and for other base / final values."""
    for args, kwargs in (((0, 100), {}), ((100, 100), {}), ((0, 37), {"base": 0.9, "final": 0.95}),
                         ((37, 37), {"base": 0.9, "final": 0.95})):
        step, total = args
        got = assert_scalar(student.cosine_momentum(*args, **kwargs), f"cosine_momentum{args}")
        want = reference_momentum(step, total, **kwargs)
        assert abs(got - want) < 1e-7, f"cosine_momentum({step}, {total}, {kwargs}) = {got:.6f}, expected {want:.6f}"


@points(0.5)
@hint("half way the cosine is 0, so tau is (base + final) / 2")
def test_cosine_momentum_midpoint(student, rng):
    """At step K / 2 the momentum is the average of base and final."""
    base = 0.5 + 0.4 * float(torch.rand(1, generator=rng))
    total = 2 * int(torch.randint(5, 500, (1,), generator=rng))
    got = assert_scalar(student.cosine_momentum(total // 2, total, base=base, final=1.0), "cosine_momentum at K/2")
    assert abs(got - (base + 1) / 2) < 1e-7, f"cosine_momentum at step K/2 is {got:.6f}, expected (base + final) / 2"


@points(0.5)
@hint("tau grows from base to final without going back: use cos(pi * step / total_steps), a half cosine")
def test_cosine_momentum_monotone(student, rng):
    """The schedule never decreases over steps 0..K when base < final."""
    total = int(torch.randint(20, 60, (1,), generator=rng))
    values = [assert_scalar(student.cosine_momentum(k, total, base=0.8), f"cosine_momentum({k}, {total})")
              for k in range(total + 1)]
    drops = [k for k in range(total) if values[k + 1] < values[k] - 1e-12]
    assert not drops, f"the momentum decreases between steps {drops[0]} and {drops[0] + 1} (K = {total})"


@points(0.5)
@hint("the schedule is a half cosine, not a straight line: check a quarter of the way")
def test_cosine_momentum_matches_definition(student, rng):
    """tau(k) equals the half-cosine formula at random steps (and is returned as a number)."""
    total = int(torch.randint(50, 1000, (1,), generator=rng))
    base = 0.9 + 0.09 * float(torch.rand(1, generator=rng))
    for step in (total // 4, total // 3, int(torch.randint(0, total + 1, (1,), generator=rng))):
        got = assert_scalar(student.cosine_momentum(step, total, base=base), f"cosine_momentum({step}, {total})")
        want = reference_momentum(step, total, base=base)
        assert abs(got - want) < 1e-7, f"cosine_momentum at step {step} of {total} differs from the definition"


# ------------------------------------------------------------------------------------- dino_loss
def check_dino(student, args, kwargs, what, atol=1e-5):
    got = assert_scalar(student.dino_loss(*args, **kwargs), what)
    assert_close(torch.tensor(got), reference_dino(*args, **kwargs), what, atol=atol, rtol=1e-4)


@points(1)
@visible
@hint("with two views only the pairs (teacher 0, student 1) and (teacher 1, student 0) count; average them")
def test_dino_loss_two_views(student, rng):
    """Two global views (V = 2, B = 5, K = 7): the definition, averaged over the 2 pairs and the batch."""
    s, t, c = dino_inputs(rng, 5, 2, 7)
    check_dino(student, (s, t, c), {}, "dino_loss with 2 views of 5 images, K = 7")


@points(1.5)
@hint("student_out holds V = rows / B views, view-major (view v is rows v*B:(v+1)*B); there are 2 * (V - 1) pairs")
def test_dino_loss_multi_crop(student, rng):
    """Multi-crop: V = 3 and V = 6 student views of B = 4 images (the teacher sees the 2 global ones)."""
    for views in (3, 6):
        s, t, c = dino_inputs(rng, 4, views, 9)
        check_dino(student, (s, t, c), {}, f"dino_loss with {views} student views of 4 images, K = 9")


@points(1)
@hint("the teacher probabilities are targets: compute them from teacher_out.detach() (or detach the softmax)")
def test_dino_loss_teacher_detached(student, rng):
    """No gradient reaches teacher_out; the gradient w.r.t. student_out is that of the definition."""
    s, t, c = dino_inputs(rng, 3, 4, 6)
    res = student.call("dino_loss", Grad(s), Grad(t), c)
    grad_s, grad_t = res.grads
    assert grad_t is None or as_tensor(grad_t, "gradient w.r.t. teacher_out").abs().max() == 0, \
        "a gradient reached teacher_out: detach the teacher's probabilities"
    assert grad_s is not None, "no gradient reached student_out"
    s64 = s.double().requires_grad_(True)
    reference_dino(s64, t, c).backward()
    assert_close(grad_s, s64.grad, "gradient of the loss w.r.t. student_out", atol=1e-5)


@points(1)
@hint("subtract the centre first, then divide by the temperature: softmax((teacher_out - center) / teacher_temp)")
def test_dino_loss_center_before_temperature(student, rng):
    """Shifting the teacher outputs and the centre by the same vector changes nothing; the centre matters."""
    s, t, _ = dino_inputs(rng, 4, 2, 5)
    shift = torch.randn(1, 5, generator=rng) * 3
    check_dino(student, (s, t + shift, shift), {}, "dino_loss with teacher_out and center shifted together")
    check_dino(student, (s, t, shift), {}, "dino_loss with a large centre")


@points(1)
@hint("the student uses student_temp (0.1) and the sharper teacher uses teacher_temp (0.04)")
def test_dino_loss_temperatures(student, rng):
    """The defaults (0.1 student, 0.04 teacher) and other temperatures follow the definition, not swapped."""
    s, t, c = dino_inputs(rng, 3, 3, 6, scale=0.3)
    check_dino(student, (s, t, c), {}, "dino_loss with the default temperatures")
    check_dino(student, (s, t, c), {"student_temp": 0.3, "teacher_temp": 0.07},
               "dino_loss(student_temp=0.3, teacher_temp=0.07)")


@points(1)
@hint("skip the pairs in which the student view is the teacher's own view (v == i)")
def test_dino_loss_excludes_same_view(student, rng):
    """Student views that equal the teacher's own view are not compared with it (only different views are)."""
    batch, k = 4, 6
    t = torch.randn(2 * batch, k, generator=rng)
    other = torch.randn(batch, k, generator=rng) * 0.2
    s = torch.cat([t[:batch] * 2.5, t[batch:] * 2.5, other])  # student views 0 and 1 agree with the teacher's
    check_dino(student, (s, t, torch.zeros(1, k)), {}, "dino_loss when student views 0 and 1 equal the teacher's")


# ---------------------------------------------------------------------------------- update_center
@points(1)
@visible
@hint("new centre = momentum * center + (1 - momentum) * teacher_out.mean(dim=0)")
def test_update_center_matches_definition(student, rng):
    """The EMA of the batch mean with a random momentum; the shape (1, K) of the centre is kept."""
    c, t = torch.randn(1, 6, generator=rng), torch.randn(10, 6, generator=rng) * 2 + 1
    m = 0.5 + 0.45 * float(torch.rand(1, generator=rng))
    assert_close(student.update_center(c, t, momentum=m), reference_center(c, t, m),
                 f"update_center(center (1, 6), teacher_out (10, 6), momentum={m:.3f})", atol=1e-6)


@points(0.5)
@hint("the momentum weights the OLD centre (0.9 by default); the batch mean gets 1 - momentum")
def test_update_center_momentum_convention(student, rng):
    """With the default momentum 0.9 the old centre keeps 90% of its weight."""
    c = torch.full((1, 4), 10.0)
    t = torch.randn(6, 4, generator=rng)
    assert_close(student.update_center(c, t), reference_center(c, t, 0.9), "update_center with the default momentum",
                 atol=1e-5)


@points(0.5)
@hint("average the raw teacher outputs over the batch (dim 0), not over the K outputs, and do not sum")
def test_update_center_batch_mean(student, rng):
    """The centre moves towards the mean over the N rows of teacher_out, for N different from K."""
    for n, k in ((3, 8), (17, 5)):
        c, t = torch.zeros(1, k), torch.randn(n, k, generator=rng) + torch.arange(k).float()
        assert_close(student.update_center(c, t, momentum=0.0), t.double().mean(0, keepdim=True),
                     f"update_center(zeros (1, {k}), teacher_out ({n}, {k}), momentum=0)", atol=1e-5)


@points(0.5)
@hint("return the new centre; feeding it back in must give the usual exponential moving average")
def test_update_center_chains(student, rng):
    """Three successive updates, each fed the previous result, give the EMA of the three batch means."""
    c = torch.randn(1, 5, generator=rng)
    expected = c.double()
    for _ in range(3):
        t = torch.randn(8, 5, generator=rng)
        c = as_tensor(student.update_center(c, t, momentum=0.8), "update_center(...)").float()
        expected = reference_center(expected, t, 0.8)
    assert_close(c, expected, "the centre after 3 updates with momentum 0.8", atol=1e-5)
