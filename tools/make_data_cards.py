"""Regenerate the dataset cards' checksums and the example grid: python tools/make_data_cards.py"""
from pathlib import Path
import re

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sslcourse.data import load_shapes, shapes_checksum  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"


def main():
    card = (DATA / "shapes.md").read_text()
    for split, size in [("train", 32), ("test", 32), ("train", 64)]:
        key = f"{split}-{size}px"
        card = re.sub(rf"(\| {key} \| [^|]+ \| `)[0-9a-f]+(` \|)", rf"\g<1>{shapes_checksum(split, image_size=size)}\g<2>", card)
    (DATA / "shapes.md").write_text(card)
    ds = load_shapes("train", n=40)
    fig, axes = plt.subplots(4, 10, figsize=(12, 5.6))
    for ax, img, cap in zip(axes.flat, ds.images, ds.captions):
        ax.imshow(img.permute(1, 2, 0), interpolation="nearest")
        ax.set_title(cap.replace(" in ", "\nin "), fontsize=6.5)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(DATA / "shapes_grid.png", dpi=72)


if __name__ == "__main__":
    main()
