"""keras_genai: a model zoo of generative models for Keras 3 on TensorFlow.

    import keras_genai
    gan = keras_genai.zoo.load("dcgan_mnist")
    images = gan.sample(16, seed=0)   # uint8, (16, 28, 28, 1)
"""

__version__ = "0.1.0"

from keras_genai import callbacks, data, export, losses, metrics, models, nets, plot, zoo  # noqa: E402

__all__ = ["callbacks", "data", "export", "losses", "metrics", "models", "nets", "plot", "zoo"]
