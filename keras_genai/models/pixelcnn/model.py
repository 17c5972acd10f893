"""PixelCNN: an autoregressive image model with an exact likelihood (van den Oord et al., 2016).

``PixelCNN`` wraps a causal network from ``keras_genai.nets.pixelcnn`` (images [, labels] ->
one logit per pixel and channel) and models binary images with independent Bernoulli
factors in raster-scan order:

    log p(x) = sum_(i, j) log Bernoulli(x_ij | sigmoid(logit_ij(x_<ij)))

computed exactly in one forward pass (``log_prob``: nats per image; ``bits_per_dim``).
``fit`` minimises the negative log-likelihood (metrics ``loss`` in nats per image and
``bits_per_dim``). Images are binary, float values in {0, 1} (binarized MNIST:
``keras_genai.data.images("mnist", binarize="dynamic", value_range=(0, 1))``); anything else
is refused with a clear error. ``num_classes`` makes a class-conditional model (training
data ``(images, labels)``; ``sample(n, labels=...)``).

Sampling is ONE compiled TensorFlow loop (``tf.function`` + ``tf.while_loop`` over the H * W
pixels) that sets pixel t to 1 where a uniform number is below its probability. For any causal
network, step t runs the network on the rows sampled so far (it never looks down, so the rows
below do not change the logits). For a gated network the loop is nested (rows, then the pixels
of a row) and caches the vertical stacks: they run once per row, and each pixel only runs the
horizontal stacks and the 1x1 output layers on its row, about 14x less work on 28x28 images.
The uniforms are those of ``tf.random.stateless_uniform((n, H, W, C), seed=[seed, 0])`` (Philox,
counter based), drawn one batch at a time (``sampling.StatelessRows``), so memory stays bounded,
the same seed gives the same images, sample k does not depend on how many are drawn with it, and
the exported ``sample`` signature gives the same images as ``sample(n, seed)``.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_genai import distribution
from keras_genai.models import images as image_utils
from keras_genai.models import sampling
from keras_genai.models.base import GenerativeModel, check_num_classes, recipe_builder
from keras_genai.nets import pixelcnn as nets


@keras.saving.register_keras_serializable(package="keras_genai")
class PixelCNN(GenerativeModel):
    """A Bernoulli PixelCNN over binary images; see the module docstring.

    Args:
        network: a causal ``keras.Model``: images (batch, H, W, C) [, labels (batch,) int32]
            -> logits (batch, H, W, C) (``keras_genai.nets.gated_pixelcnn`` or ``masked_pixelcnn``).
        num_classes: None, or the number of classes (>= 2) of a class-conditional network.
        seed: seed of the model's ``SeedGenerator`` (``sample(seed=None)``).

    Example:

    ```python
    import numpy as np
    import keras_genai

    pixelcnn = keras_genai.models.gated_pixelcnn((8, 8, 1), filters=8, num_layers=2, output_units=(16,), seed=0)
    pixelcnn.compile()  # or keras_genai.zoo.load("pixelcnn_mnist")
    images = (np.random.default_rng(0).uniform(size=(32, 8, 8, 1)) > 0.5).astype("float32")  # {0, 1}
    pixelcnn.fit(images, batch_size=16, epochs=1)
    samples = pixelcnn.sample(2, seed=0)  # uint8 (2, 8, 8, 1)
    bits = pixelcnn.bits_per_dim(images[:4])
    ```
    """

    def __init__(self, network, num_classes=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        check_num_classes(num_classes)
        expected_inputs = 2 if num_classes is not None else 1
        if len(network.inputs) != expected_inputs:
            kind = "conditional (inputs [images, labels])" if num_classes else "unconditional (one input)"
            raise ValueError(f"the network has {len(network.inputs)} inputs but the PixelCNN is {kind}")
        seed = sampling.check_seed(seed)
        self.network = network
        self.num_classes = num_classes
        self.image_shape = tuple(int(d) for d in network.inputs[0].shape[1:])
        out = tuple(int(d) for d in network.outputs[0].shape[1:])
        if out != self.image_shape:
            raise ValueError(f"a Bernoulli PixelCNN needs one logit per pixel and channel: network outputs "
                             f"{out}, images {self.image_shape}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._functions = {}
        self.built = True

    likelihood = "bernoulli"
    value_range = (0.0, 1.0)

    @property
    def num_dims(self):
        return int(np.prod(self.image_shape))

    # ----------------------------------------------------------------- configuration
    def get_config(self):
        config = super().get_config()
        config.update(network=keras.saving.serialize_keras_object(self.network), num_classes=self.num_classes,
                      seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----------------------------------------------------------------- the model
    def _logits(self, images, labels=None, training=False):
        inputs = [images, labels] if self.conditional else images
        return tf.cast(self.network(inputs, training=training), tf.float32)

    def call(self, inputs, training=False):
        """images [, labels] -> logits (batch, H, W, C) of p(x_ij = 1 | x_<ij)."""
        if self.conditional:
            return self._logits(inputs[0], inputs[1], training=training)
        return self._logits(inputs, training=training)

    def _log_prob(self, images, labels=None, training=False):
        """Exact log p(x) per image, (batch,) float32 nats."""
        logits = self._logits(images, labels, training=training)
        per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
        return tf.reduce_sum(per_pixel, axis=[1, 2, 3])

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_tracker]

    def _checked(self, images):
        binary = tf.reduce_all(tf.equal(images * (1.0 - images), 0.0))
        check = tf.debugging.assert_equal(binary, True, message="Bernoulli PixelCNN: images must be binary, "
                                          "values in {0, 1} (binarize them: data.images(..., binarize='dynamic', "
                                          "value_range=(0, 1)))")
        with tf.control_dependencies([check]):
            return tf.identity(images)

    def _update_metrics(self, nll):
        self.loss_tracker.update_state(nll)
        self.bits_tracker.update_state(nll / (self.num_dims * math.log(2.0)))
        return distribution.step_logs(self.metrics)

    def train_step(self, data):
        if getattr(self, "optimizer", None) is None:
            raise RuntimeError("call compile() before fit()")
        images, labels = self._unpack(data)
        images = self._checked(images)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            nll = -self._log_prob(images, labels, training=True)
            # Averaged over the global batch, so tf.distribute replicas sum to the right gradient.
            loss = distribution.global_batch_mean(nll)
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in self.losses]))
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply(distribution.skip_together(tape.gradient(scaled, variables), self.optimizer), variables)
        return self._update_metrics(tf.reduce_mean(nll))

    def test_step(self, data):
        images, labels = self._unpack(data)
        return self._update_metrics(tf.reduce_mean(-self._log_prob(self._checked(images), labels)))

    # ----------------------------------------------------------------- checks
    def check_images(self, images):
        """Validates images: (batch, H, W, C) with batch >= 1 and every value 0 or 1 (floats,
        ints or bools). Returns a float32 tensor."""
        if not tf.is_tensor(images):
            images = np.asarray(images)
        dtype = tf.as_dtype(images.dtype) if not tf.is_tensor(images) else images.dtype
        if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
            raise TypeError(f"images must be a numeric array of 0s and 1s, got dtype {dtype.name}")
        if tuple(images.shape[1:]) != self.image_shape or len(images.shape) != 4 or images.shape[0] == 0:
            raise ValueError(f"images must have shape (batch, {', '.join(map(str, self.image_shape))}) with batch >= 1,"
                             f" got {tuple(images.shape)}")
        images = tf.cast(images, tf.float32)
        values = np.unique(images.numpy())
        if not np.isin(values, (0.0, 1.0)).all():
            odd = values[~np.isin(values, (0.0, 1.0))]
            raise ValueError(f"a Bernoulli PixelCNN models binary images (values 0 and 1); got other values such as "
                             f"{odd[:3].tolist()}. Binarize them, e.g. keras_genai.data.images(..., "
                             f"binarize='fixed', value_range=(0, 1)), or (x > 0.5)")
        return images

    def _function(self, name, fn, **kwargs):
        if name not in self._functions:
            self._functions[name] = tf.function(fn, reduce_retracing=True, **kwargs)
        return self._functions[name]

    # ----------------------------------------------------------------- likelihood
    def log_prob(self, images, labels=None, batch_size=500):
        """Exact log-likelihood of each image, in nats.

        Args:
            images: (n, H, W, C), values 0 or 1.
            labels: conditional models only: an int or n ints in [0, num_classes).
            batch_size: positive int, images per network call.
        Returns:
            np.ndarray float64 (n,), log p(x) in nats (<= 0).
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, int(images.shape[0]))
        batch_size = image_utils.check_count(batch_size, "batch_size")
        fn = self._function("log_prob", self._log_prob)
        parts = []
        for start in range(0, int(images.shape[0]), batch_size):
            chunk_labels = labels[start: start + batch_size] if labels is not None else None
            parts.append(fn(images[start: start + batch_size], chunk_labels).numpy())
        return np.concatenate(parts).astype(np.float64)

    def bits_per_dim(self, images, labels=None, batch_size=500):
        """Negative log-likelihood of each image in bits per pixel: ``-log_prob / (H W C ln 2)``."""
        return -self.log_prob(images, labels, batch_size) / (self.num_dims * math.log(2.0))

    # ----------------------------------------------------------------- sampling
    def uniforms(self, num_samples, seed):
        """The uniform numbers of ``sample(num_samples, seed)``: (n, H, W, C) float32."""
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        return tf.random.stateless_uniform(tf.concat([[num_samples], self.image_shape], 0), seed=seed)

    def _sample_loop(self, uniforms, labels=None):
        """The compiled pixel loop: uniforms (n, H, W, C) -> binary images float32 (n, H, W, C).

        Pixel t = (i, j) is 1 where ``uniforms[:, i, j] < sigmoid(logit_ij)``; the network sees
        rows 0..i only (its outputs there do not depend on the rows below)."""
        height, width, channels = self.image_shape
        positions = tf.reshape(tf.eye(height * width, dtype=tf.float32), (height * width, height, width, 1))

        def body(t, canvas):
            i, j = t // width, t % width
            logits = self._logits(canvas[:, : i + 1], labels)[:, i, j]  # (n, C)
            pixel = tf.cast(uniforms[:, i, j] < tf.sigmoid(logits), tf.float32)
            return t + 1, canvas + positions[t][None] * pixel[:, None, None, :]

        _, canvas = tf.while_loop(lambda t, _: t < height * width, body,
                                  (tf.constant(0), tf.zeros_like(uniforms)))
        return canvas

    # A gated network (``nets.gated_pixelcnn``) is sampled row by row: the horizontal stack at
    # row i only needs the vertical stack's features of the rows above, which do not change while
    # row i is drawn. So the vertical stacks run once per row (on the rows drawn so far) and each
    # pixel only runs the horizontal stacks and the 1x1 output layers on the current row, up to
    # the pixel: the same logits for a fraction of the work.
    def _gated_parts(self):
        """(blocks, head layers, label embedding) of a chain of ``GatedPixelCNNBlock`` followed by
        ReLU / 1x1 convolutions, checked against the network on random images; None otherwise."""
        if "gated_parts" in self._functions:
            return self._functions["gated_parts"]
        parts = None
        layers = self.network.layers
        blocks = [layer for layer in layers if isinstance(layer, nets.GatedPixelCNNBlock)]
        if blocks and layers.index(blocks[-1]) < len(layers) - 1:
            head = layers[layers.index(blocks[-1]) + 1:]
            pointwise = all(isinstance(layer, keras.layers.ReLU) or (isinstance(layer, keras.layers.Conv2D)
                            and tuple(layer.kernel_size) == (1, 1)) for layer in head)
            embedding = None
            if self.conditional:
                embeddings = [layer for layer in layers if isinstance(layer, keras.layers.Embedding)]
                embedding = embeddings[0] if len(embeddings) == 1 else None
            if pointwise and (embedding is not None or not self.conditional):
                parts = (blocks, head, embedding)
                images = tf.cast(tf.random.stateless_uniform((2, *self.image_shape), seed=[7, 7]) < 0.5, tf.float32)
                labels = tf.zeros((2,), tf.int32) if self.conditional else None
                got = self._decomposed_logits(parts, images, labels)
                if not np.allclose(got.numpy(), self._logits(images, labels).numpy(), atol=1e-4, rtol=1e-4):
                    parts = None  # not the chain we expect: sample with the whole network
        self._functions["gated_parts"] = parts
        return parts

    @staticmethod
    def _head(head, x):
        for layer in head:
            x = layer(x)
        return tf.cast(x, tf.float32)

    def _decomposed_logits(self, parts, images, labels):
        blocks, head, embedding = parts
        condition = embedding(labels) if embedding is not None else None
        vertical, horizontal = images, images
        for block in blocks:
            features = block.vertical_features(vertical, condition)
            horizontal = block.horizontal_features(horizontal, block.link(features), condition)
            vertical = nets.gate(features)
        return self._head(head, horizontal)

    def _sample_rows(self, parts, uniforms, labels=None):
        """The compiled loop of a gated network: rows in an outer ``tf.while_loop``, the pixels
        of a row in an inner one. Same uniforms, same rule as ``_sample_loop``."""
        blocks, head, embedding = parts
        height, width, channels = self.image_shape
        condition = embedding(labels) if embedding is not None else None
        rows = tf.reshape(tf.eye(height, dtype=tf.float32), (height, height, 1, 1))
        columns = tf.reshape(tf.eye(width, dtype=tf.float32), (width, 1, width, 1))

        def row_body(i, canvas):
            vertical, links = canvas[:, : i + 1], []
            for block in blocks:  # the vertical stacks over the rows drawn so far (row i is still 0)
                features = block.vertical_features(vertical, condition)
                links.append(block.vertical_to_horizontal(nets.shift_down(features)[:, i: i + 1]))
                vertical = nets.gate(features)

            def pixel_body(j, row):
                horizontal = row[:, :, : j + 1]
                for block, link in zip(blocks, links):
                    horizontal = block.horizontal_features(horizontal, link[:, :, : j + 1], condition)
                logits = self._head(head, horizontal[:, :, j: j + 1])[:, 0, 0]  # (n, C)
                pixel = tf.cast(uniforms[:, i, j] < tf.sigmoid(logits), tf.float32)
                return j + 1, row + columns[j][None] * pixel[:, None, None, :]

            # zeros_like keeps the static batch size: a batch of 1 would otherwise broadcast the
            # canvas to (None, ...) and break the outer loop's shape invariant.
            _, row = tf.while_loop(lambda j, _: j < width, pixel_body,
                                   (tf.constant(0), tf.zeros_like(uniforms[:, :1])))
            return i + 1, canvas + rows[i][None] * row

        _, canvas = tf.while_loop(lambda i, _: i < height, row_body, (tf.constant(0), tf.zeros_like(uniforms)))
        return canvas

    def _sample_any(self, uniforms, labels=None):
        parts = self._gated_parts()
        if parts is not None:
            return self._sample_rows(parts, uniforms, labels)
        return self._sample_loop(uniforms, labels)

    def _sample_images(self, num_samples, seed, labels=None):
        """Graph sampling used by ``sample`` and the export: uint8 images in {0, 255}."""
        canvas = self._sample_any(self.uniforms(num_samples, seed), labels)
        return tf.cast(canvas * 255.0, tf.uint8)

    def _check_seed(self, seed):
        """An int seed: ``seed`` checked (``sampling.check_seed``), or for None one drawn from the
        model's ``SeedGenerator``."""
        seed = sampling.check_seed(seed)
        if seed is None:
            return int(keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator))
        return seed

    def sample(self, num_samples, seed=None, labels=None, batch_size=256):
        """Draws ``num_samples`` images pixel by pixel (one compiled loop per batch).

        Args:
            num_samples: positive int. The uint8 result (num_samples * H * W * C bytes) must fit
                in ``sampling.result_limit()`` (the memory available, or ``MAX_SAMPLE_BYTES``);
                a larger request is refused with a ``ValueError`` before anything is drawn.
            seed: None (fresh randomness) or an int in the int64 range (reproducible, equal to
                the export); anything else is a ``TypeError`` (``sampling.check_seed``).
            labels: conditional models only (required there): an int or ``num_samples`` ints.
            batch_size: positive int, images per compiled loop; the uniforms are drawn per loop
                too (the result does not depend on it).
        Returns:
            np.ndarray uint8 (num_samples, H, W, C), values 0 or 255.
        """
        num_samples = image_utils.check_count(num_samples)
        seed = sampling.check_seed(seed)
        batch_size = image_utils.check_count(batch_size, "batch_size")
        labels = self.check_labels(labels, num_samples)
        sampling.check_result_bytes(num_samples * self.num_dims, f"sample({num_samples})")
        images = np.empty((num_samples, *self.image_shape), np.uint8)
        rows = sampling.StatelessRows("uniform", tf.constant([self._check_seed(seed), 0], tf.int64), self.image_shape)
        self._gated_parts()  # decided eagerly, before tracing
        loop = self._function("sample", self._sample_any)
        for start in range(0, num_samples, batch_size):
            count = min(batch_size, num_samples - start)
            chunk = labels[start: start + count] if labels is not None else None
            images[start: start + count] = tf.cast(loop(rows(start, count), chunk) * 255.0, tf.uint8).numpy()
        return images

    def sample_reference(self, num_samples, seed, labels=None):
        """The naive sampler: one ``network.predict`` call from Python per pixel on the full
        canvas, with the same uniforms as ``sample`` (so it gives the same images). Slow; for
        tests and the benchmark."""
        num_samples = image_utils.check_count(num_samples)
        labels = self.check_labels(labels, num_samples)
        uniforms = self.uniforms(num_samples, self._check_seed(seed)).numpy()
        canvas = np.zeros((num_samples, *self.image_shape), np.float32)
        height, width, _ = self.image_shape
        for i in range(height):
            for j in range(width):
                inputs = [canvas, labels] if self.conditional else canvas
                logits = self.network.predict(inputs, batch_size=num_samples, verbose=0)[:, i, j]
                probability = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
                canvas[:, i, j] = (uniforms[:, i, j] < probability).astype(np.float32)
        return (canvas * 255).astype(np.uint8)

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, input_signature)}``.

        - ``serving_default`` and ``log_prob``: images (batch, H, W, C) float32 in {0, 1}
          [, labels (batch,) int32] -> ``log_prob`` (batch,) nats and ``bits_per_dim`` (batch,);
        - ``logits``: the same inputs -> ``logits`` (batch, H, W, C) of p(x_ij = 1 | x_<ij)
          (the LiteRT graph: no random ops, no loop);
        - ``sample``: num_samples () int32 (conditional: labels (batch,) int32) and seed ()
          int64 -> ``images`` uint8 in {0, 255}, equal to ``sample(n, seed)``.
        """
        self._gated_parts()  # decided eagerly, before tracing
        bits = float(self.num_dims * math.log(2.0))

        def log_prob(images, labels):
            log_p = self._log_prob(images, labels)
            return {"log_prob": log_p, "bits_per_dim": -log_p / bits}

        def logits(images, labels):
            return {"logits": self._logits(images, labels)}

        def sample(num_samples, seed, labels):
            return {"images": self._sample_images(num_samples, seed, labels)}

        images_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        return {
            "serving_default": self._export_signature(log_prob, images_spec),
            "log_prob": self._export_signature(log_prob, images_spec),
            "logits": self._export_signature(logits, images_spec),
            "sample": self._export_signature(sample, draws=True),
        }

    edge_signature = "logits"
    # Logits span about [-16, 6]; measured on pixelcnn_mnist (64 test images): dynamic-range
    # int8 max |diff| 0.61, mean 0.055; float16 6e-3 / 8e-4 (the default tolerances hold).
    # full_int8 on pixelcnn_mnist (1,000 example images): max 2.09, mean 0.098 on logits up to 19.9.
    export_tolerances = {"logits": {"tflite_dynamic_int8": (1.2, 0.1), "tflite_full_int8": (3.0, 0.15)}}

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()`` and the Keras result they
        must give: ``(inputs, expected)``."""
        extra, labels = self._example_conditions(num_samples)
        if signature in ("serving_default", "log_prob", "logits"):
            rng = np.random.default_rng(seed)
            images = (rng.random((num_samples, *self.image_shape)) < 0.3).astype(np.float32)
            if signature == "logits":
                inputs = [images, labels] if self.conditional else images
                return {"images": images, **extra}, {"logits": self(inputs).numpy()}
            log_p = self.log_prob(images, labels=labels)
            return ({"images": images, **extra},
                    {"log_prob": log_p.astype(np.float32),
                     "bits_per_dim": (-log_p / (self.num_dims * math.log(2.0))).astype(np.float32)})
        if signature == "sample":
            return self._example_conditions(num_samples, seed)[0], self.sample(num_samples, seed=seed, labels=labels)
        raise self._unknown_signature(signature)

    # ----------------------------------------------------------------- the zoo's questions
    @classmethod
    def card_usage(cls, metadata):
        return ["images = model.sample(16, seed=0)  # uint8 (16, H, W, C), pixels 0 or 255; one compiled loop",
                "# x: binary float images (n, H, W, C) in {0, 1}, e.g. keras_genai.data.images(..., "
                "binarize='fixed', value_range=(0, 1))",
                "log_p = model.log_prob(x)  # exact log-likelihood, nats per image",
                "bpd = model.bits_per_dim(x)"]

    @classmethod
    def card_metrics(cls, key, results):
        """The exact test likelihood (``default_evaluation``) as its table; others as the base's."""
        from keras_genai.zoo import preset

        return preset.likelihood_table(key, results) if "nll" in results else super().card_metrics(key, results)

    def default_evaluation(self, metadata, num_examples=None, batch_size=500, **options):
        """``keras-genai evaluate``: the exact test NLL (nats per image, bits/dim) on the fixed
        binarization of the test split (``metrics.pixelcnn.evaluate_pixelcnn``); stored as
        ``test_likelihood``."""
        from keras_genai.metrics import pixelcnn as pixelcnn_metrics

        return "test_likelihood", pixelcnn_metrics.evaluate_pixelcnn(self, metadata["dataset"],
                                                                     num_examples=num_examples, batch_size=batch_size)


