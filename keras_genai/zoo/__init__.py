"""The preset registry: ``list()``, ``info(name)``, ``load(name_or_path_or_url)``,
``register(name, source)``, ``save_preset(model, folder, metadata)`` and ``training_recipe(name)``
(the optimizers; ``recipe.retuned`` changes them for fine-tuning)."""

from keras_genai.zoo import recipe
from keras_genai.zoo.errors import ChecksumError, MissingWeightsError, PresetError, UnknownPresetError
from keras_genai.zoo.preset import save_preset
from keras_genai.zoo.registry import info, list_presets, load, register, training_recipe

list = list_presets  # noqa: A001  (keras_genai.zoo.list() mirrors the CLI verb)

__all__ = [
    "ChecksumError",
    "MissingWeightsError",
    "PresetError",
    "UnknownPresetError",
    "info",
    "list",
    "list_presets",
    "load",
    "recipe",
    "register",
    "save_preset",
    "training_recipe",
]
