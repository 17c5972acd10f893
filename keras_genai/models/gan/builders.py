"""Ready-made GAN variants: each returns an uncompiled ``GAN`` built from ``keras_genai.nets``.

Images are (H, W, C) = ``image_shape`` in [-1, 1]; ``compile()`` picks the variant's usual
optimizers (see ``GAN.compile``).
"""

from keras_genai.models.base import recipe_builder
from keras_genai.models.gan.model import GAN
from keras_genai.nets import dcgan_discriminator, dcgan_generator, mlp_discriminator, mlp_generator


@recipe_builder
def dcgan(image_shape=(28, 28, 1), latent_dim=100, base_filters=64, ema_decay=None, refine=False, seed=None,
          generator_top_k=1.0, refine_discriminator=False) -> GAN:
    """DCGAN (Radford et al., 2015): convolutional nets, batch norm, non-saturating loss;
    ``refine`` / ``refine_discriminator``: the deeper networks of ``nets.dcgan_generator`` /
    ``nets.dcgan_discriminator``; ``generator_top_k``: see ``GAN``."""
    return GAN(
        dcgan_generator(image_shape, latent_dim=latent_dim, base_filters=base_filters, refine=refine),
        dcgan_discriminator(image_shape, base_filters=base_filters, refine=refine_discriminator),
        ema_decay=ema_decay,
        generator_top_k=generator_top_k,
        seed=seed,
        name="dcgan",
    )


@recipe_builder
def mlp_gan(image_shape=(28, 28, 1), latent_dim=100, seed=None) -> GAN:
    """The classic fully connected GAN (Goodfellow et al., 2014): generator 256-512-1024-784
    with LeakyReLU and tanh, discriminator 512-256 with LeakyReLU and dropout, non-saturating loss."""
    return GAN(mlp_generator(image_shape, latent_dim), mlp_discriminator(image_shape), seed=seed, name="mlp_gan")


@recipe_builder
def wgan_gp(image_shape=(28, 28, 1), latent_dim=100, base_filters=64, discriminator_steps=5, gradient_penalty=10.0,
            ema_decay=None, refine=False, seed=None, generator_top_k=1.0, refine_discriminator=False) -> GAN:
    """WGAN-GP (Gulrajani et al., 2017): DCGAN generator, critic (the discriminator) without batch
    norm, Wasserstein loss, gradient penalty of weight ``gradient_penalty`` (lambda),
    ``discriminator_steps`` critic updates per generator step (the names of ``GAN``'s arguments);
    ``refine`` / ``refine_discriminator``: the deeper generator / critic of ``nets``;
    ``generator_top_k``: see ``GAN``."""
    return GAN(
        dcgan_generator(image_shape, latent_dim=latent_dim, base_filters=base_filters, refine=refine),
        dcgan_discriminator(image_shape, base_filters=base_filters, normalization=None, refine=refine_discriminator,
                            name="critic"),
        loss="wasserstein",
        discriminator_steps=discriminator_steps,
        gradient_penalty=gradient_penalty,
        ema_decay=ema_decay,
        generator_top_k=generator_top_k,
        seed=seed,
        name="wgan_gp",
    )


@recipe_builder
def conditional_dcgan(image_shape=(28, 28, 1), num_classes=10, latent_dim=100, base_filters=64,
                      ema_decay=None, seed=None) -> GAN:
    """Class-conditional DCGAN: label embedding concatenated to z in the generator,
    projection discriminator; ``sample(n, labels=...)``."""
    return GAN(
        dcgan_generator(image_shape, latent_dim=latent_dim, base_filters=base_filters, num_classes=num_classes),
        dcgan_discriminator(image_shape, base_filters=base_filters, num_classes=num_classes),
        num_classes=num_classes,
        ema_decay=ema_decay,
        seed=seed,
        name="conditional_dcgan",
    )
