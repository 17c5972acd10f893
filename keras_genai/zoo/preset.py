"""A preset folder on disk: config.json, metadata.json, model.weights.h5, README.md, samples.png.

A preset is data only. ``config.json`` is the Keras serialization of the compiled model
(architecture and optimizers), ``metadata.json`` says where it came from and what was measured
(dataset, recipe, metrics, sha256 of the weights), ``README.md`` is the model card rendered
from the metadata.

Reading metadata (``read_json``, ``validate_metadata``, ``weights_path``) needs no TensorFlow;
building, saving and rendering import Keras and the families when called, so that
``keras-genai list`` and ``info`` start in a fraction of a second.
"""

import copy
import datetime
import json
import os
import re
import shutil

from keras_genai import files
from keras_genai.zoo import stages
from keras_genai.zoo.errors import MissingWeightsError, PresetError
from keras_genai.zoo.remote import is_url, sha256_of, verify

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"


MAX_JSON_DEPTH = 100  # nesting of objects and lists; Keras configs of the shipped presets reach 14


def read_json(folder, name):
    """The JSON object in ``folder/name`` (config.json, metadata.json).

    Raises ``PresetError`` naming the file when it is missing, is not UTF-8 JSON, does not hold
    an object, or nests deeper than ``MAX_JSON_DEPTH``; metadata.json is also checked with
    ``validate_metadata``.
    """
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise PresetError(f"{folder} is not a preset folder: {name} is missing")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except RecursionError:
        raise PresetError(f"{path} nests objects or lists too deeply to be a preset file") from None
    except (ValueError, OSError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PresetError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise PresetError(f"{path} must hold a JSON object, got a {_json_type(data)}")
    if _json_depth(data) > MAX_JSON_DEPTH:
        raise PresetError(f"{path} nests objects or lists more than {MAX_JSON_DEPTH} levels deep, "
                          "too deep to be a preset file")
    if name == METADATA_FILE:
        validate_metadata(data, path)
    elif name == CONFIG_FILE:
        if not isinstance(data.get("class_name"), str) or not isinstance(data.get("config", {}), dict):
            raise PresetError(f"{path} is not a Keras model config: it needs a 'class_name' string and a "
                              "'config' object")
        if not isinstance(data.get("compile_config") or {}, dict):
            raise PresetError(f"{path}: compile_config must be an object, got a {_json_type(data['compile_config'])}")
        refuse_code(data, path)
    return data


def validate_metadata(metadata, path=METADATA_FILE):
    """Raises ``PresetError`` naming the field unless ``metadata`` (a preset's metadata.json) has
    the expected shape: an object; ``name``, ``family``, ``description`` strings; ``dataset``,
    ``training``, ``metrics``, ``weights`` objects; ``weights.file`` a plain file name (no
    folders, no ``..``); ``weights.sha256`` 64 hex digits; ``weights.bytes`` a non-negative
    integer; ``weights.url`` a URL; ``training.command`` a string. Each field may be absent."""
    if not isinstance(metadata, dict):
        raise PresetError(f"{path} must hold a JSON object, got a {_json_type(metadata)}")

    def check(where, field, expected, kind):
        if field in where and not (isinstance(where[field], expected) and not isinstance(where[field], bool)):
            raise PresetError(f"{path}: {kind} expected, got {where[field]!r}")

    for field in ("name", "family", "description"):
        check(metadata, field, str, f"'{field}' must be a string;")
    for field in ("dataset", "training", "metrics", "weights"):
        check(metadata, field, dict, f"'{field}' must be an object;")
    check(metadata.get("training", {}), "command", str, "'training.command' must be a string;")
    weights = metadata.get("weights", {})
    check(weights, "file", str, "'weights.file' must be a file name;")
    if "file" in weights:
        _check_file_name(weights["file"], path)
    sha256 = weights.get("sha256")
    if "sha256" in weights and (not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256)):
        raise PresetError(f"{path}: 'weights.sha256' must be a string of 64 hexadecimal digits, got {sha256!r}")
    check(weights, "bytes", int, "'weights.bytes' must be an integer;")
    if weights.get("bytes", 0) < 0:
        raise PresetError(f"{path}: 'weights.bytes' must not be negative, got {weights['bytes']!r}")
    if "url" in weights and not is_url(weights["url"]):
        raise PresetError(f"{path}: 'weights.url' must be an https://, http:// or file:// URL, "
                          f"got {weights['url']!r}")


