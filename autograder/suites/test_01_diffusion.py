"""Hidden suite for 01_diffusion: schedules, forward process, posterior, loss and reverse step (17 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here in float64, from the definitions (the posterior by Bayes' rule on two
Gaussians, the reverse step by the formula of Ho et al.), not from the notebook's solution.
Convention: steps are 0-based, t = 0 is one noising step, and alpha-bar "before" t = 0 is 1.
"""
import math

import torch

from autograder.suite import ModuleArg, as_tensor, assert_close, assert_scalar, hint, points, visible

REC = "01_diffusion:recorder"


# ------------------------------------------------------------------------------------- helpers
def random_betas(rng, T, low=0.01, high=0.3):
    """A valid, increasing but irregular schedule (T,) in float32."""
    return torch.sort(low + (high - low) * torch.rand(T, generator=rng)).values.float()


def abar_of(betas):
    return torch.cumprod(1 - betas.double(), dim=0)


def per_example(values, x):
    """(B,) -> (B, 1, ..., 1) in float64, to broadcast against x (B, ...)."""
    return values.double().reshape(-1, *([1] * (x.ndim - 1)))


def reference_q_sample(x0, t, noise, alphas_cumprod):
    a = per_example(alphas_cumprod.double()[t], x0)
    return a.sqrt() * x0.double() + (1 - a).sqrt() * noise.double()


def reference_posterior(x0, x_t, t, betas):
    """Bayes: prior N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1}) times likelihood N(x_t; sqrt(alpha_t) x, beta_t)."""
    betas = betas.double()
    abar = abar_of(betas)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    beta, alpha = per_example(betas[t], x0), per_example(1 - betas[t], x0)
    prev = per_example(abar_prev[t], x0)
    first = per_example((t == 0).double(), x0)  # at t = 0 the prior is a point mass at x0
    safe_prev = torch.where(first > 0, torch.ones_like(prev), 1 - prev)
    precision = 1 / safe_prev + alpha / beta
    var = torch.where(first > 0, torch.zeros_like(precision), 1 / precision)
    mean = var * (prev.sqrt() * x0.double() / safe_prev + alpha.sqrt() * x_t.double() / beta)
    mean = torch.where(first > 0, x0.double().expand_as(mean), mean)
    return mean, var.expand_as(mean)


def reference_step(eps, x_t, t, betas, noise):
    """Ho et al. Algorithm 2 with sigma_t^2 = beta-tilde_t; no noise at t = 0."""
    betas = betas.double()
    abar = abar_of(betas)
    beta, alpha = betas[t], 1 - betas[t]
    mean = (x_t.double() - beta / (1 - abar[t]).sqrt() * eps.double()) / alpha.sqrt()
    if t == 0:
        return mean
    var = (1 - abar[t - 1]) / (1 - abar[t]) * beta
    return mean + var.sqrt() * noise.double()


def cosine_reference(T, s=0.008, max_beta=0.999):
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return torch.tensor([min(1 - f((i + 1) / T) / f(i / T), max_beta) for i in range(T)], dtype=torch.float64)


# ------------------------------------------------------------------------------------ schedules
@points(1)
@visible
@hint("torch.linspace(beta_start, beta_end, num_timesteps): T values, both ends included")
def test_linear_schedule_matches_linspace(student, rng):
    """linear_beta_schedule is T evenly spaced betas from beta_start to beta_end (defaults 1e-4, 0.02)."""
    got = student.linear_beta_schedule(1000)
    assert_close(got, torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), "linear_beta_schedule(1000)", atol=1e-7)
    T = int(torch.randint(3, 40, (1,), generator=rng))
    start, end = 0.001 + 0.01 * float(torch.rand(1, generator=rng)), 0.1 + 0.4 * float(torch.rand(1, generator=rng))
    got = student.linear_beta_schedule(T, beta_start=start, beta_end=end)
    assert_close(got, torch.linspace(start, end, T, dtype=torch.float64), f"linear_beta_schedule({T}, {start:.4f}, {end:.4f})",
                 atol=1e-6)


