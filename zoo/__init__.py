"""Preset folders shipped with keras_genai (installed as the package ``keras_genai.presets``).

Each sub-folder is one preset: config.json, metadata.json, optionally model.weights.h5,
README.md (model card) and samples.png. This file only makes the folder installable.
"""