def _check_file_name(file_name, path):
    if (not file_name or file_name in (".", "..") or "/" in file_name or "\\" in file_name or "\0" in file_name
            or os.path.isabs(file_name)):
        raise PresetError(f"{path}: 'weights.file' must be the name of a file in the preset folder (no folders, "
                          f"no '..', not absolute), got {file_name!r}")


def weights_path(folder, metadata):
    """The path of the preset's weights file, ``folder/<weights.file>`` (default
    ``model.weights.h5``), whether or not it exists. Raises ``PresetError`` when the name, or a
    symlink on the way, leads outside ``folder``."""
    file_name = (metadata.get("weights") or {}).get("file", WEIGHTS_FILE)
    _check_file_name(file_name, os.path.join(folder, METADATA_FILE))
    path = os.path.join(folder, file_name)
    real_folder, real_path = os.path.realpath(folder), os.path.realpath(path)
    if os.path.lexists(path) and os.path.dirname(real_path) != real_folder:
        raise PresetError(f"{path} leads outside the preset folder {folder} (to {real_path}); refused")
    return path


def _json_type(value):
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _json_depth(data):
    """How deeply objects and lists nest in ``data`` (iterative: no recursion limit)."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


# Serialized objects that carry code. Keras's safe mode refuses them too (a TFSMLayer only since
# 3.12.1 and 3.13.2; 3.13.0 and 3.13.1 built it), but ``keras.config.enable_unsafe_deserialization()``
# turns safe mode off for the whole process; a preset is data only, whatever that setting.
CODE_CLASS_NAMES = {
    "__lambda__": "a Python lambda (bytecode)",
    "TFSMLayer": "a TFSMLayer (it loads and runs an outside SavedModel)",
}


def refuse_code(config, path):
    """Raises ``PresetError`` when the Keras config ``config`` (a config.json dict, read from
    ``path``) holds code anywhere, its compile config included: a Python lambda (a ``Lambda``
    layer's function, a lambda loss or schedule) or a ``TFSMLayer``. Nothing is built."""
    pending = [(config, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, dict):
            class_name = node.get("class_name")
            if isinstance(class_name, str) and class_name in CODE_CLASS_NAMES:
                raise PresetError(
                    f"{path} holds {CODE_CLASS_NAMES[class_name]} at {where or 'the top level'}: a preset is "
                    "data only and may not carry code. Build the model from Keras layers and registered "
                    "classes and functions (keras.saving.register_keras_serializable) and save it again.")
            pending.extend((child, f"{where}.{key}" if where else str(key)) for key, child in node.items())
        elif isinstance(node, list):
            pending.extend((child, f"{where}[{index}]") for index, child in enumerate(node))


def build_model(folder, dtype=None, seed=None):
    """The untrained, uncompiled model of ``folder/config.json`` and its compile config
    (None when it was saved uncompiled): ``(model, compile_config)``. ``dtype``: a dtype policy
    for the computations (see ``with_dtype_policy``). ``seed``: an integer that replaces the
    model's own ``seed`` (see ``zoo.load``)."""
    import keras

    from keras_genai.models import sampling  # and with it the shipped families, registered by name

    config = read_json(folder, CONFIG_FILE)
    compile_config = config.pop("compile_config", None)
    if dtype is not None:
        config = with_dtype_policy(config, dtype)
    if seed is not None:
        if not has_noise_seed(config):
            raise ValueError(f"the model of {folder} ({config.get('class_name')}) has no seed to set")
        config["config"]["seed"] = sampling.check_seed(seed)  # TypeError / ValueError as in every family
    return keras.saving.deserialize_keras_object(config, safe_mode=True), compile_config


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
    import keras

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
    if sha256 is not None and not isinstance(sha256, str):
        raise ValueError(f"the sha256 of weights file {path} must be a string of 64 hexadecimal digits, "
                         f"got {sha256!r}")
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
        folder: destination; refused if it exists unless ``overwrite``, and even then replaced
            only if it is itself a preset folder (``files.check_replaceable``; checked before
            anything is written). The old folder stays in place until the new one is complete.
        metadata: dict (name, family, description, dataset, training, metrics, ...); the
            weights entry (file, sha256) is filled in here.
        samples: also write samples.png, the grid of ``model.preview(64, seed=0)``.
        dtype: the dtype policy written into config.json (for example ``"float32"`` for a
            model trained under ``"mixed_bfloat16"``); None keeps the model's.
    Returns:
        The metadata as written.
    """
    import keras

    folder = os.path.abspath(os.fspath(folder))
    files.check_replaceable(folder, overwrite, "preset")
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
        preview = saved.preview(64, seed=0) if samples else None  # as a user who loads the preset sees it
        if preview is not None:
            from keras_genai import plot

            images, columns = preview
            plot.save_grid(images, os.path.join(staging, SAMPLES_FILE), columns=columns)
        write_metadata(staging, metadata, type(model), source=load_source(folder))
        files.publish_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def load_source(folder):
    """What a card tells ``zoo.load`` to load: the preset's name for a folder shipped with the
    package, else the folder itself (relative to the working directory when inside it, as
    ``./my_dcgan``), so that the card of a preset a user trained loads that preset, not the shipped one."""
    from keras_genai.zoo import registry

    folder = os.path.realpath(os.fspath(folder))
    if os.path.dirname(folder) == os.path.realpath(registry.builtin_root()):
        return None
    relative = os.path.relpath(folder)
    if relative.startswith(os.pardir):
        return folder
    return relative if os.sep in relative else f".{os.sep}{relative}"


def write_metadata(folder, metadata, family=None, source=None):
    """Writes metadata.json and re-renders README.md (the model card) from it; ``family``: the
    model's class (default: the class ``folder/config.json`` names, see ``family_of``);
    ``source``: what the card's snippet loads (default ``load_source(folder)``).

    Both are serialized before anything is written (a value JSON cannot hold, or a card that
    cannot be rendered, changes nothing) and each file is replaced atomically
    (``files.atomic_write``), so a failure or a kill leaves the old files, never a truncated one.
    """
    text = json.dumps(metadata, indent=2, sort_keys=False) + "\n"
    card = render_model_card(metadata, family or family_of(folder), source or load_source(folder))
    with files.atomic_write(os.path.join(folder, METADATA_FILE)) as f:
        f.write(text)
    with files.atomic_write(os.path.join(folder, CARD_FILE)) as f:
        f.write(card)


def _save_weights_without_optimizer(model, config, path):
    """Saves ``model``'s weights from a fresh, uncompiled copy built from ``config``; returns the copy."""
    import keras

    config = dict(config)
    config.pop("compile_config", None)
    bare = keras.saving.deserialize_keras_object(config)
    bare.set_weights(model.get_weights())
    bare.save_weights(path)
    return bare


def family_of(folder):
    """The ``GenerativeModel`` class that ``folder/config.json`` names (by its registered name),
    without building it; ``GenerativeModel`` itself when the file is missing or names a class
    that is not a registered family."""
    try:
        config = read_json(folder, CONFIG_FILE)
    except PresetError:
        from keras_genai.models.base import GenerativeModel

        return GenerativeModel
    return family_of_config(config)


def family_of_config(config):
    """The ``GenerativeModel`` class a serialized model (a config.json dict) names by its registered
    name; ``GenerativeModel`` itself when it names a class that is not a registered family."""
    import keras

    import keras_genai.models  # noqa: F401 (the shipped families register their classes)
    from keras_genai.models.base import GenerativeModel

    registered = config.get("registered_name")
    family = keras.saving.get_registered_object(registered) if isinstance(registered, str) else None
    return family if isinstance(family, type) and issubclass(family, GenerativeModel) else GenerativeModel


def render_model_card(metadata, family=None, source=None):
    """The model card (Markdown) for a preset's metadata; ``family``, the model's class (None:
    ``GenerativeModel``), writes the usage snippet, the table of each evaluation and the section
    that shows what the model makes (``card_usage``, ``card_metric_sections``, ``card_preview``);
    ``source``: what the snippet passes to ``zoo.load`` (None: the preset's name)."""
    if family is None:
        from keras_genai.models.base import GenerativeModel as family
    name = metadata["name"]
    lines = [f"# {name}", "", metadata.get("description", ""), ""]
    loaded = json.dumps(source if source is not None else name)
    lines += ["## Use", "", "```python", "import keras_genai",
              f"model = keras_genai.zoo.load({loaded})" + ("  # this folder" if source is not None else "")]
    lines += family.card_usage(metadata) + ["```", ""]
    weights = metadata.get("weights") or {}
    if not weights.get("sha256"):
        lines += ["## Weights", "", weights.get("unavailable", "No pretrained weights are shipped."), ""]
    dataset = metadata.get("dataset", {})
    if dataset:
        lines += ["## Data", ""]
        lines += [f"- {key}: {stages.card_value(value)}" for key, value in dataset.items()]
        lines.append("")
    lines += stages.card_lines(metadata)  # the recipe's stages, then the run log
    lines += ["## Evaluation", ""]
    metrics = metadata.get("metrics") or {}
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    lines += [f"- {key}: {stages.card_value(value)}" for key, value in scalars.items()]
    lines += family.card_metric_sections(metrics)
    if not metrics:
        lines.append("No metrics measured yet.")
    lines.append("")
    if weights.get("sha256"):
        lines += ["## Files", "", f"- {weights['file']}: {weights['bytes']} bytes, sha256 `{weights['sha256']}`"]
        lines += [f"- parameters: {metadata.get('parameters')}", ""]
        lines += family.card_preview(metadata)
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


def sample_quality_table(title, results):
    """Markdown lines: the table of one sample-quality evaluation (``keras-genai evaluate`` of an
    image model, or ``floor``; ``metrics.evaluate``), headed ``### title``."""
    candidate = results.get("candidate") or f"{results.get('num_samples')} samples (seed {results.get('seed')})"
    if results.get("candidates"):
        candidate += f", each the most real of {results['candidates']} generator draws by the discriminator"
    if results.get("conditions"):
        candidate += " drawn with " + ", ".join(f"{k}={v}" for k, v in sorted(results["conditions"].items()))
    litert = results.get("litert")
    if litert:
        candidate += (f" drawn through the LiteRT {litert['quantize']} file of `{litert['signature']}` "
                      f"(batch {litert['batch_size'] or 'dynamic'}, {litert['file_bytes'] / 1e6:.2f} MB)")
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
    return lines + command_lines(results)


def edge_speed_table(title, results):
    """Markdown lines: the edge-speed figures of ``benchmarks/litert_edge.py`` (one sample per
    call: Keras against the preset's LiteRT files), headed ``### title``."""
    lines = ["", f"### {title}", "",
             f"`{results.get('signature')}` at batch {results.get('batch_size')}, one sample per call: median "
             f"(min-max) of {results.get('rounds')} alternating rounds of {results.get('calls_per_round')} calls; "
             f"LiteRT with {results.get('litert_num_threads')} thread(s), `invoke` only. "
             "A ratio above 1: LiteRT is faster than Keras.", "",
             "| variant | ms per sample | Keras time / variant time | file |", "| --- | --- | --- | --- |"]
    for key, ms in results.get("per_call_ms", {}).items():
        ratio = results.get("keras_over_litert", {}).get(key)
        size = results.get("file_bytes", {}).get(key)
        lines.append(f"| {key} | {ms['median']:.3g} ({ms['min']:.3g}-{ms['max']:.3g}) | "
                     + (f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})" if ratio else "")
                     + f" | {f'{size / 1e6:.2f} MB' if size else ''} |")
    return lines + command_lines(results)


def likelihood_table(title, results):
    """Markdown lines: the table of one test-likelihood evaluation of an image model (NLL exact or
    an importance-weighted bound, ELBO, bits/dim; ``metrics.vae``, ``metrics.pixelcnn``), headed
    ``### title``."""
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
    return lines + command_lines(results)


def command_lines(results):
    """Markdown lines that end an evaluation's table: the command that measured it (none without one)."""
    return ["", "```bash", results["command"], "```"] if results.get("command") else []

