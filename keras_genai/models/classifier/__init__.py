"""The classifier family: ``Classifier``, the small CNN behind the MNIST features of the evaluation."""

from keras_genai.models.classifier.model import Classifier

__all__ = ["Classifier"]
