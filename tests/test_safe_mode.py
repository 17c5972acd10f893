"""A preset is data only: a config.json that carries code (a Python lambda, a module function such
as ``os.system``, a ``TFSMLayer`` that loads an outside SavedModel) is refused by ``zoo.load``, and
nothing of it runs, whatever Keras's global safe-mode setting."""

import configparser
import json
import os
import pathlib
import shutil
import warnings

import keras
import pytest
import tensorflow as tf
from keras.src.backend.common import global_state

from keras_genai import zoo
from keras_genai.zoo import registry

SETUP_CFG = pathlib.Path(__file__).resolve().parents[1] / "setup.cfg"


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 784], tf.float32)])
    def serve(self, x):
        return 2.0 * x


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("outside") / "doubler")
    tf.saved_model.save(_Doubler(), path)
    return path


@pytest.fixture
def ran(monkeypatch, tmp_path):
    """What the payloads did: ``marker`` exists once a lambda ran; SavedModels loaded; os.system calls."""
    calls = {"marker": str(tmp_path / "lambda_ran"), "saved_model_loads": [], "os_system": []}
    real_load = tf.saved_model.load

    def spy_load(path, *args, **kwargs):
        calls["saved_model_loads"].append(path)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(tf.saved_model, "load", spy_load)
    monkeypatch.setattr(os, "system", lambda *args: calls["os_system"].append(args) or 0)
    return calls


@pytest.fixture
def unsafe_deserialization():
    """``keras.config.enable_unsafe_deserialization()`` for one test, then the previous setting."""
    before = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    yield
    global_state.set_global_attribute("safe_mode_saving", before)


def _writing(path):
    return lambda x: (open(path, "w").write("ran"), x)[1]


def _lambda_config(marker):
    with warnings.catch_warnings():  # "The object being serialized includes a `lambda`": the point here
        warnings.simplefilter("ignore", UserWarning)
        return keras.saving.serialize_keras_object(_writing(marker))


def _payload_layer(kind, marker, saved_model):
    """The Keras config of a layer in place of gan_mnist's generator's final tanh, on (batch, 784)."""
    if kind == "lambda":
        return keras.saving.serialize_keras_object(keras.layers.Lambda(_writing(marker)))
    if kind == "tfsm_layer":
        return {"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
                "config": {"trainable": False, "filepath": saved_model, "call_endpoint": "serve",
                           "call_training_endpoint": None}}
    assert kind == "os_system"
    layer = keras.saving.serialize_keras_object(keras.layers.Activation("linear"))
    layer["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                     "registered_name": "system"}
    return layer


def _tampered_preset(tmp_path, kind, marker, saved_model):
    """A copy of the shipped gan_mnist preset whose config.json carries the payload ``kind``."""
    folder = tmp_path / f"gan_mnist_{kind}"
    shutil.copytree(registry.resolve("gan_mnist"), folder)
    config = json.loads((folder / "config.json").read_text())
    if kind == "compile_lambda":
        config["compile_config"]["g_optimizer"]["config"]["learning_rate"] = _lambda_config(marker)
    else:
        layers = config["config"]["generator"]["config"]["layers"]
        index = next(i for i, layer in enumerate(layers) if layer["class_name"] == "Activation")
        payload = _payload_layer(kind, marker, saved_model)
        payload["config"]["name"] = layers[index]["config"]["name"]
        layers[index] = {**layers[index], **{key: payload[key] for key in ("module", "class_name", "config",
                                                                         "registered_name")}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder, config


def _nothing_ran(ran):
    assert not os.path.exists(ran["marker"]), "the lambda in config.json ran"
    assert ran["saved_model_loads"] == [], "the TFSMLayer's SavedModel was loaded"
    assert ran["os_system"] == [], "os.system was called"


@pytest.mark.parametrize("kind", ["lambda", "tfsm_layer"])
def test_the_payloads_run_when_nothing_guards_them(kind, tmp_path, ran, saved_model):
    """The attacks below are real: built with every guard off, the payload runs."""
    _, config = _tampered_preset(tmp_path, kind, ran["marker"], saved_model)
    config.pop("compile_config")
    keras.saving.deserialize_keras_object(config, safe_mode=False)
    assert os.path.exists(ran["marker"]) if kind == "lambda" else ran["saved_model_loads"] == [saved_model]


@pytest.mark.parametrize("kind,error,message", [
    ("lambda", zoo.PresetError, r"a Python lambda \(bytecode\) at config\.generator\.config\.layers\[8\]"),
    ("tfsm_layer", zoo.PresetError, r"a TFSMLayer .* at config\.generator\.config\.layers\[8\]"),
    ("compile_lambda", zoo.PresetError, r"a Python lambda .* at compile_config\.g_optimizer"),
    ("os_system", TypeError, "Could not locate function 'system'"),
])
@pytest.mark.parametrize("keras_safe_mode", ["default", "disabled"])
def test_code_in_config_json_is_refused_and_never_runs(kind, error, message, keras_safe_mode, tmp_path, ran,
                                                       saved_model, request):
    if keras_safe_mode == "disabled":  # keras_genai's own check still refuses code
        request.getfixturevalue("unsafe_deserialization")
    folder, _ = _tampered_preset(tmp_path, kind, ran["marker"], saved_model)
    with pytest.raises(error, match=message):
        zoo.load(folder)
    _nothing_ran(ran)


def test_training_recipe_refuses_a_lambda_in_the_compile_config(tmp_path, ran, saved_model, unsafe_deserialization):
    folder, _ = _tampered_preset(tmp_path, "compile_lambda", ran["marker"], saved_model)
    with pytest.raises(zoo.PresetError, match="may not carry code"):
        zoo.training_recipe(folder)


def test_the_keras_floor_refuses_tfsm_layers_and_reads_the_shipped_configs():
    """Measured: keras 3.10.0, 3.11.3, 3.12.0, 3.13.0 and 3.13.1 build a TFSMLayer from a config in
    safe mode (3.12.1+ and 3.13.2+ refuse it), and releases before 3.15.0 cannot read the shipped
    configs (``GlorotUniform(input_axes=...)``). The floor must be at least 3.15.0."""
    options = configparser.ConfigParser(interpolation=None)
    options.read(SETUP_CFG)
    requirement = next(line.strip() for line in options["options"]["install_requires"].splitlines()
                       if line.strip().startswith("keras"))
    assert requirement.startswith("keras>="), requirement
    floor = tuple(int(part) for part in requirement[len("keras>="):].split(",")[0].split("."))
    assert floor >= (3, 15, 0), requirement
    assert tuple(int(part) for part in keras.__version__.split(".")[:3]) >= floor
