"""A preset folder on disk: config.json, metadata.json, model.weights.h5, README.md, samples.png.

A preset is data only. ``config.json`` is the Keras serialization of the compiled model
(architecture and optimizers), ``metadata.json`` says where it came from and what was measured
(dataset, recipe, metrics, sha256 of the weights), ``README.md`` is the model card rendered
from the metadata.
"""

import copy
import datetime
import json
import numbers
import os
import shutil

import keras

from keras_genai import files
from keras_genai.zoo.errors import MissingWeightsError, PresetError
from keras_genai.zoo.remote import sha256_of, verify

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"


def read_json(folder, name):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise PresetError(f"{folder} is not a preset folder: {name} is missing")
    with open(path) as f:
        return json.load(f)


def build_model(folder, dtype=None, seed=None):
    """The untrained, uncompiled model of ``folder/config.json`` and its compile config
    (None when it was saved uncompiled): ``(model, compile_config)``. ``dtype``: a dtype policy
    for the computations (see ``with_dtype_policy``). ``seed``: an integer that replaces the
    model's own ``seed`` (see ``zoo.load``)."""
    config = read_json(folder, CONFIG_FILE)
    compile_config = config.pop("compile_config", None)
    if dtype is not None:
        config = with_dtype_policy(config, dtype)
    if seed is not None:
        if not has_noise_seed(config):
            raise ValueError(f"the model of {folder} ({config.get('class_name')}) has no seed to set")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        config["config"]["seed"] = int(seed)
    return keras.saving.deserialize_keras_object(config), compile_config


def has_noise_seed(config):
    """Whether a serialized model (a config.json dict) has a ``seed`` argument."""
    return "seed" in config.get("config", {})


DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
# Layers that only move values around: an output produced through them keeps its producer in float32.
_SHAPE_ONLY_LAYERS = ("Reshape", "Flatten", "Permute")


def with_dtype_policy(config, dtype):
    """A copy of a serialized model that computes under the dtype policy ``dtype``.

    ``dtype`` is one of ``DTYPE_POLICIES`` (a name or a ``keras.DTypePolicy``). Every layer
    takes the policy (a layer that fixes its own, such as ``nets.GaussianMixturePrior``, keeps
    float32) except those that produce the outputs of a functional network (looking
    through Reshape/Flatten/Permute), which stay as saved (float32): images, logits and
    distribution parameters keep full precision, as when the nets are built under a global
    mixed policy. Variables are float32 under all three policies, so the same weights file
    loads either way.
    """
    name = getattr(dtype, "name", dtype)
    if name not in DTYPE_POLICIES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_POLICIES)} (presets keep float32 weights), "
                         f"got {dtype!r}")
    policy = keras.saving.serialize_keras_object(keras.dtype_policies.get(name))
    float_dtypes = ("float16", "bfloat16", "float32")

    def replace(node, keep_policy=False):
        if isinstance(node, dict):
            if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and "config" in node:
                return node if keep_policy else copy.deepcopy(policy)
            if (node.get("class_name") == "__keras_tensor__" and name == "float32"
                    and node.get("config", {}).get("dtype") in float_dtypes):
                # The recorded dtypes of a functional graph's intermediate tensors (informative only).
                return {**node, "config": {**node["config"], "dtype": "float32"}}
            if node.get("class_name") == "Functional":
                outputs = _output_layers(node.get("config", {}))
                layers = [replace(layer, keep_policy=layer.get("name") in outputs)
                          for layer in node.get("config", {}).get("layers", [])]
                node = {**node, "config": {**node["config"], "layers": layers}}
                return {key: value if key == "config" else replace(value, keep_policy) for key, value in node.items()}
            return {key: replace(value, keep_policy) for key, value in node.items()}
        if isinstance(node, (list, tuple)):
            return [replace(value, keep_policy) for value in node]
        return node

    return replace(config)


