"""Language-model metrics: loss in nats per character, bits per character, perplexity."""

import math

import numpy as np

from keras_genai import data


def character_loss(model, text, batch_size=32, sequence_length=None):
    """Mean negative log-likelihood of ``text`` under a character model.

    The text is cut into windows of ``sequence_length + 1`` characters (default: the model's
    context) that start every ``sequence_length`` characters, so consecutive windows share one
    character and every character after the first is predicted exactly once, from the ones
    before it in its window (as during training). The tail shorter than a window is left out.

    Args:
        model: a ``keras_genai.models.GPT``.
        text: str; every character must be in the model's vocabulary.
    Returns:
        dict: nats_per_char, bits_per_char, perplexity (exp of nats), characters (scored).
    """
    length = sequence_length or model.context_length
    if length > model.context_length:
        raise ValueError(f"sequence_length {length} is longer than the model's context ({model.context_length})")
    windows = data.text_windows(model.encode(text), length, batch_size, shuffle=False)
    total, count = 0.0, 0
    for tokens, targets in windows:
        logits = model(tokens, training=False).numpy().astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, targets.numpy()[..., None], axis=-1)
        total -= float(picked.sum())
        count += picked.size
    nats = total / count
    return {"nats_per_char": nats, "bits_per_char": nats / math.log(2.0), "perplexity": math.exp(nats),
            "characters": count, "sequence_length": length}


def evaluate_splits(model, dataset="tiny_shakespeare", splits=("validation", "test"), data_dir=None,
                    manual_dir=None):
    """``character_loss`` on each TFDS split: {split: results}."""
    return {split: character_loss(model, data.text(dataset, split=split, data_dir=data_dir, manual_dir=manual_dir))
            for split in splits}