@points(1.5)
@hint("T + 1 points u = i / T for i = 0..T; beta_i = 1 - f(u_{i+1}) / f(u_i) with f(u) = cos((u + s) / (1 + s) * pi / 2) ** 2")
def test_cosine_schedule_matches_definition(student, rng):
    """cosine_beta_schedule equals Nichol & Dhariwal's definition for several T and offsets s."""
    for T in (1000, int(torch.randint(5, 60, (1,), generator=rng))):
        assert_close(student.cosine_beta_schedule(T), cosine_reference(T), f"cosine_beta_schedule({T})", atol=2e-6, rtol=1e-3)
    s = 0.001 + 0.05 * float(torch.rand(1, generator=rng))
    assert_close(student.cosine_beta_schedule(20, s=s), cosine_reference(20, s=s), "cosine_beta_schedule(20, s=...)",
                 atol=2e-6, rtol=1e-3)


@points(0.5)
@hint("clip every beta at max_beta (the argument, not a constant): betas.clamp(max=max_beta)")
def test_cosine_schedule_clips_at_max_beta(student, rng):
    """Every beta is min(..., max_beta) for the default 0.999 and for a smaller max_beta."""
    got = as_tensor(student.cosine_beta_schedule(30), "cosine_beta_schedule(30)")
    assert float(got.max()) <= 0.999 + 1e-6, f"a beta exceeds max_beta=0.999 (largest {float(got.max()):.6f})"
    max_beta = 0.2 + 0.3 * float(torch.rand(1, generator=rng))
    assert_close(student.cosine_beta_schedule(30, max_beta=max_beta), cosine_reference(30, max_beta=max_beta),
                 "cosine_beta_schedule(30, max_beta=...)", atol=2e-6, rtol=1e-3)


# --------------------------------------------------------------------------------------- q_sample
@points(1.5)
@hint("x_t = sqrt(abar_t) * x0 + sqrt(1 - abar_t) * noise with abar_t = alphas_cumprod[t] (the cumulative product, not alpha_t)")
def test_q_sample_closed_form(student, rng):
    """q_sample matches the closed form for images (B, C, H, W), one step per example, float32 and float64."""
    T = 50
    abar = abar_of(random_betas(rng, T, 0.005, 0.1)).float()
    x0, noise = torch.randn(5, 3, 4, 4, generator=rng), torch.randn(5, 3, 4, 4, generator=rng)
    t = torch.randint(0, T, (5,), generator=rng)
    assert_close(student.q_sample(x0, t, noise, abar), reference_q_sample(x0, t, noise, abar),
                 "x_t for images (5, 3, 4, 4)", atol=1e-5)
    x0, noise = x0.double(), noise.double()
    assert_close(student.q_sample(x0, t, noise, abar.double()), reference_q_sample(x0, t, noise, abar),
                 "x_t for float64 images", atol=1e-6)


@points(1)
@hint("reshape alphas_cumprod[t] (B,) to (B, 1, ..., 1) so it scales each example: a (B,) tensor times (B, D) broadcasts over D")
def test_q_sample_broadcasts_over_batch(student, rng):
    """Each example gets its own step: points (B, D) with B == D, and (B, D) with B != D."""
    abar = abar_of(random_betas(rng, 20, 0.02, 0.2)).float()
    for shape in ((4, 4), (6, 2)):
        x0, noise = torch.randn(*shape, generator=rng), torch.randn(*shape, generator=rng)
        t = torch.randperm(20, generator=rng)[:shape[0]]
        assert_close(student.q_sample(x0, t, noise, abar), reference_q_sample(x0, t, noise, abar),
                     f"x_t for points {shape}", atol=1e-5)


@points(0.5)
@hint("steps are 0-based: t = 0 uses alphas_cumprod[0], t = T - 1 uses alphas_cumprod[T - 1]")
def test_q_sample_zero_based_steps(student, rng):
    """t = 0 and t = T - 1 use the first and the last alpha-bar."""
    T = 8
    abar = abar_of(random_betas(rng, T, 0.05, 0.4)).float()
    x0, noise = torch.randn(4, 3, generator=rng), torch.randn(4, 3, generator=rng)
    t = torch.tensor([0, T - 1, 0, T - 1])
    assert_close(student.q_sample(x0, t, noise, abar), reference_q_sample(x0, t, noise, abar),
                 "x_t at steps [0, T-1, 0, T-1]", atol=1e-5)


