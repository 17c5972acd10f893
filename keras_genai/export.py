"""Exports for serving: SavedModel in TF Serving layout and LiteRT (TFLite) flatbuffers.

Each family lists its endpoints in ``model.export_signatures()``; ``serving_default`` is its
main one and ``model.edge_signature`` the one LiteRT gets (random ops are not LiteRT builtins,
so edge graphs take the noise as input). ``check_*`` reload an export in a fresh Python process
and compare it with the Keras model on the same inputs.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_genai import files

QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "full_int8")

# The batch size a LiteRT file has unless asked otherwise. A fixed batch lets LiteRT's XNNPACK
# delegate take the whole graph; a dynamic one (``batch_size=None``) ran dcgan_mnist 4.6x slower
# in float and 300x slower with dynamic_int8 weights (benchmarks/dcgan_mnist.py). ``run_tflite``
# feeds any number of rows to a fixed-batch file, one batch at a time.
EDGE_BATCH_SIZE = 1

# full_int8 calibrates its activation ranges on this many of the model's own example inputs
# (``model.example_inputs``: prior noise for the generators), drawn with this seed.
CALIBRATION_SAMPLES, CALIBRATION_SEED = 256, 7_777

# full_int8 (integer-only) against the float model, 1,000 example inputs at batch 50: mean
# |diff| 0.003-0.008 on gan_mnist, cgan_mnist and the VAE decoders, 0.029-0.037 on dcgan_mnist
# and wgan_gp_mnist, whose max reaches 2.0 (single pixels flip sign), so the mean is the check.
FULL_INT8_MAX, FULL_INT8_MEAN = 2.0, 0.05

# Largest absolute difference allowed between an export and the Keras model, on outputs in
# [-1, 1] (images), and the largest mean absolute difference. Measured on the four MNIST GAN
# presets (1,000 samples each): dynamic_int8 max 0.19-0.31, mean 0.002-0.003; float16 max
# about 3e-3; float32 about 3e-6; SavedModel 0.
TOLERANCE = {
    "saved_model": 1e-5,
    "tflite_float32": 1e-4,
    "tflite_float16": 2e-2,
    "tflite_dynamic_int8": 0.4,
    "tflite_full_int8": FULL_INT8_MAX,
}
MEAN_TOLERANCE = {
    "saved_model": 1e-6,
    "tflite_float32": 1e-5,
    "tflite_float16": 2e-3,
    "tflite_dynamic_int8": 1e-2,
    "tflite_full_int8": FULL_INT8_MEAN,
}


def saved_model(model, base_dir, version=1, overwrite=False):
    """Writes a SavedModel at ``<base_dir>/<version>/`` (the layout TF Serving watches).

    Signatures are the model's ``export_signatures()`` with named inputs and outputs.
    An existing version folder is refused unless ``overwrite``, and even then it is replaced only
    if it is itself a SavedModel (see ``files.check_replaceable``); the folder appears only
    when it is complete. Returns the version folder's path.
    """
    target = saved_model_path(base_dir, version)
    files.check_replaceable(target, overwrite, "saved_model")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, signature) in model.export_signatures().items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    staging = files.staging_folder(target)
    try:
        archive.write_out(staging, verbose=False)
        files.publish_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def saved_model_path(base_dir, version=1):
    """The version folder ``saved_model`` writes: ``<base_dir>/<version>`` (absolute)."""
    validate_version(version)
    return os.path.join(os.path.abspath(os.fspath(base_dir)), str(version))


def validate_version(version):
    """Refuses (ValueError) a TF Serving version that is not a positive integer."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer (TF Serving layout), got {version!r}")


def validate_quantize(quantize):
    """Refuses (ValueError) a LiteRT quantization that is not one of QUANTIZATIONS."""
    if not isinstance(quantize, str) or quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")


def check_offered(model, quantizations):
    """Refuses (ValueError) LiteRT quantizations (a list of QUANTIZATIONS names) that the model's
    family does not offer (``model.edge_quantizations``), giving the family's reason for each."""
    refused = [q for q in quantizations if q not in model.edge_quantizations]
    if refused:
        notes = "; ".join(f"{q}: {model.edge_quantization_notes.get(q, 'not offered')}" for q in refused)
        raise ValueError(f"{type(model).__name__} offers LiteRT files as {', '.join(model.edge_quantizations)}, "
                         f"not {', '.join(refused)} ({notes})")


