"""Unit tests of the helper library."""
import base64
import time

import pytest
import torch
from torch import nn

import sslcourse
from sslcourse import utils
from sslcourse.evaluation import embed, evaluate, knn_accuracy, linear_probe
from sslcourse.models import SmallCNN, TinyViT, count_parameters, mlp
from sslcourse.train import random_batches, train


def test_small_cnn_size_and_shapes():
    model = SmallCNN()
    assert 200_000 < count_parameters(model) < 300_000
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 128)
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 128)
    assert SmallCNN(in_channels=1)(torch.rand(2, 1, 8, 8)).shape == (2, 128)


def test_tiny_vit_tokens_and_features():
    vit = TinyViT()
    tokens = vit.embed(torch.rand(2, 3, 32, 32))
    assert tokens.shape == (2, 64, 128)
    assert vit.encode(tokens[:, :16]).shape == (2, 16, 128)  # any subset of tokens (MAE)
    assert vit(torch.rand(2, 3, 32, 32)).shape == (2, 128)


def test_mlp_head():
    assert mlp(8, 16, 4)(torch.rand(5, 8)).shape == (5, 4)


def test_budget_scaling(monkeypatch):
    monkeypatch.delenv("SSLCOURSE_QUICK", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("SSLCOURSE_BUDGET_SCALE", raising=False)
    assert sslcourse.budget(60) == 60 and sslcourse.quick_or(10, 1) == 10
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert sslcourse.is_quick() and sslcourse.budget(60) < 1 and sslcourse.quick_or(10, 1) == 1
    monkeypatch.setenv("SSLCOURSE_BUDGET_SCALE", "2")
    assert sslcourse.budget(60) == 120


def test_device_choice(monkeypatch):
    monkeypatch.setenv("SSLCOURSE_DEVICE", "cpu")
    assert utils.get_device() == torch.device("cpu")
    monkeypatch.delenv("SSLCOURSE_DEVICE")
    assert utils.get_device().type in {"cpu", "cuda", "mps"}


def test_seeding_is_reproducible():
    g = sslcourse.seed_everything(5)
    a, b = torch.rand(3), torch.rand(3, generator=g)
    g = sslcourse.seed_everything(5)
    assert torch.equal(a, torch.rand(3)) and torch.equal(b, torch.rand(3, generator=g))


def test_train_loop_respects_budget_and_steps():
    calls = []
    hist = train(lambda i: calls.append(i) or 1.0 / (i + 1), seconds=10, max_steps=7, progress=False)
    assert calls == list(range(7)) and hist["steps"] == 7 and len(hist["loss"]) == 7
    start = time.perf_counter()
    hist = train(lambda i: time.sleep(0.01) or 0.0, seconds=0.3, progress=False)
    assert 0.25 < time.perf_counter() - start < 1.5 and hist["steps"] >= 5
    hist = train(lambda i: {"loss": 1.0, "acc": 0.5}, seconds=0, progress=False)
    assert hist["steps"] == 1 and hist["acc"] == [0.5]  # always at least min_steps


def test_train_probe_points_only_when_asked(monkeypatch, tmp_path):
    """Accuracy-vs-time points: none by default; with SSLCOURSE_CURVE at the listed training times and at
    the end, with the clock paused while probing, saved under SSLCOURSE_RESULTS."""
    probes = []

    def probe():
        probes.append(1)
        time.sleep(0.15)  # a slow probe must not eat the training budget
        return {"linear": 0.5}

    monkeypatch.delenv("SSLCOURSE_CURVE", raising=False)
    train(lambda i: time.sleep(0.01) or 0.0, seconds=0.1, progress=False, probe=probe)
    assert probes == []
    monkeypatch.setenv("SSLCOURSE_CURVE", "0.05, 0.1")
    monkeypatch.setenv("SSLCOURSE_RESULTS", str(tmp_path))
    hist = train(lambda i: time.sleep(0.01) or 0.0, seconds=0.3, progress=False, probe=probe, desc="SimCLR run")
    assert [p["seconds"] >= m for p, m in zip(hist["curve"], (0.05, 0.1))] == [True, True]
    assert len(hist["curve"]) == 3 and hist["curve"][-1]["linear"] == 0.5
    assert 0.25 < hist["seconds"] < 0.45, "probing time must not count as training time"
    assert hist["steps"] >= 15
    import json
    assert json.loads((tmp_path / "curve-simclr-run.json").read_text())["curve"] == hist["curve"]


def test_train_replays_the_steps_of_an_earlier_run(monkeypatch, tmp_path):
    """SSLCOURSE_STEPS: a listed run does exactly the earlier run's steps whatever the clock says, curve
    marks fall at the steps the earlier run had reached at those times, and ``elapsed`` follows them."""
    import json
    from sslcourse.train import elapsed
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps({"SimCLR": {"steps": 40, "seconds": 20.0}}))  # 2 steps per second
    monkeypatch.setenv("SSLCOURSE_STEPS", str(steps))
    monkeypatch.setenv("SSLCOURSE_CURVE", "5,10")
    clocks = []
    hist = train(lambda i: clocks.append(elapsed()) or 0.0, seconds=20, progress=False, desc="SimCLR",
                 probe=lambda: {"linear": 0.5})
    assert hist["steps"] == 40, "a replayed run does the earlier steps, however long they take"
    assert [(p["steps"], p["seconds"]) for p in hist["curve"]] == [(10, 5.0), (20, 10.0), (40, 20.0)]
    assert clocks[0] == 0 and clocks[-1] == pytest.approx(19.5)
    assert train(lambda i: 0.0, seconds=5, progress=False, desc="SimCLR")["steps"] == 10, "a shrunk budget shrinks"
    assert train(lambda i: 0.0, seconds=20, max_steps=3, progress=False, desc="SimCLR")["steps"] == 3
    hist = train(lambda i: time.sleep(0.01) or 0.0, seconds=0.1, progress=False, desc="not listed")
    assert 5 <= hist["steps"] < 15, "a run not listed keeps its time budget"
    before = torch.get_num_threads()
    monkeypatch.setenv("SSLCOURSE_THREADS", "1")
    assert sslcourse.set_threads() == 1 and torch.get_num_threads() == 1
    torch.set_num_threads(before)


