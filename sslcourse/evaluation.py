"""Frozen-feature evaluation (given code): linear probe and a plain kNN classifier.

The graded functions of ``00_evaluation`` (``extract_features``, the weighted ``knn_predict``) are written
by the student in that notebook; the later notebooks use these given helpers instead.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def embed(encoder: nn.Module, images: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """Features (N, D) of a frozen *copy* of ``encoder`` in eval mode; the encoder itself is untouched.

    Images (N, C, H, W) go through in the ``channels_last`` layout: the same numbers, about 1.7 times
    faster for convolutions on a CPU."""
    frozen = copy.deepcopy(encoder).eval()
    device = next(frozen.parameters()).device
    layout = torch.channels_last if images.ndim == 4 else torch.contiguous_format
    frozen = frozen.to(memory_format=layout)
    with torch.inference_mode():
        feats = [frozen(images[i:i + batch_size].to(device).contiguous(memory_format=layout)).float().cpu()
                 for i in range(0, len(images), batch_size)]
    return torch.cat(feats).flatten(1)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, *,
                 weight_decay: float = 1e-4, max_iter: int = 100) -> float:
    """Test accuracy of a multinomial logistic regression trained on frozen, standardised features.

    Full-batch L-BFGS on (N, D) features: a convex problem, so the number is a property of the
    features, not of a training recipe.
    """
    train_x, test_x = train_x.flatten(1).float(), test_x.flatten(1).float()
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    clf = nn.Linear(train_x.shape[1], num_classes)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(clf(train_x), train_y) + weight_decay * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (clf(test_x).argmax(1) == test_y).float().mean().item()


def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, *,
                 k: int = 20, chunk: int = 1024) -> float:
    """Accuracy of a majority-vote kNN on cosine similarity: each test point takes the most frequent label
    of its ``k`` most similar training points (a tie goes to the smaller label, as in scikit-learn's
    ``KNeighborsClassifier(metric="cosine")``, which the course's tests use as the oracle)."""
    train_x = nn.functional.normalize(train_x.flatten(1).float(), dim=1)              # (N, D)
    test_x = nn.functional.normalize(test_x.flatten(1).float(), dim=1)                # (M, D)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    correct = 0
    for i in range(0, len(test_x), chunk):
        top = (test_x[i:i + chunk] @ train_x.T).topk(k, dim=1).indices                # (m, k)
        votes = nn.functional.one_hot(train_y[top], num_classes).sum(1)               # (m, C)
        correct += (votes.argmax(1) == test_y[i:i + chunk]).sum().item()              # first max: smaller label
    return correct / len(test_x)


def evaluate(encoder: nn.Module | None, train, test, *, k: int = 20) -> dict:
    """Linear-probe and kNN accuracy of ``encoder``'s frozen features (``None``: raw pixels)."""
    if encoder is None:
        tr, te = train.images.flatten(1), test.images.flatten(1)
    else:
        tr, te = embed(encoder, train.images), embed(encoder, test.images)
    return {"linear": linear_probe(tr, train.labels, te, test.labels),
            "knn": knn_accuracy(tr, train.labels, te, test.labels, k=k)}
