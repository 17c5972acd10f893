"""Running exported artifacts without Keras: SavedModel signatures and LiteRT flatbuffers.

Also a tiny command line used to check exports in a fresh process:
``python -m keras_genai.runtime saved_model|tflite PATH INPUTS.npz OUTPUTS.npz [SIGNATURE]``.
"""

import sys

import numpy as np


def run_saved_model(path, inputs, signature="serving_default"):
    """Calls a SavedModel signature. ``inputs``: {name: array}; returns {name: np.ndarray}."""
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    if signature not in loaded.signatures:
        raise KeyError(f"{path} has no signature {signature!r}; it has {sorted(loaded.signatures)}")
    fn = loaded.signatures[signature]
    specs = fn.structured_input_signature[1]
    unexpected, missing = sorted(set(inputs) - set(specs)), sorted(set(specs) - set(inputs))
    if unexpected or missing:
        raise KeyError(f"signature {signature!r} takes inputs {sorted(specs)}; got unexpected {unexpected}, "
                       f"missing {missing}")
    feeds = {name: tf.constant(np.asarray(value), dtype=specs[name].dtype) for name, value in inputs.items()}
    return {name: value.numpy() for name, value in fn(**feeds).items()}


def run_tflite(path, inputs):
    """Runs a LiteRT model with ``ai_edge_litert``. ``inputs``: {name: array} (or one array).

    Any number of rows works: a dynamic batch is resized to the inputs, a fixed batch is fed one
    batch at a time (the last one padded with copies of its final row, which are dropped).
    Integer-only files (``quantize="full_int8"``) take and give floats here: float inputs are
    quantized with the file's scale and zero point, int8 outputs dequantized to float32.
    Returns {output name: np.ndarray}.

    Example: ``run_tflite("dcgan.tflite", {"z": np.zeros((5, 100), np.float32)})["images"]``
    is (5, 28, 28, 1) float32.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    if not isinstance(inputs, dict):
        (only,) = details
        inputs = {only: inputs}
    unexpected, missing = sorted(set(inputs) - set(details)), sorted(set(details) - set(inputs))
    if unexpected or missing:
        raise KeyError(f"{path} takes inputs {sorted(details)}; got unexpected {unexpected}, missing {missing}")
    feeds = {name: quantize(value, details[name]) for name, value in inputs.items()}
    rows = {int(value.shape[0]) for value in feeds.values() if value.ndim}
    if len(rows) > 1:
        raise ValueError(f"the inputs of {path} must have the same number of rows, got {sorted(rows)}")
    fixed = {int(d["shape"][0]) for d in details.values() if len(d["shape_signature"]) and d["shape_signature"][0] != -1}
    if not fixed or not rows or rows == fixed:
        return _from_outputs(runner(**feeds), runner.get_output_details())
    (batch,), (count,) = fixed, rows
    chunks = []
    for start in range(0, count, batch):
        chunk = {name: _padded(value[start:start + batch], batch) for name, value in feeds.items()}
        outputs = _from_outputs(runner(**chunk), runner.get_output_details())
        chunks.append({name: value[:min(batch, count - start)] for name, value in outputs.items()})
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def quantize(value, detail):
    """``value`` as a LiteRT input of ``detail`` (``get_input_details()``) wants it: float values
    of an int8 input (``quantize="full_int8"``) quantized with its scale and zero point, others
    cast to its dtype."""
    value = np.asarray(value)
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.int8 and scale and np.issubdtype(value.dtype, np.floating):
        value = np.clip(np.round(value / scale) + zero_point, -128, 127)
    return value.astype(detail["dtype"])


def dequantize(value, detail):
    """A LiteRT output of ``detail`` (``get_output_details()``) as float32 when it is quantized
    int8, unchanged otherwise."""
    scale, zero_point = detail["quantization"]
    if value.dtype == np.int8 and scale:
        return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return value


def _from_outputs(outputs, details):
    return {name: dequantize(value, details[name]) for name, value in outputs.items()}


def _padded(value, batch):
    missing = batch - len(value)
    return value if missing == 0 else np.concatenate([value, np.repeat(value[-1:], missing, axis=0)])


def main(argv=None):
    kind, path, inputs_path, outputs_path, *rest = argv or sys.argv[1:]
    inputs = dict(np.load(inputs_path))
    if kind == "saved_model":
        outputs = run_saved_model(path, inputs, *(rest or ["serving_default"]))
    elif kind == "tflite":
        outputs = run_tflite(path, inputs)
    else:
        raise SystemExit(f"unknown kind {kind!r}; expected saved_model or tflite")
    np.savez(outputs_path, **outputs)


if __name__ == "__main__":
    main()