def validate_batch_size(batch_size):
    """Refuses (ValueError) a LiteRT batch size that is neither None (dynamic) nor a positive integer."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None or a positive integer, got {batch_size!r}")


def tflite(model, path, quantize="float32", overwrite=False, batch_size=EDGE_BATCH_SIZE, signature=None):
    """Writes a LiteRT flatbuffer of the model's edge signature to ``path``.

    Args:
        quantize: "float32" (none), "float16" (weights in float16), "dynamic_int8"
            (dynamic-range quantization: int8 weights, float activations) or "full_int8"
            (integer only, for NPUs and microcontrollers: int8 weights and activations, int8
            float inputs and outputs, activation ranges calibrated on ``CALIBRATION_SAMPLES``
            of the model's own example inputs; ``run_tflite`` quantizes and dequantizes).
        batch_size: the file's fixed batch size (default ``EDGE_BATCH_SIZE``, 1), which lets
            LiteRT's XNNPACK delegate run the whole graph; None keeps the batch dimension
            dynamic (resized at run time, much slower; see benchmarks/).
        signature: which of ``model.export_signatures()`` to convert (default
            ``model.edge_signature``; a VAE also has ``encode``); the file's signature is
            always ``serving_default``.
    Returns:
        ``path``. The file appears only when complete, readable as any new file (0666 & ~umask);
        an existing file is refused unless ``overwrite``, and even then replaced only if it is a
        LiteRT file (see ``files.check_replaceable``).

    Example:

    ```python
    model = keras_genai.zoo.load("dcgan_mnist")
    keras_genai.export.tflite(model, "dcgan_int8.tflite", quantize="full_int8")
    images = keras_genai.runtime.run_tflite("dcgan_int8.tflite", {"z": model.noise(16, seed=0)})["images"]
    # float32 (16, 28, 28, 1) in [-1, 1], computed in int8 one row at a time
    ```
    """
    validate_quantize(quantize)
    check_offered(model, [quantize])
    validate_batch_size(batch_size)
    path = os.path.abspath(os.fspath(path))
    files.check_replaceable(path, overwrite, "tflite")
    name = signature or model.edge_signature
    signatures = model.export_signatures()
    if name not in signatures:
        raise KeyError(f"unknown signature {name!r}; expected one of {sorted(signatures)}")
    fn, signature = signatures[name]
    if batch_size is not None:
        signature = [tf.TensorSpec([batch_size, *spec.shape[1:]], spec.dtype, name=spec.name) for spec in signature]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=fn, input_signature=signature)
    with tempfile.TemporaryDirectory() as graph_dir:
        # Through a SavedModel, so the converter freezes the variables into constants.
        archive.write_out(graph_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(graph_dir, signature_keys=["serving_default"])
        if quantize == "full_int8":
            converter.representative_dataset = _calibration(model, name, batch_size)
        flatbuffer = _convert(converter, quantize, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with files.atomic_write(path, "wb") as f:
        f.write(flatbuffer)
    return path


def _convert(converter, quantize, signature):
    if quantize != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "full_int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        try:
            with warnings.catch_warnings():  # the converter's calibration calls TF's own deprecated interpreter
                warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
                return converter.convert()
        except Exception as error:  # the converter raises its own ConverterError and others
            raise ValueError(f"the {signature!r} graph cannot be converted to integer-only int8 (full_int8): "
                             f"{str(error).strip()[-600:]}; use quantize='dynamic_int8' for int8 weights with "
                             "float activations") from error
    return converter.convert()


def _calibration(model, signature, batch_size):
    """The converter's representative dataset: at least ``CALIBRATION_SAMPLES`` example inputs
    of ``signature`` in batches of the file's batch size (16 for a dynamic batch)."""
    step = batch_size or 16
    count = step * -(-CALIBRATION_SAMPLES // step)
    inputs, _ = model.example_inputs(signature, num_samples=count, seed=CALIBRATION_SEED)

    def batches():
        for start in range(0, count, step):
            yield {name: np.asarray(value)[start:start + step] for name, value in inputs.items()}
    return batches


class EdgeSampler:
    """A model's ``sample`` drawn through one of its LiteRT files, for the sample-quality
    evaluation (``keras-genai evaluate --litert``): ``sample(n, seed, labels)`` ->
    uint8 (n, H, W, C), the noise of ``model.sample(n, seed)`` run by ``runtime.run_tflite``.

    Example:

    ```python
    path = keras_genai.export.tflite(model, "g_int8.tflite", quantize="full_int8",
                                     signature=model.edge_sample_signature)
    images = keras_genai.export.EdgeSampler(model, path).sample(16, seed=0)
    ```
    """

    def __init__(self, model, path):
        from keras_genai import runtime

        self.model, self.path, self.num_classes = model, os.fspath(path), model.num_classes
        self._run = lambda inputs: runtime.run_tflite(self.path, inputs)

    def sample(self, num_samples, seed=0, labels=None):
        return self.model.sample_from_edge(self._run, num_samples, seed=seed, labels=labels)


def rest_request_body(model, signature="serving_default", num_samples=2, seed=0):
    """A TF Serving REST body (JSON string) that fits one of the model's signatures.

    POST it to ``http://HOST:8501/v1/models/<name>:predict``.
    """
    inputs, _ = model.example_inputs(signature, num_samples=num_samples, seed=seed)
    inputs = {name: _json_value(value) for name, value in inputs.items()}
    return json.dumps({"signature_name": signature, "inputs": inputs})


def _json_value(value):
    value = np.asarray(value)
    if value.dtype.kind == "f":
        return np.round(value.astype(np.float64), 4).tolist()
    if value.dtype.kind == "S":
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist()
    return value.tolist()


def check_saved_model(model, path, num_samples=4, seed=123):
    """Runs the SavedModel at ``path`` in a fresh process and compares it with ``model``.

    Every signature gets the inputs of ``model.example_inputs``: float outputs must agree
    within TOLERANCE["saved_model"], uint8 images (``sample``) within 1 grey level.
    Returns a report dict; raises ``AssertionError`` when a check fails.
    """
    report = {}
    for signature in model.export_signatures():
        inputs, expected = model.example_inputs(signature, num_samples=num_samples, seed=seed)
        outputs = _run_fresh("saved_model", path, inputs, signature)
        key = "saved_model" if signature == "serving_default" else signature
        for name, value in _as_outputs(expected).items():
            if name not in outputs:
                raise AssertionError(f"{signature} signature has no output {name!r}; it has {sorted(outputs)}")
            what = f"{signature} signature, output {name}"
            entry = key if len(_as_outputs(expected)) == 1 else f"{key}.{name}"
            got, value = outputs[name], np.asarray(value)
            if value.dtype.kind in "iuSUOb":
                # Integers (uint8 images, token ids) may differ by one level; text must be equal.
                tolerance = 1 if value.dtype == np.uint8 else 0
                if value.dtype.kind in "SUO":
                    value, got = _as_text(value), _as_text(got)
                    report[entry] = _compare_exact(value, got, what)
                else:
                    report[entry] = _compare(value.astype(np.int64), got.astype(np.int64), tolerance, what)
            else:
                report[entry] = _compare(value, got, TOLERANCE["saved_model"], what, MEAN_TOLERANCE["saved_model"])
    return report


def _as_outputs(expected):
    """``example_inputs`` gives one array (the ``images`` output) or {output name: array}."""
    return dict(expected) if isinstance(expected, dict) else {"images": expected}


def _as_text(values):
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()])


