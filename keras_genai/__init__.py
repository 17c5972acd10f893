"""keras_genai: a model zoo of generative models for Keras 3 on TensorFlow.

    import keras_genai
    gan = keras_genai.zoo.load("dcgan_mnist")
    images = gan.sample(16, seed=0)   # uint8, (16, 28, 28, 1)

``import keras_genai`` imports every submodule, so that the families' classes are registered
with Keras (``keras.saving.load_model`` finds them) and costs little on top of TensorFlow and
Keras (benchmarks/import_time.py). The one exception is the ``keras-genai`` command itself,
which imports what each command needs: ``--help``, ``list`` and ``info`` read files only and
never start TensorFlow.
"""

import importlib
import os
import sys

__version__ = "0.1.0"

__all__ = ["callbacks", "data", "export", "losses", "metrics", "models", "nets", "plot", "zoo"]


def _started_as_the_command_line():
    """Whether this process is ``keras-genai`` (the console script or ``python -m keras_genai.cli``)."""
    if os.path.basename(sys.argv[0] if sys.argv else "") == "keras-genai":
        return True
    argv = list(getattr(sys, "orig_argv", []))
    return "-m" in argv and argv[argv.index("-m") + 1: argv.index("-m") + 2] == ["keras_genai.cli"]


def __getattr__(name):
    if name in __all__:
        module = importlib.import_module(f"keras_genai.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'keras_genai' has no attribute {name!r}")


if not _started_as_the_command_line():
    from keras_genai import callbacks, data, export, losses, metrics, models, nets, plot, zoo  # noqa: E402,F401
