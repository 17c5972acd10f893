"""A toy family that lives only in the tests: it proves that ``GenerativeModel`` is the whole
contract between a family and the zoo (``tests/test_family_contract.py``; the steps are those of
``tutorials/adding_a_family.md``).

``Gaussian`` models (4, 4, 1) images as independent Gaussians, x = mu + sigma * z with z standard
normal; it learns mu and log sigma by maximum likelihood. It trains on images it synthesises
itself (no download): ``training_data`` draws them from a fixed Gaussian, ``TARGET_MEAN`` and
``TARGET_STD``, and its default evaluation says how close its samples come to that target.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_genai.models import GenerativeModel, recipe_builder, sampling
from keras_genai.models import images as image_utils

TARGET_MEAN, TARGET_STD = 0.25, 0.2  # the images the toy trains on, in [-1, 1] pixel units


@keras.saving.register_keras_serializable(package="toy_family")
class Gaussian(GenerativeModel):
    """Independent Gaussian pixels: ``sample`` returns uint8 images of ``to_uint8(mu + sigma * z)``.

    Args:
        image_shape: (H, W, C) of the images.
        seed: seed of ``sample(seed=None)``.
    """

    def __init__(self, image_shape=(4, 4, 1), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.seed = sampling.check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.mu = self.add_weight(shape=self.image_shape, initializer="zeros", name="mu")
        self.log_sigma = self.add_weight(shape=self.image_shape, initializer="zeros", name="log_sigma")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), "seed": self.seed}

    def call(self, z):
        """z (batch, H, W, C) standard normal -> float images mu + sigma * z."""
        return self.mu + tf.exp(self.log_sigma) * z

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        images, _ = self._unpack(data)  # the contract's batch unpacking (images, labels or None)
        with tf.GradientTape() as tape:
            z = (images - self.mu) / tf.exp(self.log_sigma)
            loss = tf.reduce_mean(0.5 * tf.square(z) + self.log_sigma)  # Gaussian NLL up to a constant
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    # ------------------------------------------------------------- the contract: sampling
    # A condition of the toy's own, which the CLI passes through (``--temperature 0.5``).
    sample_conditions = ("temperature",)

    def sample(self, num_samples, seed=None, batch_size=256, temperature=1.0, **conditions):
        """uint8 images (num_samples, H, W, C) of ``mu + temperature * sigma * z``; sample k does
        not depend on num_samples."""
        self.check_conditions(**conditions)      # refuses what it does not take, saying what it takes
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        if seed is None:
            seed = int(keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator))
        rows = sampling.StatelessRows("normal", tf.constant([seed, 0], tf.int64), self.image_shape)
        return np.concatenate([image_utils.to_uint8(self(temperature * rows(i, min(batch_size, num_samples - i)))).numpy()
                               for i in range(0, num_samples, batch_size)])

    # ------------------------------------------------------------- the contract: the card
    @classmethod
    def card_usage(cls, metadata):
        return ["images = model.sample(16, seed=0)  # uint8 (16, 4, 4, 1): mu + sigma * z per pixel"]

    @classmethod
    def card_metrics(cls, key, results):
        """The card's table of the ``moments`` evaluation (``default_evaluation``)."""
        if key != "moments":
            return super().card_metrics(key, results)
        return ["", f"### {key}", "", f"{results['num_samples']} samples against N({TARGET_MEAN}, {TARGET_STD}) "
                "per pixel.", "", "| metric | value |", "| --- | --- |",
                f"| mean error | {results['mean_error']:.4f} |", f"| std error | {results['std_error']:.4f} |"]

    # ------------------------------------------------------------- the contract: export
    def export_signatures(self):
        z_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="z")

        def images(z):
            return {"images": self(z)}

        def sample(num_samples, seed):
            z = tf.random.stateless_normal(tf.concat([[num_samples], self.image_shape], 0),
                                           seed=tf.stack([seed, tf.constant(0, tf.int64)]))
            return {"images": image_utils.to_uint8(self(z))}

        return {"serving_default": (images, [z_spec]),
                "sample": (sample, [tf.TensorSpec([], tf.int32, name="num_samples"),
                                    tf.TensorSpec([], tf.int64, name="seed")])}

    def example_inputs(self, signature, num_samples=2, seed=0):
        if signature == "serving_default":
            z = np.random.default_rng(seed).standard_normal((num_samples, *self.image_shape)).astype(np.float32)
            return {"z": z}, self(z).numpy()
        if signature == "sample":
            return {"num_samples": np.int32(num_samples), "seed": np.int64(seed)}, self.sample(num_samples, seed=seed)
        raise self._unknown_signature(signature)

    # ------------------------------------------------------------- the contract: training data, evaluation
    def training_data(self, dataset, recipe, batch_size, seed, start_epoch=0, steps_per_epoch=None, data_dir=None,
                      manual_dir=None):
        """Images drawn from N(TARGET_MEAN, TARGET_STD) per pixel, batch ``step`` from the stateless
        seed (seed, step): a resumed run sees the batches an uninterrupted one would."""
        steps = steps_per_epoch or int(dataset.get("images_per_epoch", 256)) // batch_size
        first = start_epoch * steps
        shape = [batch_size, *self.image_shape]

        def batch(step):
            noise = tf.random.stateless_normal(shape, seed=tf.stack([tf.cast(seed, tf.int64), step]))
            return TARGET_MEAN + TARGET_STD * noise

        return tf.data.Dataset.range(first, 2**62).map(batch), steps

    def default_evaluation(self, metadata, num_samples=1000, seed=0, conditions=None, **options):
        """How far the samples' mean and spread are from the target's, in pixel units ([-1, 1])."""
        images = self.sample(num_samples, seed=seed, **(conditions or {})).astype(np.float64) / 127.5 - 1.0
        return "moments", {"mean_error": float(abs(images.mean() - TARGET_MEAN)),
                           "std_error": float(abs(images.std() - TARGET_STD)), "num_samples": int(num_samples)}


@recipe_builder
def gaussian_toy(image_shape=(4, 4, 1), seed=None) -> Gaussian:
    """The builder a recipe stage calls by name (``"build": {"builder": "gaussian_toy"}``): an untrained
    ``Gaussian``; the return annotation tells the recipe check its optimizers (``optimizer_names``)."""
    return Gaussian(image_shape, seed=seed, name="gaussian")


def toy_metadata(name="toy_gaussian"):
    """The metadata of a toy preset: its recipe is one stage of two epochs."""
    return {
        "name": name, "family": "gaussian", "description": "Independent Gaussian pixels (a test family).",
        "dataset": {"name": "synthetic", "images_per_epoch": 512},
        "recipe": {"stages": [{"epochs": 2, "batch_size": 32, "seed": 0}]},
        "training": {"epochs": 2, "batch_size": 32, "seed": 0},
    }