def test_seed_from_the_environment(monkeypatch):
    from sslcourse.utils import seed_everything
    monkeypatch.setenv("SSLCOURSE_SEED", "3")
    a = torch.randn(3, generator=seed_everything(0))
    monkeypatch.delenv("SSLCOURSE_SEED")
    assert torch.equal(a, torch.randn(3, generator=seed_everything(3)))
    assert not torch.equal(a, torch.randn(3, generator=seed_everything(0)))


def test_random_batches_cover_every_index():
    it = random_batches(10, 5, generator=torch.Generator().manual_seed(0))
    assert sorted(torch.cat([next(it), next(it)]).tolist()) == list(range(10))


def _blobs(n, d=16, seed=0, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, d, generator=torch.Generator().manual_seed(99)) * 2
    y = torch.arange(n) % 4
    return centers[y] + noise * torch.randn(n, d, generator=g), y


def test_linear_probe_and_knn_on_separable_data():
    xtr, ytr = _blobs(400)
    xte, yte = _blobs(200, seed=1)
    assert linear_probe(xtr, ytr, xte, yte) > 0.95
    assert knn_accuracy(xtr, ytr, xte, yte) > 0.95
    assert linear_probe(xtr, ytr[torch.randperm(400)], xte, yte) < 0.5  # shuffled labels: near chance


def test_knn_accuracy_matches_scikit_learn():
    """The reference kNN (torch, chunked) gives scikit-learn's answer, ties included (even k, few classes)."""
    from sklearn.neighbors import KNeighborsClassifier
    xtr, ytr = _blobs(600, noise=6.0)
    xte, yte = _blobs(300, seed=1, noise=6.0)
    for k in (1, 4, 20):
        ref = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(xtr.numpy(), ytr.numpy())
        expected = float((ref.predict(xte.numpy()) == yte.numpy()).mean())
        assert 0.3 < expected < 0.95  # overlapping classes: the vote matters
        assert knn_accuracy(xtr, ytr, xte, yte, k=k, chunk=128) == pytest.approx(expected, abs=1 / 300 + 1e-9)


def test_embed_gives_the_encoders_own_output():
    encoder = SmallCNN().eval()
    images = torch.rand(70, 3, 32, 32)
    with torch.no_grad():
        expected = encoder(images)
    torch.testing.assert_close(embed(encoder, images, batch_size=32), expected, atol=1e-5, rtol=1e-4)


def test_embed_leaves_the_encoder_untouched():
    enc = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    feats = embed(enc, torch.randn(10, 4), batch_size=3)
    assert feats.shape == (10, 4) and enc.training and not feats.requires_grad
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())


def test_evaluate_raw_pixels_and_encoder():
    from sslcourse.data import load_shapes
    tr, te = load_shapes("train", n=300), load_shapes("test", n=100)
    res = evaluate(None, tr, te)
    assert set(res) == {"linear", "knn"} and 0 <= res["linear"] <= 1
    assert set(evaluate(SmallCNN(), tr, te)) == {"linear", "knn"}


def test_widget_has_a_static_fallback():
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from sslcourse.widgets import interactive_plot

    seen = []

    def draw(a=1):
        seen.append(a)
        plt.plot([0, a])

    w = interactive_plot(draw, a=W.IntSlider(3, 0, 10))
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert 3 in seen  # the static view uses the slider's initial value


def test_checks_explain_what_is_wrong():
    from sslcourse.checks import expect_close, expect_shape
    with pytest.raises(AssertionError, match=r"expected shape \(2, 3\), got \(3, 2\)"):
        expect_shape(torch.zeros(3, 2), (2, 3), "x")
    with pytest.raises(AssertionError, match="hint: divide"):
        expect_close(torch.ones(2), torch.zeros(2), "loss", hint="divide by tau")
    with pytest.raises(AssertionError, match="NaN"):
        expect_close(torch.tensor([float("nan")]), torch.zeros(1), "loss")
