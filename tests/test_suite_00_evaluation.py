"""The 00_evaluation hidden suite: full marks for the solution and for correct alternatives, zero for the
untouched release, and every hidden test fails for at least one deliberately wrong implementation."""
import pytest

from mutants import suite_checks

pytestmark = pytest.mark.slow
A = "00_evaluation"

EF = "extract_features"
KNN = "knn_predict"

MUTANTS = {
    "ef_no_eval": (EF, '''
def extract_features(encoder, images, batch_size=256):
    with torch.no_grad():
        return torch.cat([encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
''', ["test_extract_features_values_in_eval_mode", "test_extract_features_keeps_batchnorm_statistics"]),
    "ef_no_restore": (EF, '''
def extract_features(encoder, images, batch_size=256):
    encoder.eval()
    with torch.no_grad():
        return torch.cat([encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
''', ["test_extract_features_restores_training_flag"]),
    "ef_always_train": (EF, '''
def extract_features(encoder, images, batch_size=256):
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    encoder.train()
    return out
''', ["test_extract_features_restores_training_flag"]),
    "ef_one_batch": (EF, '''
def extract_features(encoder, images, batch_size=256):
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = encoder(images)
    encoder.train(was)
    return out
''', ["test_extract_features_uses_batches"]),
    "ef_drops_last_batch": (EF, '''
def extract_features(encoder, images, batch_size=256):
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = [encoder(images[i:i + batch_size]) for i in range(0, len(images) - batch_size + 1, batch_size)]
    encoder.train(was)
    return torch.cat(out)
''', ["test_extract_features_uses_batches", "test_extract_features_values_in_eval_mode"]),
    "ef_with_grad": (EF, '''
def extract_features(encoder, images, batch_size=256):
    was = encoder.training
    encoder.eval()
    out = torch.cat([encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    encoder.train(was)
    return out.detach()
''', ["test_extract_features_without_gradients"]),
    "knn_dot_product": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = test_features @ train_features.T
    top, idx = sim.topk(k, dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top / temperature).exp())
    return scores.argmax(1)
''', ["test_knn_predict_uses_cosine_similarity"]),
    "knn_euclidean": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = -torch.cdist(test_features, train_features)
    top, idx = sim.topk(k, dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top / temperature).exp())
    return scores.argmax(1)
''', ["test_knn_predict_uses_cosine_similarity"]),
    "knn_majority_vote": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).T
    top, idx = sim.topk(k, dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], torch.ones_like(top))
    return scores.argmax(1)
''', ["test_knn_predict_weights_votes", "test_knn_predict_matches_definition"]),
    "knn_times_temperature": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).T
    top, idx = sim.topk(k, dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top * temperature).exp())
    return scores.argmax(1)
''', ["test_knn_predict_temperature"]),
    "knn_k_plus_one": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).T
    top, idx = sim.topk(min(k + 1, sim.shape[1]), dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top / temperature).exp())
    return scores.argmax(1)
''', ["test_knn_predict_respects_k"]),
    "knn_farthest": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).T
    top, idx = sim.topk(k, dim=1, largest=False)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top / temperature).exp())
    return scores.argmax(1)
''', ["test_knn_predict_matches_definition", "test_knn_predict_respects_k"]),
    "knn_float_output": (KNN, '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).T
    top, idx = sim.topk(k, dim=1)
    scores = torch.zeros(len(test_features), num_classes).scatter_add_(1, train_labels[idx], (top / temperature).exp())
    return scores.argmax(1).float()
''', ["test_knn_predict_output_format"]),
}

ALTERNATIVES = {
    "looped_float64": {EF: '''
def extract_features(encoder, images, batch_size=256):
    mode = encoder.training
    encoder.train(False)
    chunks = []
    for chunk in torch.split(images, batch_size):
        with torch.inference_mode():
            chunks.append(encoder(chunk).double().clone())
    encoder.train(mode)
    return torch.cat(chunks)
''', KNN: '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    preds = []
    tr = train_features.double() / train_features.double().norm(dim=1, keepdim=True)
    for q in test_features.double():
        s = tr @ (q / q.norm())
        order = torch.argsort(s, descending=True)[:k]
        votes = torch.zeros(num_classes, dtype=torch.float64)
        for j in order:
            votes[train_labels[j]] += torch.exp(s[j] / temperature)
        preds.append(int(votes.argmax()))
    return torch.tensor(preds)
'''},
    "one_hot_matmul": {KNN: '''
def knn_predict(train_features, train_labels, test_features, num_classes, k=20, temperature=0.07):
    sim = F.normalize(test_features, dim=-1) @ F.normalize(train_features, dim=-1).t()
    vals, idx = torch.topk(sim, k)
    onehot = F.one_hot(train_labels[idx], num_classes).float()          # (M, k, C)
    return (onehot * torch.exp(vals / temperature).unsqueeze(-1)).sum(1).argmax(-1)
'''},
}


globals().update(suite_checks(A, 10, MUTANTS, ALTERNATIVES))
