"""A tiny word-level tokenizer for the course's text (captions, templated sentences).

Given code, nothing graded. Real models use sub-word tokenizers (WordPiece for BERT, BPE for GPT and
CLIP) over huge vocabularies; our corpora have a few dozen words, so one id per word is enough and
every id stays readable.

    >>> vocab = Vocab.build(["a small red star in the top left", "a large blue circle in the center"])
    >>> ids, special = vocab.encode_batch(["a red star"], max_len=6)
    >>> ids            # [CLS] a red star [SEP] [PAD]
    tensor([[1, 5, 7, 8, 2, 0]])
    >>> vocab.decode(ids[0])
    '[CLS] a red star [SEP] [PAD]'
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

import torch

SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")  # ids 0, 1, 2, 3, 4


def tokenize(text: str) -> list[str]:
    """Lower-case words and single punctuation marks: 'A star, red.' -> ['a', 'star', ',', 'red', '.']."""
    return re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())


class Vocab:
    """Word <-> id mapping; the special tokens come first, then the words in order of first appearance."""

    def __init__(self, words: Iterable[str]):
        self.itos = list(SPECIAL_TOKENS) + [w for w in dict.fromkeys(words) if w not in SPECIAL_TOKENS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.cls_id, self.sep_id, self.mask_id, self.unk_id = range(len(SPECIAL_TOKENS))

    @classmethod
    def build(cls, sentences: Iterable[str], *, min_count: int = 1) -> "Vocab":
        """The vocabulary of ``sentences``: every word seen at least ``min_count`` times."""
        counts = Counter(w for s in sentences for w in tokenize(s))
        return cls(w for w, c in counts.items() if c >= min_count)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos[:12])}{' ...' if len(self) > 12 else ''})"

    def encode(self, sentence: str) -> list[int]:
        """Ids of the words of ``sentence`` (unknown words -> [UNK]), without special tokens."""
        return [self.stoi.get(w, self.unk_id) for w in tokenize(sentence)]

    def encode_batch(self, sentences: list[str], max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``[CLS] words [SEP] [PAD] ...`` for each sentence, truncated to ``max_len`` tokens.

        Returns ``input_ids`` (N, T) int64 and ``special_tokens_mask`` (N, T) bool (True at [CLS], [SEP],
        [PAD]: the positions a masked language model must never select).
        """
        rows = [[self.cls_id] + self.encode(s) + [self.sep_id] for s in sentences]
        max_len = max_len or max(len(r) for r in rows)
        ids = torch.full((len(rows), max_len), self.pad_id, dtype=torch.long)       # (N, T)
        for i, row in enumerate(rows):
            row = row[:max_len - 1] + [self.sep_id] if len(row) > max_len else row
            ids[i, :len(row)] = torch.tensor(row)
        return ids, self.special_tokens_mask(ids)

    def special_tokens_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """True where ``ids`` is [PAD], [CLS] or [SEP] (same shape as ``ids``)."""
        return (ids == self.pad_id) | (ids == self.cls_id) | (ids == self.sep_id)

    def decode(self, ids, *, skip_special: bool = False) -> str:
        """Words of a 1-D sequence of ids (``skip_special`` drops [PAD], [CLS], [SEP])."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        drop = {self.pad_id, self.cls_id, self.sep_id} if skip_special else set()
        return " ".join(self.itos[i] if 0 <= i < len(self) else "[?]" for i in ids if i not in drop)
