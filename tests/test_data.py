"""The embedded datasets: deterministic, balanced, well-formed, and matching their dataset cards."""
import re

import numpy as np
import pytest
import torch

from sslcourse import shapes
from sslcourse.data import load_digits, load_shapes, shapes_checksum


def test_render_is_deterministic_and_prefix_stable():
    a = shapes.render_shapes(1200, seed=3)
    b = shapes.render_shapes(1200, seed=3)
    c = shapes.render_shapes(300, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key][:300], c[key])
    assert not np.array_equal(a["images"], shapes.render_shapes(1200, seed=4)["images"])


def test_train_and_test_splits_differ():
    tr, te = load_shapes("train", n=200), load_shapes("test", n=200)
    assert not torch.equal(tr.images, te.images)


def test_shapes_dataset_format():
    ds = load_shapes("test", n=1000)
    assert ds.images.shape == (1000, 3, 32, 32) and ds.images.dtype == torch.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert ds.labels.dtype == torch.int64 and len(ds.classes) == 10
    assert set(ds.attributes) == {"colour", "size", "row", "col", "angle", "center"}
    assert ds.attributes["angle"].abs().max() <= shapes.MAX_ROTATION_DEG
    img, label = ds[5]
    assert img.shape == (3, 32, 32) and int(label) == int(ds.labels[5])


def test_classes_are_balanced():
    ds = load_shapes("train", n=2000)
    assert torch.bincount(ds.labels, minlength=10).tolist() == [200] * 10


def test_nuisances_vary_independently_of_class():
    ds = load_shapes("train", n=2000)
    for attr, k in [("colour", 8), ("size", 3), ("row", 3), ("col", 3)]:
        counts = torch.bincount(ds.attributes[attr], minlength=k)
        assert counts.min() > 0.5 * counts.float().mean(), f"{attr} is unbalanced: {counts.tolist()}"


def test_captions_follow_the_attributes():
    ds = load_shapes("train", n=50)
    for i in range(50):
        cap = ds.captions[i]
        assert re.fullmatch(r"a (small|medium|large) \w+ \w+ in the (center|(top|middle|bottom) (left|center|right))", cap), cap
        assert ds.classes[ds.labels[i]] in cap.split()
        assert list(shapes.COLOURS)[ds.attributes["colour"][i]] in cap.split()
    assert shapes.caption(7, 0, 0, 0, 0) == "a small red arrow in the top left"


def test_shapes_are_visible_against_the_background():
    """The shape must change the image: pixels inside differ from a shape-free background."""
    a = shapes.render_shapes(100, seed=0)
    imgs = a["images"].astype(float)
    spread = imgs.reshape(100, 3, -1).std(axis=2).mean(axis=1)
    assert (spread > 8).all(), "some images look blank"


def test_large_images_for_relative_position():
    ds = load_shapes("train", n=20, image_size=64)
    assert ds.images.shape == (20, 3, 64, 64)


@pytest.mark.parametrize("split,size", [("train", 32), ("test", 32)])
def test_checksums_match_the_dataset_card(root, split, size):
    card = (root / "data" / "shapes.md").read_text()
    expected = re.search(rf"\| {split}-{size}px \| \d+ \| `([0-9a-f]+)` \|", card).group(1)
    assert shapes_checksum(split, image_size=size) == expected, "shapes changed: update data/shapes.md (tools/make_data_cards.py)"


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLCOURSE_CACHE", str(tmp_path))
    a = load_shapes("test", n=100)
    assert list(tmp_path.glob("*.npz")), "the cache file was not written"
    b = load_shapes("test", n=100)
    assert torch.equal(a.images, b.images)


def test_digits():
    tr, te = load_digits("train"), load_digits("test")
    assert tr.images.shape[1:] == (1, 8, 8) and len(tr) + len(te) == 1797
    assert tr.images.min() >= 0 and tr.images.max() <= 1


def test_cifar_loader_never_downloads(tmp_path):
    from sslcourse.data import load_cifar10
    with pytest.raises(RuntimeError, match="not found|download"):
        load_cifar10(tmp_path)
