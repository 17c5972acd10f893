"""Sample-quality evaluation of a generative model against a reference dataset.

Images are streamed in batches through a feature network (``features.py``); only features and
logits are kept (10,000 x 128 floats for the MNIST network), never the images. FID uses
streaming statistics; KID, precision/recall and IS use the kept features and logits.
"""

import numpy as np

from keras_genai.metrics.features import FeatureExtractor, get as get_features
from keras_genai.metrics.frechet import FeatureStatistics, fid_from_statistics
from keras_genai.metrics.inception import inception_score_from_logits
from keras_genai.metrics.kid import kernel_inception_distance
from keras_genai.metrics.improved_precision_recall import precision_recall
from keras_genai.models.images import check_count

METRICS = ("fid", "kid", "is", "pr")


def model_batches(model, num_samples, batch_size=500, seed=0, candidates=1, conditions=None):
    """Yields uint8 sample batches from ``model.sample``, seeded per batch (reproducible).

    A conditional model (``num_classes``) gets balanced labels ``i % num_classes`` and the
    batches are ``(images, labels)`` pairs. ``candidates`` > 1 asks for discriminator-ranked
    samples (a ``sample`` condition of GANs: ``GAN.sample(..., candidates=...)``); ``conditions``
    are more keyword arguments of ``sample`` (a diffusion model's ``steps``, ``sampler``).
    """
    num_classes = model.num_classes
    options = {"candidates": candidates} if candidates != 1 else {}
    options.update(conditions or {})
    for index, start in enumerate(range(0, num_samples, batch_size)):
        count = min(batch_size, num_samples - start)
        batch_seed = seed * 1_000_003 + index
        if num_classes:
            labels = (start + np.arange(count)) % num_classes
            yield model.sample(count, seed=batch_seed, labels=labels, **options), labels
        else:
            yield model.sample(count, seed=batch_seed, **options)


def dataset_batches(name, split, num_samples=None, batch_size=500, data_dir=None, manual_dir=None):
    """Yields uint8 image batches of a TFDS split in its stored order (first ``num_samples``)."""
    from keras_genai import data
    from keras_genai.models.images import to_uint8

    ds = data.images(name, split=split, batch_size=batch_size, shuffle=False, drop_remainder=False,
                     data_dir=data_dir, manual_dir=manual_dir)
    seen = 0
    for batch in ds:
        if num_samples is not None and seen >= num_samples:
            return
        if num_samples is not None:
            batch = batch[: num_samples - seen]
        seen += int(batch.shape[0])
        yield to_uint8(batch).numpy()


class Collected:
    """Features, logits and feature statistics of one image stream."""

    def __init__(self, extractor, batches, total=None, progress=False, label=""):
        self.statistics = FeatureStatistics()
        features, logits, labels = [], [], []
        bar = _progress(total, label) if progress else None
        for batch in batches:
            if isinstance(batch, tuple):
                batch, batch_labels = batch
                labels.append(batch_labels)
            f, l = extractor(batch)
            self.statistics.update(f)
            features.append(f)
            logits.append(l)
            if bar is not None:
                bar.add(len(batch))
        if not features:
            raise ValueError("no images to evaluate")
        self.features = np.concatenate(features)
        self.logits = np.concatenate(logits)
        self.labels = np.concatenate(labels) if labels else None  # requested classes, if any

    @property
    def count(self):
        return len(self.features)


