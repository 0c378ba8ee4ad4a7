"""Hidden suite for 00_evaluation: extract_features and knn_predict (10 points).

Runs in the grader process; the student's functions run in the sandboxed worker (see autograder/suite.py).
References are computed here, from the definitions.
"""
import torch
import torch.nn.functional as F

from autograder.suite import ModuleArg, assert_close, assert_equal, hint, points, visible

ENC = "00_evaluation:encoder"


def _eval_output(arg: ModuleArg, x: torch.Tensor) -> torch.Tensor:
    model = arg.build().eval()
    with torch.no_grad():
        return model(x)


# ------------------------------------------------------------------------------ extract_features
@points(1)
@visible
@hint("call encoder.eval() before the forward passes: Dropout must be off and BatchNorm must use its running statistics")
def test_extract_features_values_in_eval_mode(student, rng):
    """Features equal the encoder's eval-mode outputs, in the order of the images, shape (N, D)."""
    arg = ModuleArg(ENC, seed=int(torch.randint(0, 1000, (1,), generator=rng)), dim=6, training=True)
    x = torch.rand(11, 3, 6, 6, generator=rng)
    got = student.extract_features(arg, x, batch_size=4)
    assert_close(got, _eval_output(arg, x), "features of 11 images (3, 6, 6) with batch_size=4", atol=1e-5)


@points(1)
@hint("remember encoder.training before switching to eval mode, and restore it with encoder.train(was_training) at the end")
def test_extract_features_restores_training_flag(student, rng):
    """The encoder's training flag is the same after the call as before, for a training and an eval encoder."""
    x = torch.rand(5, 3, 4, 4, generator=rng)
    for training in (True, False):
        res = student.call("extract_features", ModuleArg(ENC, seed=1, training=training), x, batch_size=2)
        after = res.modules[0]["training"]
        assert after == training, (f"the encoder was in {'training' if training else 'eval'} mode before the call "
                                   f"and is in {'training' if after else 'eval'} mode after it")


@points(0.5)
@hint("in training mode BatchNorm updates its running mean and variance on every forward pass: use eval mode")
def test_extract_features_keeps_batchnorm_statistics(student, rng):
    """BatchNorm running statistics are unchanged by feature extraction."""
    arg = ModuleArg(ENC, seed=2, training=True)
    x = torch.rand(9, 3, 5, 5, generator=rng) * 3
    res = student.call("extract_features", arg, x, batch_size=4)
    before = arg.build().state_dict()
    for key in ("bn.running_mean", "bn.running_var"):
        assert_close(res.modules[0]["state"][key], before[key], f"BatchNorm {key.split('.')[-1]} after the call", atol=1e-7)


@points(1)
@hint("loop over the images in slices of batch_size (the last slice may be smaller) and concatenate the results")
def test_extract_features_uses_batches(student, rng):
    """The encoder never sees more than batch_size images at once, and sees every image exactly once."""
    n, bs = 23, 5
    x = torch.rand(n, 3, 4, 4, generator=rng)
    res = student.call("extract_features", ModuleArg(ENC, seed=3, training=False), x, batch_size=bs)
    sizes = [r["batch"] for r in res.modules[0]["records"]]
    assert sizes, "the encoder was never called"
    assert max(sizes) <= bs, f"the encoder saw a batch of {max(sizes)} images with batch_size={bs}"
    assert sum(sizes) == n, f"the encoder saw {sum(sizes)} images in total for N={n}"
    assert_close(res.value, _eval_output(ModuleArg(ENC, seed=3), x), f"features (N={n}, batch_size={bs})")


@points(0.5)
@hint("wrap the forward passes in `with torch.no_grad():` so that no computation graph is built")
def test_extract_features_without_gradients(student, rng):
    """Every forward pass runs with gradient tracking disabled."""
    res = student.call("extract_features", ModuleArg(ENC, seed=4), torch.rand(6, 3, 4, 4, generator=rng), batch_size=3)
    modes = [r["grad_enabled"] for r in res.modules[0]["records"]]
    assert modes and not any(modes), "the encoder ran with gradient tracking enabled"


# ----------------------------------------------------------------------------------- knn_predict
def reference_scores(train_x, train_y, test_x, num_classes, k, temperature):
    """Class scores from the definition: cosine top-k, votes weighted by exp(s / tau). (M, C)"""
    tr = F.normalize(train_x.double(), dim=1)
    te = F.normalize(test_x.double(), dim=1)
    sims = te @ tr.T
    top, idx = sims.topk(k, dim=1)
    scores = torch.zeros(len(te), num_classes, dtype=torch.float64)
    return scores.scatter_add_(1, train_y[idx], (top / temperature).exp())


def decisive(scores: torch.Tensor, rel: float = 1e-3) -> torch.Tensor:
    """Test points whose best class wins by a clear margin (no near-ties to break)."""
    top2 = scores.topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]) > rel * top2[:, 0]


def clusters(rng, n, m, d=6, c=4, noise=0.7):
    centers = torch.randn(c, d, generator=rng)
    ytr, yte = torch.randint(0, c, (n,), generator=rng), torch.randint(0, c, (m,), generator=rng)
    xtr = centers[ytr] + noise * torch.randn(n, d, generator=rng)
    xte = centers[yte] + noise * torch.randn(m, d, generator=rng)
    return xtr, ytr, xte


