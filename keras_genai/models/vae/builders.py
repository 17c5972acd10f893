"""Ready-made VAEs: each returns an uncompiled ``VAE`` built from ``keras_genai.nets``.

``compile()`` defaults to Adam(1e-3). Images are (H, W, C) = ``image_shape`` in the
likelihood's range: {0, 1} (binarized) for "bernoulli", [-1, 1] for "gaussian" and "logistic".
"""

from keras_genai.models.base import recipe_builder
from keras_genai.models.vae import likelihoods
from keras_genai.models.vae.model import VAE
from keras_genai.nets import vae as nets


def _nets(kind, image_shape, latent_dim, likelihood, num_classes, width):
    per_pixel = likelihoods.PARAMS_PER_PIXEL[likelihoods.check_name(likelihood)]
    if kind == "mlp":
        units = tuple(width) if isinstance(width, (tuple, list)) else (width, width)
        return (nets.mlp_encoder(image_shape, latent_dim, units=units, num_classes=num_classes),
                nets.mlp_decoder(image_shape, latent_dim, units=units[::-1], params_per_pixel=per_pixel,
                                 num_classes=num_classes))
    if kind == "conv":
        filters = tuple(width) if isinstance(width, (tuple, list)) else (width, 2 * width)
        return (nets.conv_encoder(image_shape, latent_dim, filters=filters, num_classes=num_classes),
                nets.conv_decoder(image_shape, latent_dim, filters=filters[::-1], params_per_pixel=per_pixel,
                                  num_classes=num_classes))
    raise ValueError(f"nets must be 'mlp' or 'conv', got {kind!r}")


@recipe_builder
def unconditional_vae(image_shape=(28, 28, 1), latent_dim=32, likelihood="bernoulli", nets="mlp", width=None,
                      beta=1.0, kl_warmup_steps=0, seed=None) -> VAE:
    """A VAE (β-VAE for ``beta != 1``).

    Args:
        nets: "mlp" (``width``: hidden units per layer, int or tuple, default (512, 512)) or
            "conv" (``width``: filters per downsampling block, default (32, 64)).
        kl_warmup_steps: steps of linear KL warm-up (0: none).
    """
    width = width if width is not None else ((512, 512) if nets == "mlp" else (32, 64))
    encoder, decoder = _nets(nets, image_shape, latent_dim, likelihood, None, width)
    return VAE(encoder, decoder, likelihood=likelihood, beta=beta, kl_warmup_steps=kl_warmup_steps, seed=seed,
               name="vae" if beta == 1 else "beta_vae")


@recipe_builder
def conditional_vae(image_shape=(28, 28, 1), num_classes=10, latent_dim=32, likelihood="bernoulli", nets="mlp",
                    width=None, beta=1.0, kl_warmup_steps=0, seed=None) -> VAE:
    """A conditional VAE: the label is embedded and given to both encoder and decoder;
    train on (images, labels) and ``sample(n, labels=...)``."""
    width = width if width is not None else ((512, 512) if nets == "mlp" else (32, 64))
    encoder, decoder = _nets(nets, image_shape, latent_dim, likelihood, num_classes, width)
    return VAE(encoder, decoder, likelihood=likelihood, beta=beta, kl_warmup_steps=kl_warmup_steps,
               num_classes=num_classes, seed=seed, name="conditional_vae")
