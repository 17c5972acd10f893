"""Start-up: ``import keras_genai`` registers the families with Keras but imports TensorFlow
Probability only for a VAE; ``keras-genai --help``, ``list`` and ``info`` read files without
starting TensorFlow; commands that run a model do not print TensorFlow's native log lines
unless asked (``--verbose``, or ``TF_CPP_MIN_LOG_LEVEL`` set by the user). Timing:
benchmarks/import_time.py."""

import os
import subprocess
import sys

LAZY = """
import sys
import keras_genai
assert keras_genai.models.GAN  # the families are there, registered with Keras
model = keras_genai.models.unconditional_vae((8, 8, 1), latent_dim=2, seed=0)
assert "tensorflow_probability" not in sys.modules, "a VAE built without using it"
model.sample(1, seed=0)
assert "tensorflow_probability" in sys.modules, "a VAE samples through it"
print("ok")
"""

def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})


def test_submodules_and_tensorflow_probability_are_imported_when_used():
    run = _python(LAZY)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_help_list_and_info_do_not_start_tensorflow():
    for args, shown in ((["--help"], "COMMAND"), (["list"], "dcgan_mnist"), (["info", "dcgan_mnist"], "FID"),
                        (["info", "flow_mnist", "--json"], '"family": "diffusion"')):
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "keras_genai.cli", *args], capture_output=True,
                             text=True)
        assert run.returncode == 0 and shown in run.stdout, run.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time")}
        assert "keras_genai.zoo.registry" in imported or args == ["--help"]
        assert not {"tensorflow", "keras", "numpy"} & imported, args


def test_the_families_are_registered_with_keras_on_import(tmp_path):
    path = tmp_path / "gan.keras"
    save = f"import keras_genai; keras_genai.models.dcgan((28, 28, 1), latent_dim=4, base_filters=4).save({str(path)!r})"
    assert _python(save).returncode == 0
    load = f"import keras_genai, keras; print(type(keras.saving.load_model({str(path)!r})).__name__)"
    run = _python(load)
    assert run.returncode == 0 and run.stdout.strip() == "GAN", run.stderr[-2000:]


def test_a_sampling_command_prints_no_native_log_lines_unless_verbose(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "keras_genai.cli", "sample", "dcgan_mnist", "-n", "2", "--seed", "0"]
    quiet = subprocess.run(command + ["--output", str(tmp_path / "q.png")], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-2000:]
    assert quiet.stdout.startswith("saved 2 samples")
    verbose = subprocess.run(command + ["--output", str(tmp_path / "v.png"), "--verbose"], capture_output=True,
                             text=True, env=env)
    assert verbose.returncode == 0 and "I0000" in verbose.stderr  # TensorFlow's own start-up lines
    bad = subprocess.run(command + ["--output", str(tmp_path / "b.png"), "--labels", "3"], capture_output=True,
                         text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("keras-genai sample: error:")  # errors still show
