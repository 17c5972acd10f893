"""``Classifier``: a small CNN image classifier as a family of the zoo (preset ``mnist_classifier``).

It is not generative: it answers the contract's questions that a classifier has answers to.
It trains on labelled images of its preset's dataset, ``keras-genai evaluate`` and ``train``
measure its test accuracy, and it makes no samples (no grid, no "Samples" section on its card).
Its network is the functional graph of ``keras_genai.nets.conv_classifier`` (the model *is* that
graph: ``model.inputs``, ``model.get_layer("features")``), so the feature extractor of
``keras_genai.metrics.features`` cuts it at the 128-d "features" layer.
"""

import keras
import numpy as np
import tensorflow as tf
from keras.src.models.functional import Functional
from keras.src.trainers.trainer import Trainer

from keras_genai.models.base import GenerativeModel
from keras_genai.nets.classifier import conv_classifier


@keras.saving.register_keras_serializable(package="keras_genai")
class Classifier(GenerativeModel, Functional):
    """A two-block CNN classifier: images (batch, H, W, C) float32 in [-1, 1] -> logits (batch, num_classes).

    Args:
        image_shape: (H, W, C) of the images.
        num_classes: number of classes (>= 2).
        feature_dim: width of the layer named "features" (after ReLU) that evaluation uses.
        dropout: dropout rate before and after the features.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    model = keras_genai.models.Classifier((28, 28, 1), num_classes=10, feature_dim=16)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    model.fit(x, np.arange(32) % 10, epochs=1, verbose=0)
    logits = model.predict(x[:4])  # (4, 10)
    ```
    """

    generates = "labels"

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, feature_dim=128, dropout=0.3, name="classifier",
                 **kwargs):
        graph = conv_classifier(tuple(image_shape), num_classes, feature_dim, dropout, name=name)
        # The functional graph itself (not a Model holding one): keras.Model.__init__ would make every
        # GenerativeModel functional (it rewrites the base classes), so the two parts are set up here.
        Trainer.__init__(self)
        Functional.__init__(self, graph.inputs, graph.outputs, name=name, **kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.classes = int(num_classes)
        self.feature_dim = int(feature_dim)
        self.dropout_rate = float(dropout)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "image_shape": list(self.image_shape),
                "num_classes": self.classes, "feature_dim": self.feature_dim, "dropout": self.dropout_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # The compile of keras.Model (a loss and metrics), not the family default of one optimizer only.
    compile = keras.Model.compile
    get_compile_config = keras.Model.get_compile_config
    compile_from_config = keras.Model.compile_from_config

    # ----------------------------------------------------------------- the zoo's questions
    def sample(self, num_samples, seed=None, **conditions):
        raise ValueError("a Classifier labels images, it does not sample them: use model.predict(images)")

    @property
    def sample_conditions(self):
        return ()

    @classmethod
    def card_usage(cls, metadata):
        return ["logits = model.predict(x)  # x: float images (n, 28, 28, 1) in [-1, 1] -> (n, 10) class logits",
                "features, logits = keras_genai.metrics.mnist_classifier(model)(images)  # uint8 images in [0, 255]"]

    @classmethod
    def card_preview(cls, metadata):
        return []

    @classmethod
    def card_metrics(cls, key, results):
        """The test scores of ``default_evaluation`` (accuracy and loss) as a table; the real-data
        floors stored in this card (``keras-genai floor --update-card``) as the base's table."""
        if "test_accuracy" not in results:
            return super().card_metrics(key, results)
        from keras_genai.zoo import preset

        lines = ["", f"### {key}", "", "The test split of the preset's dataset, every image once.", "",
                 "| metric | value |", "| --- | --- |", f"| accuracy | {results['test_accuracy']:.2%} |"]
        if "test_loss" in results:
            lines.append(f"| cross-entropy loss (nats per image) | {results['test_loss']:.4f} |")
        return lines + preset.command_lines(results)

    def training_data(self, dataset, recipe, batch_size, seed, start_epoch=0, steps_per_epoch=None, data_dir=None,
                      manual_dir=None):
        """The labelled images of the preset's dataset split."""
        from keras_genai import data

        return data.preset_images(dataset, batch_size, seed, with_labels=True, start_epoch=start_epoch,
                                  steps_per_epoch=steps_per_epoch, data_dir=data_dir, manual_dir=manual_dir)

    def default_evaluation(self, metadata, batch_size=500, **options):
        """``keras-genai evaluate``: accuracy and loss on the test split; stored as ``test``."""
        return "test", self.test_scores(metadata, batch_size=batch_size)

    def training_report(self, metadata, data_dir=None, manual_dir=None):
        return {"metrics": self.test_scores(metadata, data_dir=data_dir, manual_dir=manual_dir)}

    def test_scores(self, metadata, batch_size=500, data_dir=None, manual_dir=None):
        """{"test_accuracy", "test_loss"} on the test split of the preset's dataset (compiled with a loss)."""
        from keras_genai import data

        if not self.compiled:
            self.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        test = data.images(metadata["dataset"]["name"], split="test", batch_size=batch_size, shuffle=False,
                           with_labels=True, drop_remainder=False, data_dir=data_dir, manual_dir=manual_dir)
        scores = self.evaluate(test, return_dict=True, verbose=0)
        print(f"test accuracy {scores['accuracy']:.4f}")
        return {"test_accuracy": round(float(scores["accuracy"]), 4), "test_loss": round(float(scores["loss"]), 4)}

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        """``serving_default``: images (batch, H, W, C) float32 in [-1, 1] -> ``logits`` (batch, classes)."""
        def classify(images):
            return {"logits": self(images, training=False)}

        return {"serving_default": (classify, [tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")])}

    def example_inputs(self, signature, num_samples=2, seed=0):
        if signature != "serving_default":
            raise self._unknown_signature(signature)
        images = np.random.default_rng(seed).uniform(-1, 1, (num_samples, *self.image_shape)).astype(np.float32)
        return {"images": images}, {"logits": self(images, training=False).numpy()}
