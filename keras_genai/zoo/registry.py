"""Finding presets by name, folder or URL, and loading them as models."""

import difflib
import importlib.resources
import os
import re
import warnings

from keras_genai import files
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


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def register(name, source, sha256=None, overwrite=False):
    """Makes ``load(name)`` load ``source``: a preset folder, or a URL of a preset archive
    (.zip/.tar.gz) with its ``sha256``. No code is needed for a new preset.

    ``name`` is a plain name (letters, digits, ``_ . -``; not a path or URL). A name that is
    already known, shipped (such as ``"dcgan_mnist"``) or registered, is refused unless
    ``overwrite=True``; registering the same source under the same name again is allowed.
    The registration lasts for this process.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"preset name must be a plain name (letters, digits, '_', '.', '-'; not a path or URL), "
                         f"got {name!r}")
    if remote.is_url(source):
        if not sha256:
            raise ValueError("a sha256 is required to register a URL preset")
    elif not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a preset folder or URL, got {type(source).__name__}")
    elif not os.path.isfile(os.path.join(os.fspath(source), preset.METADATA_FILE)):
        raise PresetError(f"{source} is not a preset folder (no {preset.METADATA_FILE})")
    entry = (source, sha256) if remote.is_url(source) else (os.path.abspath(os.fspath(source)), None)
    if not overwrite and _registered.get(name, entry) != entry:
        raise ValueError(f"a preset named {name!r} is already registered ({_registered[name][0]}); pass "
                         "overwrite=True to replace it")
    builtin = _builtin()
    if not overwrite and name not in _registered and name in builtin:
        raise ValueError(f"{name!r} is a shipped preset ({builtin[name]}); pass overwrite=True to make "
                         f"load({name!r}) load {entry[0]} instead in this process, or register another name")
    _registered[name] = entry


def resolve(source, sha256=None):
    """The local preset folder for a name, a folder path or a URL (downloaded once).

    A shipped or registered name wins over a folder of the same name in the working directory
    (as keras-hub's built-in names do): with a folder ``./gan_mnist`` present,
    ``resolve("gan_mnist")`` is still the shipped preset, and a ``UserWarning`` names both;
    pass ``"./gan_mnist"`` (or an absolute path) to load the folder. A URL preset is checked
    against its archive on every call (see ``remote.unpack_preset``).
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a preset name, folder or URL, got {type(source).__name__}")
    source = os.fspath(source)
    name = source
    if source in _registered:
        source, sha256 = _registered[source][0], sha256 or _registered[source][1]
    if remote.is_url(source):
        folder = remote.unpack_preset(remote.fetch(source, sha256), sha256)
        _warn_if_shadowing(name, folder)
        return folder
    builtin = _builtin()
    if name not in _registered and source in builtin:
        source = builtin[source]
    elif name not in _registered and not os.path.isdir(source) and not files.recover_stranded(source):
        close = difflib.get_close_matches(source, list_presets(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownPresetError(
            f"unknown preset {source!r}{hint} Known presets: {', '.join(list_presets())}. "
            "A folder path or a URL with sha256=... also works."
        )
    _warn_if_shadowing(name, source)
    return source


def _warn_if_shadowing(name, folder):
    """Warns when ``name`` was resolved as a preset name while a different folder of that name
    sits in the working directory."""
    if name == folder or not os.path.isdir(name):
        return
    if os.path.realpath(name) == os.path.realpath(folder):
        return
    kind = "registered" if name in _registered else "shipped"
    warnings.warn(
        f"loaded the {kind} preset {name!r} ({folder}), not the folder {os.path.abspath(name)} in the working "
        f"directory; to load that folder, pass './{name}' or its absolute path",
        UserWarning,
        stacklevel=4,  # the caller of load/info/resolve
    )


def info(source, sha256=None):
    """The metadata dict of a preset (dataset, training recipe, metrics, weights)."""
    folder = resolve(source, sha256)
    metadata = preset.read_json(folder, preset.METADATA_FILE)
    metadata["path"] = folder
    weights = metadata.get("weights") or {}
    shipped = os.path.isfile(preset.weights_path(folder, metadata))
    metadata["pretrained_available"] = shipped or bool(weights.get("url"))
    return metadata


def load(source, pretrained=True, weights=None, weights_sha256=None, sha256=None, compile=True, dtype=None,
         seed=None):
    """Loads a preset as a ready-to-use Keras model.

    Args:
        source: a preset name (``list()``), a preset folder, or a URL (https://, file://)
            of a preset archive together with ``sha256``. A name wins over a folder of the
            same name in the working directory, with a warning; pass ``"./name"`` for the folder.
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
    local = preset.weights_path(folder, metadata)  # refuses a name or symlink that leads outside the folder
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
