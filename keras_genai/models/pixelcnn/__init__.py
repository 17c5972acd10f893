"""The PixelCNN family: ``PixelCNN`` (exact likelihood, compiled sampling) and its builders."""

from keras_genai.models.pixelcnn.model import PixelCNN, gated_pixelcnn, masked_pixelcnn

__all__ = ["PixelCNN", "gated_pixelcnn", "masked_pixelcnn"]