# -------------------------------------------------------------------------- q_posterior_mean_variance
@points(1.5)
@hint("mean = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t; "
      "variance = (1 - abar_{t-1}) / (1 - abar_t) beta_t (not beta_t)")
def test_posterior_matches_bayes_rule(student, rng):
    """Mean and variance equal the Gaussian posterior computed by Bayes' rule, for steps t >= 1."""
    T = 12
    betas = random_betas(rng, T)
    x0, x_t = torch.randn(6, 2, 3, 3, generator=rng), torch.randn(6, 2, 3, 3, generator=rng)
    t = torch.randint(1, T, (6,), generator=rng)
    t[0], t[1] = 1, T - 1
    got = student.q_posterior_mean_variance(x0, x_t, t, betas)
    assert isinstance(got, (tuple, list)) and len(got) == 2, "return a pair (mean, variance)"
    mean, var = reference_posterior(x0, x_t, t, betas)
    assert_close(got[0], mean, "posterior mean for images (6, 2, 3, 3)", atol=1e-5)
    assert_close(as_tensor(got[1], "posterior variance").expand_as(mean), var, "posterior variance", atol=1e-6)


@points(0.5)
@hint("alphas_cumprod_prev = (1, abar_0, ..., abar_{T-2}): the step before t = 0 is the data, so the mean is x0 and the variance 0")
def test_posterior_at_first_step(student, rng):
    """At t = 0 the posterior mean is x0 and the variance is 0; mixed with other steps in one batch."""
    betas = random_betas(rng, 10)
    x0, x_t = torch.randn(4, 3, generator=rng), torch.randn(4, 3, generator=rng)
    t = torch.tensor([0, 3, 0, 9])
    got = student.q_posterior_mean_variance(x0, x_t, t, betas)
    assert isinstance(got, (tuple, list)) and len(got) == 2, "return a pair (mean, variance)"
    mean, var = reference_posterior(x0, x_t, t, betas)
    assert_close(got[0], mean, "posterior mean at steps [0, 3, 0, 9]", atol=1e-5)
    assert_close(as_tensor(got[1], "posterior variance").expand_as(mean), var, "posterior variance at steps [0, 3, 0, 9]",
                 atol=1e-6)


@points(0.5)
@hint("expand the variance to the shape of x0, e.g. variance.expand_as(x0)")
def test_posterior_variance_shaped_like_x0(student, rng):
    """Both outputs have the shape of x0, for points and for images."""
    betas = random_betas(rng, 6)
    for shape in ((3, 2), (2, 1, 4, 4)):
        x0, x_t = torch.randn(*shape, generator=rng), torch.randn(*shape, generator=rng)
        t = torch.randint(0, 6, (shape[0],), generator=rng)
        mean, var = student.q_posterior_mean_variance(x0, x_t, t, betas)
        for name, value in (("mean", mean), ("variance", var)):
            value = as_tensor(value, name)
            assert tuple(value.shape) == shape, f"posterior {name} for x0 of shape {shape}: got shape {tuple(value.shape)}"


# ----------------------------------------------------------------------------- predict_x0_from_eps
@points(1)
@hint("x0_hat = (x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t), with abar_t = alphas_cumprod[t] reshaped to (B, 1, ..., 1)")
def test_predict_x0_inverts_q_sample(student, rng):
    """predict_x0_from_eps recovers x0 from x_t and the noise that made it, for images and for points (B == D)."""
    abar = abar_of(random_betas(rng, 30, 0.005, 0.1)).float()
    for shape in ((5, 1, 4, 4), (3, 3)):
        x0, eps = torch.randn(*shape, generator=rng), torch.randn(*shape, generator=rng)
        t = torch.randint(0, 30, (shape[0],), generator=rng)
        x_t = reference_q_sample(x0, t, eps, abar).float()
        assert_close(student.predict_x0_from_eps(x_t, t, eps, abar), x0, f"x0_hat for shape {shape}", atol=1e-4)