def _compare_exact(expected, got, what):
    if expected.shape != got.shape or not np.array_equal(expected, got):
        raise AssertionError(f"{what}: {got.tolist()!r} differs from Keras {expected.tolist()!r}")
    return {"max_abs_diff": 0.0, "tolerance": 0, "mean_abs_diff": 0.0}


def check_tflite(model, path, quantize="float32", num_samples=4, seed=123, signature=None):
    """Runs the LiteRT file in a fresh process on the same inputs as ``model``; returns a report.

    ``signature``: the one the file was converted from (default ``model.edge_signature``).
    A fixed-batch file gets the ``num_samples`` rows one batch at a time (``run_tflite``).
    """
    inputs, expected = model.example_inputs(signature or model.edge_signature, num_samples=num_samples, seed=seed)
    outputs = _run_fresh("tflite", path, inputs)
    key = f"tflite_{quantize}"
    expected = _as_outputs(expected)
    report = {}
    for name, value in expected.items():
        tolerance, mean_tolerance = _tolerances(model, name, key)
        report[key if len(expected) == 1 else f"{key}.{name}"] = _compare(
            value, outputs[name], tolerance, f"{key}, output {name}", mean_tolerance)
    return report


def _tolerances(model, output, key):
    """(max, mean) tolerance of one output: TOLERANCE/MEAN_TOLERANCE (measured on images in
    [-1, 1]) unless the model states its own for that output in ``model.export_tolerances``
    ({output name: {key: (max, mean)}}, e.g. a VAE encoder's unbounded latent means)."""
    own = model.export_tolerances.get(output, {})
    return own.get(key, (TOLERANCE[key], MEAN_TOLERANCE[key]))


def _compare(expected, got, tolerance, what, mean_tolerance=None):
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        raise AssertionError(f"{what}: output shape {got.shape} differs from Keras {expected.shape}")
    diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
    report = {"max_abs_diff": float(diff.max()), "tolerance": tolerance, "mean_abs_diff": float(diff.mean())}
    if not report["max_abs_diff"] <= tolerance:
        raise AssertionError(f"{what}: max |difference| {report['max_abs_diff']:.3g} exceeds the tolerance {tolerance}")
    if mean_tolerance is not None and not report["mean_abs_diff"] <= mean_tolerance:
        raise AssertionError(f"{what}: mean |difference| {report['mean_abs_diff']:.3g} exceeds {mean_tolerance}")
    return report


def _run_fresh(kind, path, inputs, *args):
    with tempfile.TemporaryDirectory() as tmp:
        inputs_path, outputs_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(inputs_path, **inputs)
        command = [sys.executable, "-m", "keras_genai.runtime", kind, os.fspath(path), inputs_path, outputs_path, *args]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"running the {kind} export in a fresh process failed:\n{result.stderr[-3000:]}")
        return dict(np.load(outputs_path))

