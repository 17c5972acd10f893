"""Generative adversarial networks as one subclassed ``keras.Model``.

``GAN`` owns a generator (z -> images in [-1, 1]) and a discriminator (images -> logits),
two optimizers and a ``SeedGenerator``. ``fit`` alternates one discriminator update and one
generator update per batch with the non-saturating loss. Any generator/discriminator pair with
those signatures works; ``dcgan`` builds the DCGAN pair.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_genai import losses
from keras_genai.models import images as image_utils
from keras_genai.nets import dcgan_discriminator, dcgan_generator


def latent_noise(num_samples, seed, latent_dim):
    """Stateless standard normal noise, shape (num_samples, latent_dim) float32.

    The same ``seed`` (an integer) gives the same noise in Keras and in every export.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=seed)


@keras.saving.register_keras_serializable(package="keras_genai")
class GAN(keras.Model):
    """An unconditional GAN trained with the non-saturating loss.

    Args:
        generator: ``keras.Model`` mapping z (batch, latent_dim) to images (batch, H, W, C)
            in [-1, 1] (tanh output).
        discriminator: ``keras.Model`` mapping images (batch, H, W, C) to logits (batch, 1).
        seed: seed of the model's ``SeedGenerator`` (training noise, ``sample(seed=None)``).
    """

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(discriminator, dict):
            discriminator = keras.saving.deserialize_keras_object(discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.image_shape = tuple(int(d) for d in generator.output_shape[1:])
        if tuple(discriminator.input_shape[1:]) != self.image_shape:
            raise ValueError(
                f"generator makes images of shape {self.image_shape} but the discriminator "
                f"expects {tuple(discriminator.input_shape[1:])}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.d_optimizer = None
        self.g_optimizer = None
        self._generate_fn = None
        self.built = True

    # ----------------------------------------------------------------- configuration
    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Sets the two optimizers (default: Adam, lr 2e-4, beta_1 0.5, as in DCGAN).

        Extra keyword arguments (``jit_compile``, ``steps_per_execution``, ...) go to
        ``keras.Model.compile``.
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer) if d_optimizer else _dcgan_adam()
        self.g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer else _dcgan_adam()
        # Built now so that weights files and BackupAndRestore checkpoints load into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
        )

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def train_step(self, data):
        if self.d_optimizer is None:
            raise RuntimeError("call compile() before fit()")
        real = image_utils.images_from_batch(data)
        batch_size = tf.shape(real)[0]

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = losses.discriminator_loss(real_logits, fake_logits)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = losses.non_saturating_generator_loss(g_logits)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    # ----------------------------------------------------------------- generation
    def noise(self, num_samples, seed=None):
        """Latent vectors z, shape (num_samples, latent_dim) float32, standard normal.

        ``seed=None`` draws from the model's ``SeedGenerator`` (new noise every call);
        an integer seed gives the same noise every time (see ``latent_noise``).
        """
        num_samples = image_utils.check_count(num_samples)
        if seed is None:
            return keras.random.normal((num_samples, self.latent_dim), seed=self.seed_generator)
        return latent_noise(num_samples, int(seed), self.latent_dim)

    def generate(self, z, batch_size=256):
        """Maps latent vectors to images.

        Args:
            z: float array (batch, latent_dim).
        Returns:
            np.ndarray float32 (batch, H, W, C) in [-1, 1].
        """
        z = _check_latents(z, self.latent_dim)
        if self._generate_fn is None:
            self._generate_fn = tf.function(
                lambda z: self.generator(z, training=False), reduce_retracing=True
            )
        chunks = [
            self._generate_fn(z[i : i + batch_size]) for i in range(0, int(z.shape[0]), batch_size)
        ]
        return tf.concat(chunks, axis=0).numpy()

    def sample(self, num_samples, seed=None, batch_size=256):
        """Draws ``num_samples`` images.

        Args:
            num_samples: positive int.
            seed: None for fresh randomness, or an int for reproducible samples
                (identical to the exported ``sample`` signature with the same seed).
        Returns:
            np.ndarray uint8 (num_samples, H, W, C) in [0, 255].
        """
        images = self.generate(self.noise(num_samples, seed), batch_size=batch_size)
        return image_utils.to_uint8(images).numpy()

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """Named serving endpoints: ``{name: (tf.function, input_signature)}``.

        - ``serving_default``: z (batch, latent_dim) float32 -> images float32 in [-1, 1].
        - ``sample``: num_samples int32 scalar, seed int64 scalar -> images uint8 (stateless).
        """
        generator = self.generator
        latent_dim = self.latent_dim

        def generate(z):
            return {"images": generator(z, training=False)}

        def sample(num_samples, seed):
            z = latent_noise(num_samples, seed, latent_dim)
            return {"images": image_utils.to_uint8(generator(z, training=False))}

        return {
            "serving_default": (
                generate,
                [tf.TensorSpec([None, latent_dim], tf.float32, name="z")],
            ),
            "sample": (
                sample,
                [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int64, name="seed")],
            ),
        }

    edge_signature = "serving_default"


def dcgan(image_shape=(28, 28, 1), latent_dim=100, base_filters=64, seed=None):
    """A DCGAN: ``GAN`` with the DCGAN generator and discriminator from ``keras_genai.nets``.

    Returns an uncompiled ``GAN``; images are (H, W, C) = ``image_shape`` in [-1, 1].
    """
    return GAN(
        dcgan_generator(image_shape, latent_dim=latent_dim, base_filters=base_filters),
        dcgan_discriminator(image_shape, base_filters=base_filters),
        seed=seed,
        name="dcgan",
    )


def _dcgan_adam():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


def _check_latents(z, latent_dim):
    if not tf.is_tensor(z):
        z = np.asarray(z)
        if not np.issubdtype(z.dtype, np.floating):
            raise TypeError(f"z must be a float array of shape (batch, {latent_dim}), got dtype {z.dtype}")
    elif not z.dtype.is_floating:
        raise TypeError(f"z must be a float tensor of shape (batch, {latent_dim}), got dtype {z.dtype.name}")
    if len(z.shape) != 2 or z.shape[-1] != latent_dim or z.shape[0] == 0:
        raise ValueError(f"z must have shape (batch, {latent_dim}) with batch >= 1, got {tuple(z.shape)}")
    return tf.cast(z, tf.float32)
