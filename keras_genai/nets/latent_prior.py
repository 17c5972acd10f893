"""A Gaussian-mixture latent prior as the first layer of a generator.

A generator that maps one connected Gaussian onto data made of separate modes (ten digits) must
spend some of its mass on the way between them: blends of two digits. ``GaussianMixturePrior``
gives the generator a latent prior with separate components instead (DeLiGAN, Gurumurthy et al.
2017), and keeps the model's interface: it takes the same standard normal ``z`` every GAN
samples and exports, and turns it into a mixture draw, so ``sample``, the SavedModel signatures
and LiteRT need nothing new.

The component of each row is read from ``z[:, 0]``: with thresholds at the standard normal
quantiles of the cumulative ``probabilities``, component ``c`` is drawn with probability
``probabilities[c]``. The output is ``means[c] + exp(log_scales[c]) * z``; means and scales are
trained with the generator. So each component is Gaussian in dimensions 1 to latent_dim - 1; in
dimension 0 it covers only its own slice of the normal distribution (the slice chose it).

Because the component changes where ``z[:, 0]`` crosses a threshold, the latent space is no
longer smooth there: an interpolation between two z jumps at each crossing, and shrinking z
towards 0 ("truncation") favours the components whose slices hold 0.
"""

import statistics

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_genai")
class GaussianMixturePrior(keras.layers.Layer):
    """Standard normal z (batch, latent_dim) -> a draw of a Gaussian mixture, same shape.

    Args:
        probabilities: sequence of K >= 1 positive floats summing to 1, the mixture weights
            (fixed; they set the component thresholds).

    A new layer starts as the identity (means 0, scales 1); ``models.fit_mixture_prior`` sets
    them from the generator's own samples.

    Example:

    ```python
    import numpy as np
    import keras_genai

    prior = keras_genai.nets.GaussianMixturePrior([0.25, 0.75])  # the identity until its weights change
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    draws = prior(z)  # (4, 8): means[c] + exp(log_scales[c]) * z, component c chosen by z[:, 0]
    # in a GAN: keras_genai.nets.with_mixture_prior(generator, [0.25, 0.75]) or models.fit_mixture_prior(gan)
    ```
    """

    def __init__(self, probabilities, **kwargs):
        # Always float32, whatever dtype policy is passed (a mixed-precision load passes one to
        # every layer): the thresholds and means need the precision (bfloat16 keeps 3 digits)
        # and the layer costs nothing next to the generator.
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        probabilities = np.asarray(probabilities, dtype=np.float64)
        valid = probabilities.ndim == 1 and probabilities.size >= 1 and np.all(probabilities > 0)
        if not valid or abs(probabilities.sum() - 1.0) > 1e-6:
            raise ValueError("probabilities must be K >= 1 positive floats summing to 1, "
                             f"got {probabilities.tolist()!r}")
        self.probabilities = [float(p) for p in probabilities]
        self.num_components = len(self.probabilities)
        cumulative = np.cumsum(probabilities)[:-1]
        normal = statistics.NormalDist()
        self._thresholds = np.array([normal.inv_cdf(min(max(p, 1e-12), 1 - 1e-12)) for p in cumulative], np.float32)

    def build(self, input_shape):
        latent_dim = int(input_shape[-1])
        self.means = self.add_weight(shape=(self.num_components, latent_dim), initializer="zeros", name="means")
        self.log_scales = self.add_weight(shape=(self.num_components, 1), initializer="zeros", name="log_scales")

    def components(self, z):
        """Component index of each row of z: int32 (batch,) in [0, K)."""
        thresholds = tf.constant(self._thresholds[None, :])
        return tf.reduce_sum(tf.cast(z[:, :1] > thresholds, tf.int32), axis=1)

    def call(self, z):
        z = tf.cast(z, tf.float32)
        if self.num_components == 1:
            return self.means[0] + tf.exp(self.log_scales[0]) * z
        component = self.components(z)
        return tf.gather(self.means, component) + tf.exp(tf.gather(self.log_scales, component)) * z

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(probabilities=self.probabilities)
        return config


PRIOR_LAYER_NAME = "mixture_prior"


def with_mixture_prior(generator, probabilities):
    """A copy of a functional ``generator`` whose noise input passes through a new
    ``GaussianMixturePrior(probabilities)`` (named ``mixture_prior``) before everything else.

    The copy has the same inputs and outputs and the same weights (copied, not shared) plus
    the prior's; it starts as the identity, so the copy computes exactly what ``generator``
    does until the prior's means and scales are set.

    Args:
        generator: a functional ``keras.Model`` whose first input is z (batch, latent_dim);
            other inputs (labels) are kept as they are.
        probabilities: the mixture weights, see ``GaussianMixturePrior``.
    Returns:
        A functional ``keras.Model``.
    """
    config = generator.get_config() if isinstance(generator, keras.Model) else None
    if not isinstance(config, dict) or "layers" not in config or "input_layers" not in config:
        raise TypeError(f"with_mixture_prior needs a functional keras.Model, got {type(generator).__name__}")
    names = [layer["name"] for layer in config["layers"]]
    if PRIOR_LAYER_NAME in names:
        raise ValueError(f"generator {generator.name!r} already has a {PRIOR_LAYER_NAME!r} layer")
    inputs = config["input_layers"]
    noise_name = inputs[0] if isinstance(inputs[0], str) else inputs[0][0]  # one input: [name, 0, 0]
    noise_input = generator.inputs[0]
    prior = GaussianMixturePrior(probabilities, name=PRIOR_LAYER_NAME)
    entry = keras.saving.serialize_keras_object(prior)
    entry["name"] = PRIOR_LAYER_NAME
    entry["build_config"] = {"input_shape": list(noise_input.shape)}
    entry["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
        "shape": list(noise_input.shape), "dtype": noise_input.dtype, "keras_history": [noise_name, 0, 0]}}],
        "kwargs": {}}]

    def rewire(node):  # in the inbound nodes only: z's consumers now take the prior's output
        if isinstance(node, dict):
            if node.get("class_name") == "__keras_tensor__" and node["config"]["keras_history"][0] == noise_name:
                return {**node, "config": {**node["config"], "keras_history": [PRIOR_LAYER_NAME, 0, 0]}}
            return {key: rewire(value) for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [rewire(value) for value in node]
        return node

    position = names.index(noise_name) + 1
    layers = [{**layer, "inbound_nodes": rewire(layer.get("inbound_nodes", []))} if i >= position else layer
              for i, layer in enumerate(config["layers"])]
    config["layers"] = layers[:position] + [entry] + layers[position:]
    copy = generator.__class__.from_config(config)
    for layer in generator.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