# ------------------------------------------------------------------------------------- ddpm_loss
def loss_inputs(rng, T=10, shape=(64, 2)):
    abar = abar_of(torch.linspace(0.05, 0.4, T)).float()  # noisy enough to recover the noise precisely
    return abar, torch.randn(*shape, generator=rng)


def recovered(record, x0, abar):
    """(t, x_t, noise) from one forward call of the recording denoiser."""
    t = as_tensor(record["t"], "t passed to the model")
    x_t = as_tensor(record["x_t"], "x_t passed to the model")
    assert tuple(t.shape) == (x0.shape[0],), f"the model got t of shape {tuple(t.shape)}, expected ({x0.shape[0]},)"
    assert not t.dtype.is_floating_point, f"the model got t of dtype {t.dtype}, expected int64 step indices"
    assert tuple(x_t.shape) == tuple(x0.shape), f"the model got x_t of shape {tuple(x_t.shape)}, expected {tuple(x0.shape)}"
    assert int(t.min()) >= 0 and int(t.max()) < len(abar), f"t outside [0, {len(abar)})"
    a = per_example(abar.double()[t.long()], x0)
    noise = (x_t.double() - a.sqrt() * x0.double()) / (1 - a).sqrt()
    return t.long(), x_t, noise


def draws(student, rng, calls, batch, T=10):
    """Call ddpm_loss `calls` times; return the recovered steps and noises (lists)."""
    abar = abar_of(torch.linspace(0.05, 0.4, T)).float()
    steps, noises = [], []
    for _ in range(calls):
        x0 = torch.randn(batch, 2, generator=rng)
        res = student.call("ddpm_loss", ModuleArg(REC, seed=0), x0, abar)
        records = res.modules[0]["records"]
        assert records, "ddpm_loss never called the model"
        t, _, noise = recovered(records[-1], x0, abar)
        steps.append(t)
        noises.append(noise)
    return steps, noises


@points(2)
@hint("build x_t with q_sample(x0, t, noise, alphas_cumprod), then return F.mse_loss(model(x_t, t), noise): the same noise, "
      "the mean over all elements")
def test_ddpm_loss_is_mse_to_the_noise(student, rng):
    """The loss equals the mean squared error between model(x_t, t) and the noise that made x_t (points and images)."""
    for shape in ((64, 2), (16, 1, 4, 4)):
        abar, x0 = loss_inputs(rng, shape=shape)
        arg = ModuleArg(REC, seed=int(torch.randint(0, 1000, (1,), generator=rng)))
        res = student.call("ddpm_loss", arg, x0, abar)
        loss = assert_scalar(res.value, f"the loss for x0 of shape {shape}")
        records = res.modules[0]["records"]
        assert records, "ddpm_loss never called the model"
        model = arg.build().double()
        expected = []
        for record in records:
            t, x_t, noise = recovered(record, x0, abar)
            with torch.no_grad():
                expected.append(((model(x_t.double(), t) - noise) ** 2).mean().item())
        best = min(expected, key=lambda e: abs(e - loss))
        assert abs(best - loss) <= 1e-4 + 1e-3 * abs(best), (
            f"for x0 of shape {shape} the loss is {loss:.5f}, but the mean squared error between the model's "
            f"output and the noise that made x_t is {best:.5f}")


@points(1)
@hint("t = torch.randint(0, T, (B,)) with T = len(alphas_cumprod): every step from 0 to T-1, equally likely, new at every call")
def test_ddpm_loss_steps_uniform(student, rng):
    """Across many calls, t covers [0, T) uniformly (chi-square test), and successive calls draw new steps."""
    T = 10
    steps, _ = draws(student, rng, calls=20, batch=128, T=T)
    counts = torch.bincount(torch.cat(steps), minlength=T).double()
    assert len(counts) == T, f"t outside [0, {T})"
    expected = counts.sum() / T
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert (counts > 0).all(), f"steps {torch.nonzero(counts == 0).flatten().tolist()} of [0, {T}) never drawn in 2560 draws"
    assert chi2 < 40, f"the steps are far from uniform over [0, {T}): counts {counts.long().tolist()}"
    assert any(not torch.equal(steps[0], s) for s in steps[1:]), "every call drew the same steps: do not reseed inside ddpm_loss"


