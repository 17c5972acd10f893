"""GPT exports and files: the generate signatures' controls and refusals, .keras in a fresh process.

Parity of every signature and of the LiteRT logits: tests/test_family_contract.py."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, runtime
from keras_genai.models import GPT


@pytest.fixture(scope="module")
def tiny_gpt():
    keras.utils.set_random_seed(0)
    model = GPT("\n abcdefgh", context_length=8, num_layers=2, num_heads=2, embed_dim=16, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    return model


@pytest.fixture(scope="module")
def saved(tiny_gpt, tmp_path_factory):
    return export.saved_model(tiny_gpt, tmp_path_factory.mktemp("gpt") / "export")


def test_generate_signature_takes_text_and_sampling_controls(tiny_gpt, saved):
    controls = {"max_new_tokens": 20, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0}
    text = runtime.run_saved_model(saved, {"prompt": "abc", **controls}, "generate")["text"]
    assert text.decode() == tiny_gpt.generate("abc", 20, temperature=0)


def test_saved_model_refuses_characters_outside_the_vocabulary(saved):
    controls = {"max_new_tokens": 3, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0}
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"outside the model.{1,2}s vocabulary"):
        runtime.run_saved_model(saved, {"prompt": "xyz", **controls}, "generate")
    with pytest.raises(tf.errors.InvalidArgumentError, match="must not be empty"):
        runtime.run_saved_model(saved, {"prompt": "", **controls}, "generate")


@pytest.mark.parametrize("control, message", [("top_p", r"top_p must be in \(0, 1\]"), ("max_new_tokens", ">= 1"),
                                              ("temperature", "temperature must be >= 0"), ("top_k", "top_k must be >= 0")])
def test_saved_model_refuses_bad_sampling_controls(saved, control, message):
    controls = {"max_new_tokens": 3, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 0}
    controls[control] = {"top_p": 0.0, "max_new_tokens": 0, "temperature": -1.0, "top_k": -2}[control]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        runtime.run_saved_model(saved, {"tokens": np.array([[1, 2]], np.int32), **controls}, "generate_ids")


def test_keras_file_round_trip_in_a_fresh_process(tiny_gpt, tmp_path):
    path = tmp_path / "gpt.keras"
    tiny_gpt.save(path)
    script = ("import keras, keras_genai; m = keras.saving.load_model(r'%s'); "
              "print(m.optimizer.__class__.__name__); print(repr(m.generate('abc', 15, seed=4)))" % path)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    optimizer, text = result.stdout.strip().splitlines()[-2:]
    assert optimizer == "AdamW"
    assert text == repr(tiny_gpt.generate("abc", 15, seed=4))


def test_an_integer_only_litert_file_is_refused_with_the_familys_reason(tiny_gpt, tmp_path):
    target = tmp_path / "gpt.tflite"
    with pytest.raises(ValueError, match=r"GPT offers LiteRT files as float32, float16, dynamic_int8, not full_int8 "
                                         r"\(full_int8: integer-only attention"):
        export.tflite(tiny_gpt, target, quantize="full_int8")
    assert not target.exists()
