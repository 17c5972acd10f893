"""Fit a Gaussian-mixture latent prior to a trained GAN's own samples.

``fit_mixture_prior`` clusters the generator's samples (k-means in pixel space, no labels),
and gives each cluster a mixture component: its weight is the cluster's share of the samples,
its mean the mean z of the cluster's samples times ``mean_scale``, its scale ``scale``. The
result is a new GAN whose generator starts with that prior (``nets.GaussianMixturePrior``);
fine-tune it with ``fit`` so that generator and prior adapt to each other (see the dcgan_mnist
card for what this did there).
"""

import math
import numbers

import keras
import numpy as np

from keras_genai.models.gan.model import GAN
from keras_genai.models.images import check_count
from keras_genai.nets.latent_prior import PRIOR_LAYER_NAME, with_mixture_prior


def kmeans(points, num_clusters, iterations=40, seed=0):
    """Lloyd's k-means, started from the points at ``num_clusters`` distinct random indices
    and run for exactly ``iterations`` rounds (no convergence test).

    Args:
        points: float (n, d), n >= num_clusters; computed in float32.
        num_clusters: positive int.
        iterations: positive int, assignment-and-update rounds.
        seed: int, the random start.
    Returns:
        int64 (n,) cluster of each point in [0, num_clusters). A cluster left empty takes the
        point farthest from its centre among clusters of two or more, so every cluster keeps
        at least one point.
    """
    points = np.asarray(points, np.float32)
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), num_clusters, replace=False)]
    squared_norms = (points ** 2).sum(1)
    for _ in range(iterations):
        distances = squared_norms[:, None] - 2 * points @ centres.T + (centres ** 2).sum(1)[None]
        assignment = distances.argmin(1)
        own_distance = distances[np.arange(len(points)), assignment]
        counts = np.bincount(assignment, minlength=num_clusters)
        for k in np.flatnonzero(counts == 0):
            shared = counts[assignment] > 1
            farthest = np.flatnonzero(shared)[own_distance[shared].argmax()]
            counts[assignment[farthest]] -= 1
            counts[k] += 1
            assignment[farthest] = k
        for k in range(num_clusters):
            centres[k] = points[assignment == k].mean(0)
    return assignment


def fit_mixture_prior(model, num_components=30, mean_scale=2.0, scale=0.9, num_samples=30_000, seed=0,
                      batch_size=500):
    """A copy of an unconditional ``model`` whose generator draws z from a Gaussian mixture
    fitted to the model's own samples.

    Args:
        model: an unconditional ``GAN`` without ``ema_decay`` and without a prior yet.
        num_components: K, the clusters and mixture components (positive int, at most
            ``num_samples``).
        mean_scale: float > 0; each component's mean is this times the mean z of its
            cluster (1 keeps the cluster's own centre; more moves it further from the
            origin, into the cluster's core).
        scale: float > 0, every component's initial standard deviation.
        num_samples: generator samples to cluster: images in [-1, 1], flattened to
            (num_samples, H * W * C) and held in memory in float32 (94 MB for 30,000 MNIST
            digits; use fewer for large images).
        seed: the samples' noise and the k-means start.
        batch_size: images per generator call.
    Returns:
        A new, uncompiled ``GAN`` with the same options and copies of the networks (the
        discriminator's weights and the generator's, plus the prior's). Compile it before
        ``fit``; to train it with ``keras-genai train --from-pretrained``, compile it with the
        stage's optimizers and save it with ``zoo.save_preset`` first.
    """
    if not isinstance(model, GAN):
        raise TypeError(f"fit_mixture_prior needs a GAN, got {type(model).__name__}")
    if model.conditional:
        raise ValueError("fit_mixture_prior is for unconditional GANs; a conditional one already chooses "
                         "its mode from the label")
    if PRIOR_LAYER_NAME in [layer.name for layer in model.generator.layers]:
        raise ValueError(f"the generator of {model.name!r} already has a {PRIOR_LAYER_NAME!r} layer")
    if model.ema_generator is not None:
        raise ValueError("fit_mixture_prior needs a GAN without ema_decay (its samples come from the EMA "
                         "copy, its training from the generator)")
    num_samples = check_count(num_samples, "num_samples")
    num_components = check_count(num_components, "num_components")
    if num_components > num_samples:
        raise ValueError(f"num_components ({num_components}) must be at most num_samples ({num_samples})")
    for name, value in (("mean_scale", mean_scale), ("scale", scale)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a positive number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    z = model.noise(num_samples, seed=seed).numpy()
    images = model.generate(z, batch_size=batch_size).reshape(num_samples, -1)
    assignment = kmeans(images, num_components, seed=seed)
    counts = np.bincount(assignment, minlength=num_components)
    means = np.stack([z[assignment == k].mean(0) for k in range(num_components)])

    config = model.get_config()
    for key in ("generator", "discriminator", "name", "trainable", "dtype"):
        config.pop(key, None)
    generator = with_mixture_prior(model.generator, counts / num_samples)
    prior = generator.get_layer(PRIOR_LAYER_NAME)
    prior.means.assign(mean_scale * means)
    prior.log_scales.assign(np.full((num_components, 1), np.log(scale), np.float32))
    discriminator = keras.models.clone_model(model.discriminator)
    discriminator.set_weights(model.discriminator.get_weights())
    return GAN(generator, discriminator, name=model.name, **config)