def compare(extractor, reference, candidate, metrics=METRICS, seed=0, is_splits=10):
    """Metrics of ``candidate`` against ``reference`` (both ``Collected``).

    Returns a dict: fid; kid_mean, kid_std; is_mean, is_std (of the candidate); precision,
    recall (k=3); and for conditional samples under the MNIST network, label_accuracy.
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; expected some of {METRICS}")
    results = {}
    if "fid" in metrics:
        results["fid"] = fid_from_statistics(reference.statistics, candidate.statistics)
    if "kid" in metrics:
        results["kid_mean"], results["kid_std"] = kernel_inception_distance(
            reference.features, candidate.features, seed=seed
        )
    if "is" in metrics:
        results["is_mean"], results["is_std"] = inception_score_from_logits(candidate.logits, splits=is_splits)
    if "pr" in metrics:
        results.update(precision_recall(reference.features, candidate.features, k=3))
    if candidate.labels is not None and extractor.name == "mnist":
        # Conditional samples: how often the classifier recognises the requested class.
        results["label_accuracy"] = float(np.mean(candidate.logits.argmax(-1) == candidate.labels))
    return {key: float(value) for key, value in results.items()}


def evaluate(model, metrics=METRICS, num_samples=10_000, features="mnist", reference=("mnist", "test"),
             batch_size=500, seed=0, progress=True, data_dir=None, manual_dir=None, candidates=1, conditions=None):
    """Evaluates ``model.sample`` against a TFDS reference split.

    Args:
        model: anything with ``sample(n, seed=int)`` -> uint8 (n, H, W, C); a conditional
            model (``num_classes``) is sampled with balanced labels.
        metrics: subset of ("fid", "kid", "is", "pr").
        num_samples: generated images (10,000 is the usual protocol).
        features: "mnist" (offline domain network), "inception", or a ``FeatureExtractor``.
        reference: (TFDS name, split); the whole split is used.
        candidates: 1, or for GANs the draws per image of discriminator-ranked sampling.
        conditions: None or a dict of more ``sample`` keyword arguments (``{"steps": 10}``).
    Returns:
        dict of metric values plus the protocol (features, reference, counts, seed, and
        candidates when above 1 and conditions when given).
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2, got {num_samples}")
    candidates = check_count(candidates, "candidates")  # before the reference split is read
    extractor = features if isinstance(features, FeatureExtractor) else get_features(features)
    name, split = reference
    real = Collected(extractor, dataset_batches(name, split, None, batch_size, data_dir, manual_dir),
                     progress=progress, label=f"{name}/{split}")
    fake = Collected(extractor, model_batches(model, num_samples, batch_size, seed, candidates, conditions),
                     total=num_samples,
                     progress=progress, label="samples")
    results = compare(extractor, real, fake, metrics, seed=seed)
    results.update(features=extractor.name, reference=f"{name}/{split}", reference_count=real.count,
                   num_samples=fake.count, seed=seed)
    if candidates != 1:
        results["candidates"] = candidates
    if conditions:
        results["conditions"] = dict(conditions)
    return results


# The preset of the feature network "mnist", whose card holds the real-data floors.
FEATURES_PRESET = "mnist_classifier"


def sample_quality(model, metadata, metrics=METRICS, num_samples=10_000, features="mnist", reference=None, seed=0,
                   batch_size=500, candidates=1, conditions=None, **options):
    """The default evaluation of ``keras-genai evaluate`` (``GenerativeModel.default_evaluation``):
    ``evaluate`` of the model's samples against ``reference`` ("dataset/split", default the test
    split of the preset's dataset), with the real-data floor of the MNIST feature network's card
    when there is one. Returns ``(card key, results)``: ``<features>_features``, with
    ``_ranked_best_of_<candidates>`` for ranked samples and ``_<name>_<value>`` per condition
    (sorted by name; ``mnist_features_sampler_ddim_steps_10``). Other ``options`` are ignored."""
    from keras_genai import zoo

    name, _, split = (reference or f"{metadata['dataset']['name']}/test").partition("/")
    results = evaluate(model, metrics=metrics, num_samples=num_samples, features=features,
                       reference=(name, split or "test"), batch_size=batch_size, seed=seed, candidates=candidates,
                       conditions=conditions)
    if features == "mnist":
        floor = zoo.info(FEATURES_PRESET).get("metrics", {}).get(f"real_data_floor_{name}")
        if floor:
            results["real_data_floor"] = {k: floor[k] for k in ("fid", "is_mean", "candidate", "reference")}
    ranked = f"_ranked_best_of_{candidates}" if candidates != 1 else ""
    settings = "".join(f"_{key}_{value}" for key, value in sorted((conditions or {}).items()))
    return f"{features}_features{ranked}{settings}", results


def real_data_floor(features="mnist", dataset="mnist", reference_split="test", other_split="train",
                    num_samples=10_000, metrics=METRICS, batch_size=500, seed=0, progress=True):
    """The same metrics for real images: ``num_samples`` of ``other_split`` vs ``reference_split``.

    This is the best a generator can be expected to score under this protocol.
    """
    extractor = features if isinstance(features, FeatureExtractor) else get_features(features)
    real = Collected(extractor, dataset_batches(dataset, reference_split, None, batch_size), progress=progress,
                     label=f"{dataset}/{reference_split}")
    other = Collected(extractor, dataset_batches(dataset, other_split, num_samples, batch_size),
                      total=num_samples, progress=progress, label=f"{dataset}/{other_split}")
    results = compare(extractor, real, other, metrics, seed=seed)
    results["is_of_reference_mean"], results["is_of_reference_std"] = inception_score_from_logits(real.logits)
    results.update(features=extractor.name, reference=f"{dataset}/{reference_split}",
                   candidate=f"{dataset}/{other_split}[:{other.count}]", seed=seed)
    return results


def _progress(total, label):
    import keras

    print(f"features of {label}", flush=True)
    return keras.utils.Progbar(total, unit_name="image")
