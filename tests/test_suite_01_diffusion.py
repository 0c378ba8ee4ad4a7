"""The 01_diffusion hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from autograder.testing import RELEASE

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "01_diffusion"

LIN, COS, QS = "linear_beta_schedule", "cosine_beta_schedule", "q_sample"
POST, X0, LOSS, STEP = "q_posterior_mean_variance", "predict_x0_from_eps", "ddpm_loss", "p_sample_step"

# A correct p_sample_step written without the student's other functions: mutants of the posterior and of
# predict_x0_from_eps must not make it fail (p_sample_step's tests should blame p_sample_step only).
STEP_STANDALONE = '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    mean = (x_t - betas[t] / (1 - abar[t]).sqrt() * eps_pred) / (1 - betas[t]).sqrt()
    if t == 0:
        return mean
    return mean + ((1 - abar[t - 1]) / (1 - abar[t]) * betas[t]).sqrt() * noise
'''

# Likewise a ddpm_loss that does not call q_sample, for the q_sample mutants.
LOSS_STANDALONE = '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    noise = torch.randn_like(x0)
    a = alphas_cumprod[t].view(-1, *([1] * (x0.ndim - 1)))
    return F.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t), noise)
'''

MUTANTS = {
    # ----------------------------------------------------------------------------- schedules
    "lin_drops_end": (LIN, '''
def linear_beta_schedule(num_timesteps, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, num_timesteps + 1)[:-1]
''', ["test_linear_schedule_matches_linspace"]),
    "cos_off_by_one": (COS, '''
def cosine_beta_schedule(num_timesteps, s=0.008, max_beta=0.999):
    u = torch.arange(num_timesteps, dtype=torch.float64) / (num_timesteps - 1)
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = 1 - f[1:] / f[:-1]
    return torch.cat([betas[:1], betas]).clamp(max=max_beta).float()
''', ["test_cosine_schedule_matches_definition"]),
    "cos_no_clip": (COS, '''
def cosine_beta_schedule(num_timesteps, s=0.008, max_beta=0.999):
    u = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).float()
''', ["test_cosine_schedule_clips_at_max_beta"]),
    "cos_fixed_clip": (COS, '''
def cosine_beta_schedule(num_timesteps, s=0.008, max_beta=0.999):
    u = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=0.999).float()
''', ["test_cosine_schedule_clips_at_max_beta"]),
    # ------------------------------------------------------------------------------ q_sample
    "qs_alpha_not_alpha_bar": (QS, '''
def q_sample(x0, t, noise, alphas_cumprod):
    alphas = torch.cat([alphas_cumprod[:1], alphas_cumprod[1:] / alphas_cumprod[:-1]])
    a = alphas[t].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
''', ["test_q_sample_closed_form"]),
    "qs_no_sqrt_noise": (QS, '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a) * noise
''', ["test_q_sample_closed_form", "test_q_sample_broadcasts_over_batch"]),
    "qs_broadcast_last_axis": (QS, '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t]
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
''', ["test_q_sample_broadcasts_over_batch", "test_q_sample_closed_form"]),
    "qs_one_based": (QS, '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t - 1].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
''', ["test_q_sample_zero_based_steps"]),
    # ------------------------------------------------------------------- q_posterior_mean_variance
    "post_fixed_large_variance": (POST, '''
def q_posterior_mean_variance(x0, x_t, t, betas):
    abar = torch.cumprod(1 - betas, 0)
    prev = torch.cat([abar.new_ones(1), abar[:-1]])
    v = lambda a: a[t].view(-1, *([1] * (x0.ndim - 1)))
    mean = v(prev).sqrt() * v(betas) / (1 - v(abar)) * x0 + (1 - v(betas)).sqrt() * (1 - v(prev)) / (1 - v(abar)) * x_t
    return mean, v(betas).expand_as(x0)
''', ["test_posterior_matches_bayes_rule"]),
    "post_prev_wraps_around": (POST, '''
def q_posterior_mean_variance(x0, x_t, t, betas):
    abar = torch.cumprod(1 - betas, 0)
    prev = abar[t - 1].view(-1, *([1] * (x0.ndim - 1)))
    v = lambda a: a[t].view(-1, *([1] * (x0.ndim - 1)))
    mean = prev.sqrt() * v(betas) / (1 - v(abar)) * x0 + (1 - v(betas)).sqrt() * (1 - prev) / (1 - v(abar)) * x_t
    return mean, ((1 - prev) / (1 - v(abar)) * v(betas)).expand_as(x0)
''', ["test_posterior_at_first_step"]),
    "post_variance_not_expanded": (POST, '''
def q_posterior_mean_variance(x0, x_t, t, betas):
    abar = torch.cumprod(1 - betas, 0)
    prev = torch.cat([abar.new_ones(1), abar[:-1]])
    v = lambda a: a[t].view(-1, *([1] * (x0.ndim - 1)))
    mean = v(prev).sqrt() * v(betas) / (1 - v(abar)) * x0 + (1 - v(betas)).sqrt() * (1 - v(prev)) / (1 - v(abar)) * x_t
    return mean, (1 - v(prev)) / (1 - v(abar)) * v(betas)
''', ["test_posterior_variance_shaped_like_x0"]),
    "post_swapped_coefficients": (POST, '''
def q_posterior_mean_variance(x0, x_t, t, betas):
    abar = torch.cumprod(1 - betas, 0)
    prev = torch.cat([abar.new_ones(1), abar[:-1]])
    v = lambda a: a[t].view(-1, *([1] * (x0.ndim - 1)))
    mean = v(prev).sqrt() * v(betas) / (1 - v(abar)) * x_t + (1 - v(betas)).sqrt() * (1 - v(prev)) / (1 - v(abar)) * x0
    return mean, ((1 - v(prev)) / (1 - v(abar)) * v(betas)).expand_as(x0)
''', ["test_posterior_matches_bayes_rule"]),
    # ---------------------------------------------------------------------------- predict_x0_from_eps
    "x0_no_sqrt": (X0, '''
def predict_x0_from_eps(x_t, t, eps, alphas_cumprod):
    a = alphas_cumprod[t].view(-1, *([1] * (x_t.ndim - 1)))
    return (x_t - (1 - a) * eps) / a.sqrt()
''', ["test_predict_x0_inverts_q_sample"]),
    "x0_broadcast_last_axis": (X0, '''
def predict_x0_from_eps(x_t, t, eps, alphas_cumprod):
    a = alphas_cumprod[t]
    return (x_t - (1 - a).sqrt() * eps) / a.sqrt()
''', ["test_predict_x0_inverts_q_sample"]),
    # ---------------------------------------------------------------------------------- ddpm_loss
    "loss_target_x0": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    noise = torch.randn_like(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), x0)
''', ["test_ddpm_loss_is_mse_to_the_noise", "test_ddpm_loss_has_gradient"]),
    "loss_two_noise_draws": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    x_t = q_sample(x0, t, torch.randn_like(x0), alphas_cumprod)
    return F.mse_loss(model(x_t, t), torch.randn_like(x0))
''', ["test_ddpm_loss_is_mse_to_the_noise"]),
    "loss_sum": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    noise = torch.randn_like(x0)
    return ((model(q_sample(x0, t, noise, alphas_cumprod), t) - noise) ** 2).sum()
''', ["test_ddpm_loss_is_mse_to_the_noise", "test_ddpm_loss_has_gradient"]),
    "loss_misses_last_step": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod) - 1, (x0.shape[0],))
    noise = torch.randn_like(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_steps_uniform"]),
    "loss_low_steps_favoured": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    T = len(alphas_cumprod)
    t = (torch.rand(x0.shape[0]) ** 2 * T).long()
    noise = torch.randn_like(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_steps_uniform"]),
    "loss_reseeds": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],), generator=g)
    noise = torch.randn_like(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_steps_uniform"]),
    "loss_one_step_per_batch": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (1,)).expand(x0.shape[0])
    noise = torch.randn_like(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_one_step_per_example"]),
    "loss_uniform_noise": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    noise = torch.rand_like(x0) * 2 - 1
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_noise_standard_normal"]),
    "loss_detached": (LOSS, '''
def ddpm_loss(model, x0, alphas_cumprod):
    t = torch.randint(0, len(alphas_cumprod), (x0.shape[0],))
    noise = torch.randn_like(x0)
    with torch.no_grad():
        return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)
''', ["test_ddpm_loss_has_gradient"]),
    # ------------------------------------------------------------------------------ p_sample_step
    "step_fixed_large_variance": (STEP, '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    mean = (x_t - betas[t] / (1 - abar[t]).sqrt() * eps_pred) / (1 - betas[t]).sqrt()
    return mean if t == 0 else mean + betas[t].sqrt() * noise
''', ["test_p_sample_step_matches_reverse_step"]),
    "step_one_based": (STEP, '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    s = t - 1
    mean = (x_t - betas[s] / (1 - abar[s]).sqrt() * eps_pred) / (1 - betas[s]).sqrt()
    if t == 0:
        return mean
    return mean + ((1 - abar[s - 1]) / (1 - abar[s]) * betas[s]).sqrt() * noise
''', ["test_p_sample_step_matches_reverse_step", "test_p_sample_step_no_noise_at_last_step"]),
    "step_alpha_not_alpha_bar": (STEP, '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    mean = (x_t - betas[t] / betas[t].sqrt() * eps_pred) / (1 - betas[t]).sqrt()
    if t == 0:
        return mean
    return mean + ((1 - abar[t - 1]) / (1 - abar[t]) * betas[t]).sqrt() * noise
''', ["test_p_sample_step_matches_reverse_step"]),
    "step_noise_at_t0": (STEP, '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    abar = torch.cumprod(1 - betas, 0)
    mean = (x_t - betas[t] / (1 - abar[t]).sqrt() * eps_pred) / (1 - betas[t]).sqrt()
    var = (1 - torch.cat([abar.new_ones(1), abar[:-1]])) / (1 - abar) * betas
    var = torch.cat([var[1:2], var[1:]])  # DDPM's clipped log-variance, without the mask at t = 0
    return mean + var[t].sqrt() * noise
''', ["test_p_sample_step_no_noise_at_last_step"]),
}

ALTERNATIVES = {
    "looped_float64": {LIN: '''
def linear_beta_schedule(num_timesteps, beta_start=1e-4, beta_end=0.02):
    step = (beta_end - beta_start) / (num_timesteps - 1)
    return torch.tensor([beta_start + i * step for i in range(num_timesteps)], dtype=torch.float64)
''', COS: '''
def cosine_beta_schedule(num_timesteps, s=0.008, max_beta=0.999):
    alpha_bar = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = []
    for i in range(num_timesteps):
        t1, t2 = i / num_timesteps, (i + 1) / num_timesteps
        betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta))
    return torch.tensor(betas, dtype=torch.float64)
''', QS: '''
def q_sample(x0, t, noise, alphas_cumprod):
    out = torch.empty_like(x0, dtype=torch.float64)
    for i in range(x0.shape[0]):
        a = float(alphas_cumprod[t[i]])
        out[i] = math.sqrt(a) * x0[i].double() + math.sqrt(1 - a) * noise[i].double()
    return out
''', POST: '''
def q_posterior_mean_variance(x0, x_t, t, betas):
    betas = betas.double()
    mean, var = torch.empty_like(x0, dtype=torch.float64), torch.empty_like(x0, dtype=torch.float64)
    for i in range(x0.shape[0]):
        k = int(t[i])
        abar = float(torch.prod(1 - betas[:k + 1]))
        prev = float(torch.prod(1 - betas[:k]))  # empty product = 1 at k = 0
        b = float(betas[k])
        mean[i] = math.sqrt(prev) * b / (1 - abar) * x0[i].double() + math.sqrt(1 - b) * (1 - prev) / (1 - abar) * x_t[i].double()
        var[i] = (1 - prev) / (1 - abar) * b
    return mean, var
''', X0: '''
def predict_x0_from_eps(x_t, t, eps, alphas_cumprod):
    out = torch.empty_like(x_t, dtype=torch.float64)
    for i in range(x_t.shape[0]):
        a = float(alphas_cumprod[t[i]])
        out[i] = (x_t[i].double() - math.sqrt(1 - a) * eps[i].double()) / math.sqrt(a)
    return out
''', STEP: STEP_STANDALONE},
    "draw_order_and_gather": {QS: '''
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod.gather(0, t).reshape(x0.shape[0], *([1] * (x0.ndim - 1)))
    return torch.sqrt(a) * x0 + torch.sqrt(1.0 - a) * noise
''', LOSS: '''
def ddpm_loss(model, x0, alphas_cumprod):
    noise = torch.randn(x0.shape, dtype=x0.dtype, device=x0.device)  # noise first, then the steps
    t = torch.randint(len(alphas_cumprod), size=(len(x0),), device=x0.device, dtype=torch.long)
    pred = model(q_sample(x0, t, noise, alphas_cumprod), t)
    return ((noise - pred) ** 2).mean()
''', STEP: '''
def p_sample_step(eps_pred, x_t, t, betas, noise):
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=abar.dtype), abar[:-1]])
    mean = (x_t - betas[t] / torch.sqrt(1 - abar[t]) * eps_pred) / torch.sqrt(alphas[t])
    sigma = torch.sqrt(betas[t] * (1 - abar_prev[t]) / (1 - abar[t]))
    return mean + (t > 0) * sigma * noise
'''},
}


def variants():
    out = {"solution": {}, "release": RELEASE, **ALTERNATIVES}
    for label, (fn, src, _) in MUTANTS.items():
        out[label] = {fn: src}
        if fn in (POST, X0):  # the solution's p_sample_step reuses these: test each function on its own
            out[label][STEP] = STEP_STANDALONE
        if fn == QS:  # likewise the solution's ddpm_loss reuses q_sample
            out[label][LOSS] = LOSS_STANDALONE
    return out


globals().update(suite_checks(A, 17, MUTANTS, ALTERNATIVES, variants=variants, seed=4321))


@pytest.mark.parametrize("label", sorted(MUTANTS))
def test_mutant_fails_only_its_function(graded, label):
    """A bug in one function costs only the points of that function's tests (no cascade)."""
    fn = MUTANTS[label][0]
    prefix = {LIN: "test_linear", COS: "test_cosine", QS: "test_q_sample", POST: "test_posterior",
              X0: "test_predict_x0", LOSS: "test_ddpm_loss", STEP: "test_p_sample_step"}[fn]
    lost = [t for t, s in graded[label]["scores"].items() if s == 0]
    assert all(t.startswith(prefix) for t in lost), f"{label} also fails {[t for t in lost if not t.startswith(prefix)]}"
