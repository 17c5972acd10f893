"""Matplotlib figures: image grids, training curves, and VAE figures (reconstructions, latent
interpolation, the decoded 2-d manifold, latent scatter)."""

import math
import os

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
    """Saves uint8 images (n, H, W, C) as one PNG grid at ``path`` (written atomically: a
    failure leaves the old file, never a part of one)."""
    import matplotlib.pyplot as plt

    fig = figure_grid(images, columns=columns, title=title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def image_format(path):
    """The image format matplotlib writes for ``path``'s extension (no extension: PNG and the
    path gets ``.png``, as ``savefig`` does): ``(path, format)``. Refuses (ValueError) an
    extension matplotlib cannot write, so callers can check a path before any work."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = os.fspath(path)
    extension = os.path.splitext(path)[1][1:].lower()
    if not extension:
        return path.rstrip(".") + ".png", "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if extension not in supported:
        raise ValueError(f"cannot write images as .{extension} ({path}); use one of "
                         + ", ".join(f".{e}" for e in sorted(supported)))
    return path, extension


def save_figure(fig, path, dpi=100):
    """Saves a matplotlib Figure at ``path`` atomically (``files.atomic_write``); returns the path."""
    from keras_genai import files

    path, image_type = image_format(path)
    with files.atomic_write(path, "wb") as f:
        fig.savefig(f, dpi=dpi, format=image_type)
    return path


def _as_uint8(images, value_range):
    """Float images in ``value_range`` (or uint8) -> uint8 (n, H, W, C)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    low, high = value_range
    return np.clip(np.round((images.astype(np.float64) - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)


def reconstructions(model, images, labels=None, path=None, title="top: input, bottom: reconstruction"):
    """Inputs above their reconstructions.

    Args:
        model: a VAE (``reconstruct``, ``value_range``).
        images: float (n, H, W, C) in the model's value range.
        labels: conditional models only: n ints.
        path: also save the figure as PNG there.
    Returns:
        matplotlib Figure (2 rows of n images).
    """
    images = np.asarray(images)
    rebuilt = model.reconstruct(images, labels=labels)
    both = np.concatenate([_as_uint8(images, model.value_range), _as_uint8(rebuilt, model.value_range)])
    return _finish(figure_grid(both, columns=len(images), title=title), path)


def interpolation(model, pairs, steps=10, labels=None, path=None, title="latent interpolation"):
    """Decoded straight lines between the posterior means of image pairs, one row per pair.

    Args:
        model: a VAE (``interpolate``).
        pairs: sequence of (x1, x2) float images (H, W, C) in the model's value range.
        steps: images per row (>= 2), ends included.
        labels: conditional models only: one int per pair.
    Returns:
        matplotlib Figure.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("interpolation needs at least one (x1, x2) pair")
    labels = [None] * len(pairs) if labels is None else list(labels)
    if len(labels) != len(pairs):
        raise ValueError(f"expected one label per pair ({len(pairs)}), got {len(labels)}")
    rows = [model.interpolate(x1, x2, steps=steps, labels=y) for (x1, x2), y in zip(pairs, labels)]
    return _finish(figure_grid(_as_uint8(np.concatenate(rows), model.value_range), columns=steps, title=title), path)


def latent_manifold(model, size=15, extent=0.95, labels=None, path=None, title="decoded 2-d latent manifold"):
    """The decoded manifold of a VAE with a 2-d latent: a size x size grid of z at the standard
    normal quantiles of evenly spaced probabilities in [1 - extent, extent] (Kingma & Welling, 2014).

    Args:
        model: a VAE with ``latent_dim == 2``.
        size: points per axis (>= 2); extent: in (0.5, 1).
        labels: conditional models only: one int for the whole grid.
    Returns:
        matplotlib Figure.
    """
    from statistics import NormalDist

    if getattr(model, "latent_dim", None) != 2:
        raise ValueError(f"latent_manifold needs a VAE with a 2-d latent, got latent_dim={getattr(model, 'latent_dim', None)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    if not 0.5 < extent < 1.0:
        raise ValueError(f"extent must be in (0.5, 1), got {extent!r}")
    quantiles = np.array([NormalDist().inv_cdf(p) for p in np.linspace(1.0 - extent, extent, size)], np.float32)
    z = np.array([[x, y] for y in quantiles[::-1] for x in quantiles], np.float32)
    images = model.decode(z, labels=labels if labels is None else int(labels))
    return _finish(figure_grid(_as_uint8(images, model.value_range), columns=size, title=title), path)


def latent_scatter(means, labels=None, path=None, title="posterior means"):
    """Scatter plot of 2-d latent codes (n, 2) (e.g. ``vae.encode(x)``), coloured by ``labels``."""
    import matplotlib.pyplot as plt

    means = np.asarray(means)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(f"latent_scatter takes 2-d codes of shape (n, 2), got {means.shape}")
    fig, ax = plt.subplots(figsize=(5, 4.5))
    points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=4)
    if labels is not None:
        fig.colorbar(points, ax=ax)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title, fontsize=9)
    return _finish(fig, path)


def _finish(fig, path):
    if path:
        save_figure(fig, path)
    return fig
