"""Evaluation of PixelCNNs: the exact test negative log-likelihood (nats per image, bits/dim).

Binarized datasets are evaluated on one FIXED Bernoulli sample of the test split (as for the
VAEs: ``keras_genai.metrics.vae.test_batches``), so PixelCNN and VAE numbers on binarized MNIST
are measured on the same images. A PixelCNN's likelihood is exact: no bound, no sampling.
"""

import time

import numpy as np

from keras_genai.metrics import likelihood


def evaluate_pixelcnn(model, dataset, num_examples=None, batch_size=500, progress=True, data_dir=None,
                      manual_dir=None):
    """The PixelCNN evaluation protocol of the model cards (``keras-genai evaluate <pixelcnn preset>``).

    Args:
        model: a ``keras_genai.models.PixelCNN``; dataset: the preset's dataset section
            ({"name", "value_range", "binarize", "test_binarization_seed", ...}).
        num_examples: the first test images (None: the whole split).
    Returns:
        dict: nll (mean exact -log p(x), nats per image), nll_standard_error, bits_per_dim,
        exact (True), num_examples, reference, binarization, likelihood, seconds.
    """
    import keras

    from keras_genai.metrics.vae import test_batches

    start = time.perf_counter()
    conditional = bool(getattr(model, "num_classes", None))
    batches = test_batches(dataset, batch_size=batch_size, with_labels=conditional, num_examples=num_examples,
                           data_dir=data_dir, manual_dir=manual_dir)
    bar = keras.utils.Progbar(num_examples, unit_name="image") if progress else None
    nll = []
    for images, labels in batches:
        nll.append(-model.log_prob(images, labels=labels, batch_size=batch_size))
        if bar is not None:
            bar.add(len(images), values=[("nll", float(nll[-1].mean()))])
    summary = likelihood.nll_summary(nll, int(np.prod(model.image_shape)))
    binarization = (f"fixed Bernoulli sample of the test split, seed {int(dataset.get('test_binarization_seed', 0))}"
                    if dataset.get("binarize") else "none")
    return {
        **summary,
        "exact": True,
        "reference": f"{dataset['name']}/test",
        "binarization": binarization,
        "likelihood": "bernoulli",
        "seconds": round(time.perf_counter() - start, 1),
    }