@recipe_builder
def gated_pixelcnn(image_shape=(28, 28, 1), filters=64, num_layers=7, kernel_size=3, first_kernel_size=7,
                   output_units=(256,), num_classes=None, seed=None) -> PixelCNN:
    """A Bernoulli PixelCNN on the gated network (vertical + horizontal stacks, no blind spot);
    see ``keras_genai.nets.gated_pixelcnn`` for the arguments. Uncompiled."""
    network = nets.gated_pixelcnn(image_shape, filters=filters, num_layers=num_layers, kernel_size=kernel_size,
                                  first_kernel_size=first_kernel_size, output_units=output_units,
                                  num_classes=num_classes)
    return PixelCNN(network, num_classes=num_classes, seed=seed, name="gated_pixelcnn")


@recipe_builder
def masked_pixelcnn(image_shape=(28, 28, 1), filters=64, num_layers=7, kernel_size=3, first_kernel_size=7,
                    output_units=(256,), num_classes=None, seed=None) -> PixelCNN:
    """A Bernoulli PixelCNN on the original masked-convolution network (type A, then type-B
    residual blocks; it has the blind spot). Uncompiled."""
    network = nets.masked_pixelcnn(image_shape, filters=filters, num_layers=num_layers, kernel_size=kernel_size,
                                   first_kernel_size=first_kernel_size, output_units=output_units, num_classes=num_classes)
    return PixelCNN(network, num_classes=num_classes, seed=seed, name="pixelcnn")
