"""Finding presets by name, folder or URL, and loading them as models."""

import difflib
import importlib.resources
import os

from keras_genai.zoo import preset, remote
from keras_genai.zoo.errors import MissingWeightsError, PresetError, UnknownPresetError

_registered = {}  # name -> (folder or URL, sha256 or None)


def builtin_root():
    """The folder of the presets shipped with the package."""
    return os.fspath(importlib.resources.files("keras_genai.presets"))


def _builtin():
    root = builtin_root()
    return {
        entry: os.path.join(root, entry)
        for entry in os.listdir(root)
        if os.path.isfile(os.path.join(root, entry, preset.METADATA_FILE))
    }


def list_presets():
    """Names of all known presets (shipped and registered), sorted."""
    return sorted(set(_builtin()) | set(_registered))


def register(name, source, sha256=None):
    """Makes ``load(name)`` load ``source``: a preset folder, or a URL of a preset archive
    (.zip/.tar.gz) with its ``sha256``. No code is needed for a new preset."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"preset name must be a non-empty string, got {name!r}")
    if remote.is_url(source):
        if not sha256:
            raise ValueError("a sha256 is required to register a URL preset")
    elif not os.path.isfile(os.path.join(os.fspath(source), preset.METADATA_FILE)):
        raise PresetError(f"{source} is not a preset folder (no {preset.METADATA_FILE})")
    _registered[name] = (os.fspath(source) if not remote.is_url(source) else source, sha256)


def resolve(source, sha256=None):
    """The local preset folder for a name, a folder path or a URL (downloaded once)."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a preset name, folder or URL, got {type(source).__name__}")
    source = os.fspath(source)
    if source in _registered:
        source, sha256 = _registered[source][0], sha256 or _registered[source][1]
    if remote.is_url(source):
        return remote.unpack_preset(remote.fetch(source, sha256), sha256)
    builtin = _builtin()
    if source in builtin:
        return builtin[source]
    if os.path.isdir(source):
        return source
    close = difflib.get_close_matches(source, list_presets(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownPresetError(
        f"unknown preset {source!r}{hint} Known presets: {', '.join(list_presets())}. "
        "A folder path or a URL with sha256=... also works."
    )


def info(source, sha256=None):
    """The metadata dict of a preset (dataset, training recipe, metrics, weights)."""
    folder = resolve(source, sha256)
    metadata = preset.read_json(folder, preset.METADATA_FILE)
    metadata["path"] = folder
    weights = metadata.get("weights") or {}
    shipped = os.path.isfile(os.path.join(folder, weights.get("file", preset.WEIGHTS_FILE)))
    metadata["pretrained_available"] = shipped or bool(weights.get("url"))
    return metadata


def load(source, pretrained=True, weights=None, weights_sha256=None, sha256=None, compile=True, dtype=None,
         seed=None):
    """Loads a preset as a ready-to-use Keras model.

    Args:
        source: a preset name (``list()``), a preset folder, or a URL (https://, file://)
            of a preset archive together with ``sha256``.
        pretrained: load the pretrained weights (False: the untrained architecture).
        weights: a path or URL of a ``.weights.h5`` file to use instead of the preset's.
        weights_sha256: expected sha256 of ``weights`` (required for URLs).
        sha256: expected sha256 of the archive when ``source`` is a URL.
        compile: compile with the preset's training recipe (optimizers), so ``fit`` works.
        dtype: a Keras dtype policy name for the computations, for example ``"mixed_bfloat16"``
            (faster training on CPUs with AVX512-BF16 and on TPUs) or ``"mixed_float16"`` (GPUs);
            the weights stay float32. None: the preset's own (float32).
        seed: an integer seed for the model's noise (a GAN's latent noise, a VAE's sampled
            codes, ``sample(seed=None)``) in place of the preset's. None: the preset's.
    Returns:
        The model (for example a ``keras_genai.models.GAN``).
    """
    folder = resolve(source, sha256)
    metadata = preset.read_json(folder, preset.METADATA_FILE)
    model, compile_config = preset.build_model(folder, dtype=dtype, seed=seed)
    if pretrained or weights is not None:
        if weights is not None:
            path, expected = os.fspath(weights), weights_sha256
            if remote.is_url(path):
                path = remote.fetch(path, weights_sha256)
        else:
            location = _weights_location(folder, metadata)
            if location is None:
                raise MissingWeightsError(_missing_weights_message(metadata))
            path, expected = location
        preset.load_weights(model, path, expected)
    if compile and compile_config:
        model.compile_from_config(compile_config)
    return model


def training_recipe(source, sha256=None):
    """A preset's optimizer recipe: its compile config (dict with ``optimizer``, or a GAN's
    ``d_optimizer`` and ``g_optimizer``), None when it was saved uncompiled. Change it with
    ``keras_genai.zoo.recipe.retuned`` and pass it to ``model.compile_from_config``."""
    return preset.read_json(resolve(source, sha256), preset.CONFIG_FILE).get("compile_config")


def _weights_location(folder, metadata):
    """(path, sha256) of the preset's weights: shipped file, or its URL (downloaded)."""
    weights = metadata.get("weights") or {}
    local = os.path.join(folder, weights.get("file", preset.WEIGHTS_FILE))
    if os.path.isfile(local):
        return local, weights.get("sha256")
    if weights.get("url"):
        return remote.fetch(weights["url"], weights.get("sha256")), weights.get("sha256")
    return None


def _missing_weights_message(metadata):
    name = metadata.get("name", "this preset")
    reason = (metadata.get("weights") or {}).get("unavailable", "No pretrained weights are shipped.")
    command = metadata.get("training", {}).get("command", f"keras-genai train {name}")
    return (
        f"{name} has no pretrained weights here. {reason} To get them, train it on a machine that "
        f"can download the dataset: `{command}`, then load(\"<output folder>\"); or pass "
        f"weights=<path or URL of model.weights.h5> (with weights_sha256=... for a URL). "
        f"load(\"{name}\", pretrained=False) returns the untrained model."
    )


__all__ = ["builtin_root", "info", "list_presets", "load", "register", "resolve"]