@points(0.5)
@hint("draw one step per example, t of shape (B,), not one step for the whole batch")
def test_ddpm_loss_one_step_per_example(student, rng):
    """Within one batch the examples get different, independent steps."""
    steps, _ = draws(student, rng, calls=2, batch=64, T=10)
    for t in steps:
        assert len(t.unique()) > 1, "all 64 examples of a batch got the same step"


@points(1)
@hint("noise = torch.randn_like(x0): standard normal (mean 0, std 1), one value per element")
def test_ddpm_loss_noise_standard_normal(student, rng):
    """The noise recovered from x_t over many calls has mean 0, standard deviation 1 and Gaussian tails."""
    _, noises = draws(student, rng, calls=12, batch=256)
    z = torch.cat([n.flatten() for n in noises])  # 6144 values
    mean, std = float(z.mean()), float(z.std())
    inside = float((z.abs() < 1).double().mean())
    assert abs(mean) < 0.06, f"the noise has mean {mean:.3f}, expected 0"
    assert abs(std - 1) < 0.05, f"the noise has standard deviation {std:.3f}, expected 1"
    assert 0.65 < inside < 0.72, f"{inside:.1%} of the noise lies in [-1, 1], a standard normal has 68.3%"


@points(0.5)
@hint("return the loss tensor itself (no .item(), no .detach(), no torch.no_grad()) so that loss.backward() trains the model")
def test_ddpm_loss_has_gradient(student, rng):
    """loss.backward() reaches the model's parameters, with the gradient of the MSE."""
    abar, x0 = loss_inputs(rng, shape=(32, 2))
    arg = ModuleArg(REC, seed=3, grads=True)
    res = student.call("ddpm_loss", arg, x0, abar)
    grads = res.modules[0].get("grads") or {}
    assert all(grads.get(n) is not None for n in ("a", "b")), "no gradient reached the model's parameters"
    model = arg.build().double()
    t, x_t, noise = recovered(res.modules[0]["records"][-1], x0, abar)
    ((model(x_t.double(), t) - noise) ** 2).mean().backward()
    for n, p in model.named_parameters():
        assert_close(grads[n], p.grad, f"gradient of the loss w.r.t. the model parameter {n}", atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------------------------- p_sample_step
@points(1.5)
@hint("x_{t-1} = posterior mean(x0_hat, x_t) + sqrt(posterior variance) * noise: variance (1 - abar_{t-1}) / (1 - abar_t) beta_t, "
      "betas[t] and alphas_cumprod[t] at the 0-based step t itself")
def test_p_sample_step_matches_reverse_step(student, rng):
    """One step equals Ho et al.'s Algorithm 2 with the fixed-small variance, at t = 1, a middle step and t = T-1."""
    T = 15
    betas = random_betas(rng, T)
    for t, shape in ((1, (4, 2)), (int(torch.randint(2, T - 1, (1,), generator=rng)), (3, 1, 4, 4)), (T - 1, (3, 3))):
        eps, x_t, z = (torch.randn(*shape, generator=rng) for _ in range(3))
        got = student.p_sample_step(eps, x_t, t, betas, z)
        assert_close(got, reference_step(eps, x_t, t, betas, z), f"x_(t-1) at t={t} for shape {shape}", atol=1e-5)


@points(1)
@hint("at t = 0 return the mean (x0_hat) without adding noise, whatever noise is passed")
def test_p_sample_step_no_noise_at_last_step(student, rng):
    """At t = 0 the step returns x0_hat and ignores the noise argument."""
    betas = random_betas(rng, 8)
    eps, x_t = torch.randn(5, 2, generator=rng), torch.randn(5, 2, generator=rng)
    expected = reference_step(eps, x_t, 0, betas, None)
    for scale in (1.0, 100.0):
        z = scale * torch.randn(5, 2, generator=rng)
        assert_close(student.p_sample_step(eps, x_t, 0, betas, z), expected, f"x at t=0 with noise of scale {scale:g}", atol=1e-5)