def check_against_reference(student, xtr, ytr, xte, c, k, tau, what):
    ref = reference_scores(xtr, ytr, xte, c, k, tau)
    keep = decisive(ref)
    assert keep.sum() >= 5, "internal: too few decisive test points"
    got = student.knn_predict(xtr, ytr, xte, c, k=k, temperature=tau)
    assert isinstance(got, torch.Tensor) and got.numel() == len(xte), \
        f"{what}: expected {len(xte)} predictions, got {type(got).__name__} {tuple(getattr(got, 'shape', ()))}"
    assert_equal(got.reshape(-1)[keep], ref.argmax(1)[keep], what)


@points(1.5)
@hint("scores: cosine similarities of L2-normalised features, top-k, then add exp(similarity / temperature) per class")
def test_knn_predict_matches_definition(student, rng):
    """Predictions equal the weighted kNN definition on overlapping clusters (k=10, tau=0.07)."""
    xtr, ytr, xte = clusters(rng, 120, 60)
    check_against_reference(student, xtr, ytr, xte, 4, 10, 0.07, "predictions for 60 test points")


@points(1)
@hint("L2-normalise train and test features (F.normalize(x, dim=1)) so that similarity is the cosine, not the dot product")
def test_knn_predict_uses_cosine_similarity(student, rng):
    """Rescaling each feature vector by a positive factor does not change the predictions."""
    xtr, ytr, xte = clusters(rng, 100, 50)
    scale_tr = torch.rand(100, 1, generator=rng) * 20 + 0.05
    scale_te = torch.rand(50, 1, generator=rng) * 20 + 0.05
    check_against_reference(student, xtr * scale_tr, ytr, xte * scale_te, 4, 8, 0.1,
                            "predictions with rescaled features")


@points(1)
@hint("each neighbour's vote is weighted by exp(similarity / temperature), not counted once")
def test_knn_predict_weights_votes(student, rng):
    """Two very close neighbours outvote several far ones of another class (weighted, not majority)."""
    d = 5
    basis = torch.linalg.qr(torch.randn(d, d, generator=rng))[0][:, :2]  # a random plane in R^d
    ang = torch.tensor([0.0, 20.0, 60.0, 70.0, 80.0, 85.0, 180.0]) + float(torch.rand(1, generator=rng)) * 5
    pts = torch.stack([torch.cos(torch.deg2rad(ang)), torch.sin(torch.deg2rad(ang))], 1) @ basis.T
    y = torch.tensor([2, 2, 0, 0, 0, 0, 1])
    q_ang = torch.deg2rad(ang[:1] + 10)
    q = torch.stack([torch.cos(q_ang), torch.sin(q_ang)], 1) @ basis.T
    got = student.knn_predict(pts, y, q, 3, k=6, temperature=0.05)
    assert_equal(got, torch.tensor([2]), "prediction of a point between two close class-2 and four far class-0 neighbours")


@points(1)
@hint("divide the similarity by the temperature inside exp: a small tau favours the nearest neighbours, a huge tau is a plain majority")
def test_knn_predict_temperature(student, rng):
    """A small tau (0.02) lets the closest neighbours dominate; a huge tau (1e4) is the majority vote of the k."""
    xtr, ytr, xte = clusters(rng, 80, 40, noise=1.0)
    check_against_reference(student, xtr, ytr, xte, 4, 15, 0.02, "predictions with temperature=0.02")
    ref = reference_scores(xtr, ytr, xte, 4, 15, 1e4)
    keep = decisive(ref, rel=1e-2)
    got = torch.as_tensor(student.knn_predict(xtr, ytr, xte, 4, k=15, temperature=1e4))
    assert got.numel() == len(xte), f"expected {len(xte)} predictions, got shape {tuple(got.shape)}"
    assert_equal(got.reshape(-1)[keep], ref.argmax(1)[keep], "predictions with temperature=10000 (a majority vote)")


@points(1)
@hint("keep exactly the k most similar training points (torch.topk(similarity, k, dim=1)), largest first")
def test_knn_predict_respects_k(student, rng):
    """k=1 is the nearest neighbour's label; k=3 and k=N follow the definition."""
    xtr, ytr, xte = clusters(rng, 60, 30, noise=1.2)
    got = student.knn_predict(xtr, ytr, xte, 4, k=1, temperature=0.07)
    assert_equal(got, reference_scores(xtr, ytr, xte, 4, 1, 0.07).argmax(1), "predictions with k=1")
    for k in (3, 60):
        check_against_reference(student, xtr, ytr, xte, 4, k, 0.5, f"predictions with k={k}")


@points(0.5)
@visible
@hint("return the argmax over classes: an integer tensor of shape (M,)")
def test_knn_predict_output_format(student, rng):
    """The output is an integer tensor of shape (M,) with values in [0, num_classes)."""
    xtr, ytr, xte = clusters(rng, 30, 7)
    got = student.knn_predict(xtr, ytr, xte, 4)
    assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
    assert tuple(got.shape) == (7,), f"expected shape (7,), got {tuple(got.shape)}"
    assert not got.dtype.is_floating_point, f"expected integer class indices, got dtype {got.dtype}"
    assert ((got >= 0) & (got < 4)).all(), "predictions outside [0, num_classes)"
