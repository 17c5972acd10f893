"""Sample-quality and likelihood metrics for generative models (numpy, float64)."""

from keras_genai.metrics.frechet import (  # noqa: F401
    FeatureStatistics,
    fid_from_features,
    fid_from_statistics,
    frechet_distance,
)
from keras_genai.metrics.inception import inception_score, inception_score_from_logits  # noqa: F401
from keras_genai.metrics.kid import kernel_inception_distance  # noqa: F401
from keras_genai.metrics.likelihood import (  # noqa: F401
    bits_per_character,
    bits_per_dim,
    elbo,
    importance_weighted_nll,
    log_mean_exp,
    nats_to_bits,
    perplexity,
)
from keras_genai.metrics.improved_precision_recall import precision_recall  # noqa: F401
from keras_genai.metrics import evaluate, features, language  # noqa: F401,E402
from keras_genai.metrics.features import FeatureExtractor, inception_v3, mnist_classifier  # noqa: F401,E402
