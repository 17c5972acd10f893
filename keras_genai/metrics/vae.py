"""Evaluation of VAEs: test ELBO and importance-weighted NLL, label accuracy of conditional samples.

Binarized datasets are evaluated on one FIXED Bernoulli sample of the test split
(``keras_genai.data.images(..., binarize="fixed", seed=dataset["test_binarization_seed"])``), the
same images for every evaluation and every model.
"""

import time

import numpy as np

from keras_genai.metrics import likelihood


def test_batches(dataset, batch_size=500, with_labels=False, num_examples=None, data_dir=None, manual_dir=None):
    """Yields test batches (images float32, labels int32 or None) for a preset's dataset section.

    ``dataset``: {"name", "value_range", "binarize", "test_binarization_seed", ...}; a binarized
    dataset yields the fixed binarization of its test split; ``num_examples`` keeps the first ones.
    """
    from keras_genai import data

    options = {"value_range": tuple(dataset.get("value_range", (-1.0, 1.0)))}
    if dataset.get("binarize"):
        options.update(binarize="fixed", seed=int(dataset.get("test_binarization_seed", 0)))
    ds = data.images(dataset["name"], split="test", batch_size=batch_size, shuffle=False, drop_remainder=False,
                     with_labels=with_labels, data_dir=data_dir, manual_dir=manual_dir, **options)
    seen = 0
    for batch in ds:
        images, labels = (batch[0].numpy(), batch[1].numpy()) if with_labels else (batch.numpy(), None)
        if num_examples is not None:
            images = images[: num_examples - seen]
            labels = labels[: num_examples - seen] if labels is not None else None
        if not len(images):
            return
        seen += len(images)
        yield images, labels


def likelihood_bounds(model, batches, k=5000, seed=0, total=None, progress=True):
    """Mean ELBO terms and importance-weighted NLL (nats per image) over ``batches``.

    Args:
        model: a ``keras_genai.models.VAE``.
        batches: iterable of (images, labels or None) in the model's value range.
        k: importance samples per image (>= 1).
    Returns:
        dict: nll (mean IW bound), nll_standard_error, elbo, reconstruction, kl (means),
        bits_per_dim (of the NLL), k, num_examples, seconds.
    """
    import keras

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (importance samples) must be an integer >= 1, got {k!r}")
    start = time.perf_counter()
    bar = keras.utils.Progbar(total, unit_name="image") if progress else None
    nll, elbo, reconstruction, kl = [], [], [], []
    for index, (images, labels) in enumerate(batches):
        terms = model.elbo(images, labels=labels, seed=seed * 1_000_003 + index)
        elbo.append(terms["elbo"])
        reconstruction.append(terms["reconstruction"])
        kl.append(terms["kl"])
        nll.append(model.importance_weighted_nll(images, labels=labels, k=k, seed=seed * 1_000_003 + index,
                                                 batch_size=len(images)))
        if bar is not None:
            bar.add(len(images), values=[("nll", float(nll[-1].mean()))])
    # A discrete likelihood gives bits per dimension; a Gaussian density does not.
    summary = likelihood.nll_summary(nll, int(np.prod(model.image_shape)), discrete=model.likelihood != "gaussian")
    return {
        **summary,
        "elbo": float(np.concatenate(elbo).mean()),
        "reconstruction": float(np.concatenate(reconstruction).mean()),
        "kl": float(np.concatenate(kl).mean()),
        "k": int(k),
        "seconds": round(time.perf_counter() - start, 1),
    }


def label_accuracy(model, num_samples=10_000, batch_size=500, seed=0):
    """How often the MNIST classifier recognises conditional samples as the requested digit.

    Samples use balanced labels ``i % num_classes`` and a seed per batch (as for GANs).
    Returns a float in [0, 1].
    """
    from keras_genai.metrics.evaluate import model_batches
    from keras_genai.metrics.features import get as get_features

    if not getattr(model, "num_classes", None):
        raise ValueError("label accuracy needs a conditional model (num_classes)")
    classifier = get_features("mnist")
    hits = total = 0
    for images, labels in model_batches(model, num_samples, batch_size, seed):
        _, logits = classifier(images)
        hits += int(np.sum(np.asarray(logits).argmax(-1) == labels))
        total += len(labels)
    return hits / total


def evaluate_vae(model, dataset, k=5000, num_examples=None, num_samples=10_000, batch_size=500, seed=0,
                 progress=True, data_dir=None, manual_dir=None):
    """The VAE evaluation protocol of the model cards (``keras-genai evaluate <vae preset>``).

    Args:
        model: a ``VAE``; dataset: the preset's dataset section.
        k: importance samples per test image; num_examples: first test images (None: all).
        num_samples: conditional models: samples for the label accuracy (MNIST classifier).
    Returns:
        dict: ``likelihood_bounds`` results, the protocol (test set, binarization), and
        ``label_accuracy`` / ``label_accuracy_samples`` for a conditional MNIST model.
    """
    conditional = bool(getattr(model, "num_classes", None))
    total = num_examples
    if total is None:
        from keras_genai import data

        total = data.builder(data.image_spec(dataset["name"]).tfds_name, data_dir, manual_dir).info.splits["test"].num_examples
    batches = test_batches(dataset, batch_size=batch_size, with_labels=conditional, num_examples=num_examples,
                           data_dir=data_dir, manual_dir=manual_dir)
    results = likelihood_bounds(model, batches, k=k, seed=seed, total=total, progress=progress)
    binarization = (f"fixed Bernoulli sample of the test split, seed {int(dataset.get('test_binarization_seed', 0))}"
                    if dataset.get("binarize") else "none")
    results.update(reference=f"{dataset['name']}/test", binarization=binarization, likelihood=model.likelihood,
                   seed=seed)
    if conditional and dataset["name"] == "mnist":
        results["label_accuracy"] = float(label_accuracy(model, num_samples, batch_size, seed))
        results["label_accuracy_samples"] = int(num_samples)
    return results
