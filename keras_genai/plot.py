"""Matplotlib figures: image grids and training curves."""

import math

import numpy as np


def grid(images, columns=None, padding=2):
    """Tiles images (n, H, W, C) uint8 into one (rows*H, columns*W, C) uint8 array."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (n, H, W, C), got {images.dtype} {images.shape}")
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8
    )
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        out[top : top + height, left : left + width] = image
    return out


def figure_grid(images, columns=None, title=None, scale=0.25):
    """A matplotlib Figure showing the grid of uint8 images (n, H, W, C)."""
    import matplotlib.pyplot as plt

    tiled = grid(images, columns)
    fig = plt.figure(figsize=(max(2.0, tiled.shape[1] * scale / 8), max(2.0, tiled.shape[0] * scale / 8)))
    ax = fig.add_axes([0, 0, 1, 0.92 if title else 1])
    ax.imshow(tiled.squeeze(-1) if tiled.shape[-1] == 1 else tiled, cmap="gray", vmin=0, vmax=255)
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def save_grid(images, path, columns=None, title=None):
    """Saves uint8 images (n, H, W, C) as one PNG grid at ``path``."""
    import matplotlib.pyplot as plt

    fig = figure_grid(images, columns=columns, title=title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
