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

    Dynamic batch sizes are handled by resizing the inputs. Returns {output name: np.ndarray}.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    if not isinstance(inputs, dict):
        (only,) = details
        inputs = {only: inputs}
    feeds = {name: np.asarray(value, dtype=details[name]["dtype"]) for name, value in inputs.items()}
    return dict(runner(**feeds))


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