def _output_layers(functional_config):
    """Names of the layers of a serialized functional network that produce its outputs,
    followed back through shape-only layers."""
    outputs = functional_config.get("output_layers") or []
    if outputs and isinstance(outputs[0], str):  # a single output: [name, node, tensor]
        outputs = [outputs]
    layers = {layer.get("name"): layer for layer in functional_config.get("layers", [])}
    found, pending = set(), [entry[0] for entry in outputs]
    while pending:
        name = pending.pop()
        if name in found or name not in layers:
            continue
        found.add(name)
        if layers[name].get("class_name") in _SHAPE_ONLY_LAYERS:
            for node in layers[name].get("inbound_nodes", []):
                for arg in node.get("args", []):
                    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
                        pending.append(arg["config"]["keras_history"][0])
    return found


def load_weights(model, path, sha256=None):
    """Loads a ``.weights.h5`` file into ``model`` after checking its sha256 (if given)."""
    if not os.path.isfile(path):
        raise MissingWeightsError(f"weights file {path} does not exist")
    if sha256:
        verify(path, sha256, "weights file")
    try:
        model.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for broken files
        raise PresetError(f"could not load weights from {path}: {error}") from error


def save_preset(model, folder, metadata, overwrite=False, samples=True, dtype=None):
    """Writes ``model`` as a preset folder, atomically.

    Args:
        model: a family model (``get_config``/``save_weights``; ``sample`` for samples.png).
        folder: destination; refused if it exists unless ``overwrite``.
        metadata: dict (name, family, description, dataset, training, metrics, ...); the
            weights entry (file, sha256) is filled in here.
        samples: also write samples.png, the grid of ``model.preview(64, seed=0)``.
        dtype: the dtype policy written into config.json (for example ``"float32"`` for a
            model trained under ``"mixed_bfloat16"``); None keeps the model's.
    Returns:
        The metadata as written.
    """
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and not overwrite:
        raise FileExistsError(f"{folder} exists; pass overwrite=True to replace it")
    staging = files.staging_folder(folder)
    try:
        metadata = copy.deepcopy(metadata)
        config = keras.saving.serialize_keras_object(model)
        if dtype is not None:
            config = with_dtype_policy(config, dtype)
        with open(os.path.join(staging, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=1)
        saved = _save_weights_without_optimizer(model, config, os.path.join(staging, WEIGHTS_FILE))
        metadata["weights"] = {
            "file": WEIGHTS_FILE,
            "sha256": sha256_of(os.path.join(staging, WEIGHTS_FILE)),
            "bytes": os.path.getsize(os.path.join(staging, WEIGHTS_FILE)),
        }
        metadata.setdefault("saved_at", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        metadata["parameters"] = int(model.count_params())
        if samples:
            from keras_genai import plot

            images, columns = saved.preview(64, seed=0)  # as a user who loads the preset sees it
            plot.save_grid(images, os.path.join(staging, SAMPLES_FILE), columns=columns)
        write_metadata(staging, metadata)
        files.publish_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def write_metadata(folder, metadata):
    """Writes metadata.json and re-renders README.md (the model card) from it."""
    with open(os.path.join(folder, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=False)
        f.write("\n")
    with open(os.path.join(folder, CARD_FILE), "w") as f:
        f.write(render_model_card(metadata))


def _save_weights_without_optimizer(model, config, path):
    """Saves ``model``'s weights from a fresh, uncompiled copy built from ``config``; returns the copy."""
    config = dict(config)
    config.pop("compile_config", None)
    bare = keras.saving.deserialize_keras_object(config)
    bare.set_weights(model.get_weights())
    bare.save_weights(path)
    return bare


def render_model_card(metadata):
    """The model card (Markdown) for a preset's metadata."""
    name = metadata["name"]
    lines = [f"# {name}", "", metadata.get("description", ""), ""]
    lines += ["## Use", "", "```python", "import keras_genai", f'model = keras_genai.zoo.load("{name}")']
    lines += _use_lines(metadata) + ["```", ""]
    weights = metadata.get("weights") or {}
    if not weights.get("sha256"):
        lines += ["## Weights", "", weights.get("unavailable", "No pretrained weights are shipped."), ""]
    dataset = metadata.get("dataset", {})
    if dataset:
        lines += ["## Data", ""]
        lines += [f"- {key}: {_fmt(value)}" for key, value in dataset.items()]
        lines.append("")
    training = metadata.get("training", {})
    if training:
        lines += ["## Training", ""]
        lines += [f"- {key}: {_fmt(value)}" for key, value in training.items() if key != "command"]
        if "command" in training:
            lines += ["", "Reproduce:", "", "```bash", training["command"], "```"]
        lines.append("")
    lines += ["## Evaluation", ""]
    metrics = metadata.get("metrics") or {}
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    lines += [f"- {key}: {_fmt(value)}" for key, value in scalars.items()]
    for key, value in metrics.items():
        if key == "language":
            lines += _language_section(value)
        elif isinstance(value, dict):
            lines += _likelihood_section(key, value) if "nll" in value else _evaluation_section(key, value)
    if not metrics:
        lines.append("No metrics measured yet.")
    lines.append("")
    if weights.get("sha256"):
        lines += ["## Files", "", f"- {weights['file']}: {weights['bytes']} bytes, sha256 `{weights['sha256']}`"]
        lines += [f"- parameters: {metadata.get('parameters')}", ""]
        if metadata.get("sample_text"):
            sample = metadata["sample_text"]
            lines += ["## Sample", "", f"`model.generate({sample['prompt']!r}, {sample['max_new_tokens']}, "
                      f"temperature={sample['temperature']}, seed={sample['seed']})`:", "", "```text",
                      sample["text"], "```", ""]
        elif metadata.get("family") not in ("classifier", "gpt"):
            lines += ["## Samples", "", f"![samples]({SAMPLES_FILE})", "", "`model.preview(64, seed=0)`", ""]
    if metadata.get("limitations"):
        lines += ["## Limitations", "", metadata["limitations"], ""]
    return "\n".join(lines)


_METRIC_ROWS = [
    ("FID", "fid", None),
    ("KID", "kid_mean", "kid_std"),
    ("Inception Score (of the feature network's classes)", "is_mean", "is_std"),
    ("IS of the reference images", "is_of_reference_mean", "is_of_reference_std"),
    ("precision (k=3)", "precision", None),
    ("recall (k=3)", "recall", None),
    ("samples recognised as the requested class", "label_accuracy", None),
]


def _evaluation_section(title, results):
    """A Markdown table for one evaluation run (``keras-genai evaluate`` or ``floor``)."""
    candidate = results.get("candidate") or f"{results.get('num_samples')} samples (seed {results.get('seed')})"
    if results.get("candidates"):
        candidate += f", each the most real of {results['candidates']} generator draws by the discriminator"
    lines = ["", f"### {title}", "",
             f"{results.get('features')} features; {candidate} against {results.get('reference')}"
             + (f" ({results['reference_count']} images)" if results.get("reference_count") else "") + ".", "",
             "| metric | value |", "| --- | --- |"]
    for label, mean_key, std_key in _METRIC_ROWS:
        if mean_key in results:
            value = f"{results[mean_key]:.4g}" + (f" ± {results[std_key]:.2g}" if std_key in results else "")
            lines.append(f"| {label} | {value} |")
    floor = results.get("real_data_floor")
    if floor:
        lines += ["", f"Real-data floor under the same protocol ({floor.get('candidate')} vs {floor.get('reference')}): "
                  f"FID {floor['fid']:.3g}, IS {floor['is_mean']:.3g}; see the feature network's model card."]
    if results.get("command"):
        lines += ["", "```bash", results["command"], "```"]
    return lines


def _language_section(results):
    """A Markdown table of a language model's loss per split (``keras-genai evaluate``)."""
    lines = ["", "### Character-level loss", "",
             "Consecutive non-overlapping windows of the model's context; every character after the "
             "first of a window is predicted from the ones before it.", "",
             "| split | nats / char | bits / char | perplexity | characters |", "| --- | --- | --- | --- | --- |"]
    for split, r in results.items():
        if isinstance(r, dict):
            lines.append(f"| {split} | {r['nats_per_char']:.4f} | {r['bits_per_char']:.4f} | {r['perplexity']:.3f} "
                         f"| {r['characters']} |")
    if results.get("command"):
        lines += ["", "```bash", results["command"], "```"]
    return lines


def _use_lines(metadata):
    """The lines after ``load`` in the card's "Use" snippet, per family."""
    if metadata.get("family") == "gpt":
        return ['text = model.generate("ROMEO:\\n", max_new_tokens=300, temperature=0.8, seed=0)',
                'greedy = model.generate("ROMEO:\\n", max_new_tokens=300, temperature=0)']
    if metadata.get("family") == "pixelcnn":
        return ["images = model.sample(16, seed=0)  # uint8 (16, H, W, C), pixels 0 or 255; one compiled loop",
                "# x: binary float images (n, H, W, C) in {0, 1}, e.g. keras_genai.data.images(..., "
                "binarize='fixed', value_range=(0, 1))",
                "log_p = model.log_prob(x)  # exact log-likelihood, nats per image",
                "bpd = model.bits_per_dim(x)"]
    if metadata.get("family") != "vae":
        return ["images = model.sample(16, seed=0)  # uint8, (16, H, W, C)"]
    conditional = "labels" in metadata.get("dataset", {})
    labels, label_arg = ("labels = list(range(10)) + list(range(6))\n", ", labels=labels") if conditional else ("", "")
    data_arg = ", labels=y" if conditional else ""
    low, high = metadata.get("dataset", {}).get("value_range", [-1, 1])
    lines = (labels + f"images = model.sample(16, seed=0{label_arg})  # uint8, (16, H, W, C)\n"
             f"# x: float images (n, H, W, C) in [{low}, {high}]"
             + (" (binarized: keras_genai.data.images(..., binarize='fixed', value_range=(0, 1)))" if low == 0 else "")
             + "\n"
             f"z = model.encode(x{data_arg})  # posterior means (n, latent_dim)\n"
             f"means = model.decode(z{data_arg})  # mean images in [{low}, {high}]\n"
             f"nll = model.importance_weighted_nll(x{data_arg}, k=5000)  # nats per image")
    return lines.split("\n")


def _likelihood_section(title, results):
    """A Markdown table for a likelihood evaluation (``keras-genai evaluate <vae preset>``)."""
    lines = ["", f"### {title}", "",
             f"{results.get('num_examples')} images of {results.get('reference')} "
             f"(binarization: {results.get('binarization', 'none')}); {results.get('likelihood', '')} likelihood; "
             f"nats per image.", "", "| metric | value |", "| --- | --- |"]
    if "nll" in results and results.get("exact"):
        lines.append(f"| test NLL (exact) | {results['nll']:.2f} ± {results.get('nll_standard_error', 0):.2f} (s.e.) |")
    elif "nll" in results:
        lines.append(f"| test NLL, importance-weighted bound (k={results.get('k')}) | "
                     f"{results['nll']:.2f} ± {results.get('nll_standard_error', 0):.2f} (s.e.) |")
    rows = [("test ELBO (1 sample)", "elbo", "{:.2f}"), ("reconstruction, -E_q log p(x|z)", "reconstruction", "{:.2f}"),
            ("KL(q(z|x) || p(z))", "kl", "{:.2f}"), ("bits/dim (of the NLL)", "bits_per_dim", "{:.4f}")]
    lines += [f"| {label} | {fmt.format(results[key])} |" for label, key, fmt in rows if key in results]
    if "label_accuracy" in results:
        lines.append(f"| samples recognised as the requested digit ({results.get('label_accuracy_samples')} samples, "
                     f"MNIST classifier) | {results['label_accuracy']:.2%} |")
    if results.get("seconds"):
        lines += ["", f"Evaluation time: {results['seconds']:.0f} s."]
    if results.get("command"):
        lines += ["", "```bash", results["command"], "```"]
    return lines


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value) + "`"
    return str(value)
