"""The ``keras-genai`` command line. Runs that train, sample or export go through a real
``python -m keras_genai.cli`` process; refusals and messages that need no process of their own
call ``cli.main`` here (the exit code it returns is the process's: ``sys.exit(main())``)."""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_genai import cli as keras_genai_cli
from keras_genai import zoo


def cli(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "keras_genai.cli", *args], capture_output=True, text=True, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def cli_here(capsys):
    """``cli`` in this process: (exit code, stdout, stderr) of ``keras_genai.cli.main(args)``
    (argparse's usage errors exit 2)."""
    def run(*args):
        capsys.readouterr()
        try:
            code = keras_genai_cli.main([str(arg) for arg in args])
        except SystemExit as exit:
            code = exit.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_console_script_help_lists_the_commands():
    script = shutil.which("keras-genai")
    assert script, "the keras-genai console script is not installed"
    result = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("list", "info", "sample", "train", "export"):
        assert command in result.stdout


def test_list_and_info(cli_here):
    code, out, _ = cli_here("list")
    assert code == 0 and "dcgan_mnist" in out and "recipe only" in out
    code, out, _ = cli_here("info", "dcgan_celeba")
    assert code == 0 and "not available here" in out and "celeb_a" in out


def test_sample_writes_png_and_array(tmp_path):
    code, out, err = cli("sample", "dcgan_mnist", "-n", "9", "--seed", "0", "--output", str(tmp_path / "s.png"), "--npy", str(tmp_path / "s.npy"))
    assert code == 0, err
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    images = np.load(tmp_path / "s.npy")
    np.testing.assert_array_equal(images, zoo.load("dcgan_mnist", compile=False).sample(9, seed=0))


def test_sample_with_candidates_gives_the_ranked_samples(tmp_path):
    code, _, err = cli("sample", "dcgan_mnist", "-n", "4", "--seed", "1", "--candidates", "3",
                       "--output", str(tmp_path / "s.png"), "--npy", str(tmp_path / "s.npy"))
    assert code == 0, err
    expected = zoo.load("dcgan_mnist", compile=False).sample(4, seed=1, candidates=3)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), expected)


@pytest.mark.parametrize("args,expected", [
    (("sample", "dcgan_mnst"), "did you mean dcgan_mnist"),
    (("sample", "dcgan_mnist", "-n", "0"), "positive integer"),
    (("sample", "dcgan_celeba"), "keras-genai train dcgan_celeba"),
    (("sample", "dcgan_mnist", "--candidates", "0"), "candidates must be a positive integer"),
    (("sample", "vae_mnist", "--candidates", "2"), "VAE does not take candidates; its sample takes no conditions"),
    (("evaluate", "vae_mnist", "--candidates", "2"), "VAE does not take candidates; its sample takes no conditions"),
])
def test_bad_input_exits_1_with_a_clear_message(args, expected, tmp_path, cli_here):
    code, _, err = cli_here(*args, "--output", str(tmp_path / "x.png"))
    assert code == 1 and expected in err
    assert not (tmp_path / "x.png").exists()


def test_export_all_formats_checked(tmp_path):
    code, out, err = cli("export", "dcgan_mnist", "--output", str(tmp_path / "dcgan_mnist"))
    assert code == 0, err
    assert os.path.isfile(tmp_path / "dcgan_mnist" / "1" / "saved_model.pb")
    for q in ("float32", "float16", "dynamic_int8", "full_int8"):  # every variant the family offers
        assert os.path.isfile(tmp_path / "dcgan_mnist" / f"model_{q}.tflite")
        assert f"check tflite_{q}: max |diff|" in out
    assert '"signature_name": "sample"' in out
    code, _, err = cli("export", "dcgan_mnist", "--output", str(tmp_path / "dcgan_mnist"), "--format", "saved_model")
    assert code == 1 and "--overwrite" in err


def test_export_batch_size_and_quantizations_a_family_does_not_offer(tmp_path, cli_here):
    from ai_edge_litert.interpreter import Interpreter

    code, _, err = cli_here("export", "dcgan_mnist", "--output", str(tmp_path / "d"), "--format", "tflite",
                            "--quantize", "float32", "--tflite-batch-size", "dynamic", "--no-check")
    assert code == 0, err
    (detail,) = Interpreter(model_path=str(tmp_path / "d" / "model_float32.tflite")).get_input_details()
    assert detail["shape_signature"][0] == -1
    code, _, err = cli_here("export", "gpt_shakespeare", "--output", str(tmp_path / "g"), "--quantize", "full_int8")
    assert code == 1 and "offers LiteRT files as float32, float16, dynamic_int8" in err
    assert not (tmp_path / "g").exists()  # refused before the SavedModel was written
    code, _, err = cli_here("export", "dcgan_mnist", "--output", str(tmp_path / "x"), "--tflite-batch-size", "two")
    assert code == 1 and "positive integer or 'dynamic', got 'two'" in err


@pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
def test_evaluate_samples_drawn_through_a_litert_file(tmp_path, cli_here):
    code, _, err = cli_here("evaluate", "cgan_mnist", "--litert", "full_int8", "--num-samples", "200",
                            "--metrics", "fid", "--output", str(tmp_path / "r.json"))
    assert code == 0, err
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["litert"]["quantize"] == "full_int8" and results["litert"]["batch_size"] == 1
    assert results["num_samples"] == 200 and results["label_accuracy"] > 0.9  # the labels reach the file
    code, _, err = cli_here("evaluate", "gpt_shakespeare", "--litert", "float32")
    assert code == 1 and "do not draw images from noise" in err


@pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
def test_train_a_few_steps_on_mnist_and_load_the_result(tmp_path, cli_here):
    out_dir = tmp_path / "trained"
    code, out, err = cli("train", "dcgan_mnist", "--output", str(out_dir), "--epochs", "1", "--steps-per-epoch", "3",
                         "--batch-size", "32", "--workdir", str(tmp_path / "run"), "--stop-after-stage", "1")
    assert code == 0, err[-3000:]
    meta = zoo.info(str(out_dir))
    assert meta["training"]["steps_per_epoch"] == 3 and meta["training"]["wall_time_s"] > 0
    assert meta["metrics"] == {}
    model = zoo.load(str(out_dir))
    assert model.sample(2, seed=0).shape == (2, 28, 28, 1)
    assert os.path.isfile(tmp_path / "run" / "stage_01" / "samples" / "epoch_0001.png")  # stage 1 of the 9
    code, _, err = cli_here("train", "dcgan_mnist", "--output", str(out_dir), "--epochs", "1")
    assert code == 1 and "--overwrite" in err


def test_fine_tuning_a_pretrained_preset_is_recorded_in_the_card(tmp_path, cli_here):
    code, _, err = cli("train", "dcgan_mnist", "--from-pretrained", "--output", str(tmp_path / "tuned"),
                       "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16")
    assert code == 0, err[-3000:]
    training = zoo.info(str(tmp_path / "tuned"))["training"]
    base = zoo.info("dcgan_mnist")["training"]
    assert training["continued_from"] == {"preset": "dcgan_mnist", "epochs": base["epochs"],
                                          "wall_time_s": base["wall_time_s"]}
    assert training["epochs"] == 1 and training["steps_per_epoch"] == 2
    assert zoo.load(str(tmp_path / "tuned")).seed == zoo.load("dcgan_mnist").seed  # no --seed: the preset's noise
    code, _, err = cli_here("train", str(tmp_path / "tuned"), "--output", str(tmp_path / "scratch"),
                            "--stop-after-stage", "1", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "16",
                            "--seed", "7")
    assert code == 0, err[-3000:]
    assert "continued_from" not in zoo.info(str(tmp_path / "scratch"))["training"]  # trained from scratch
    assert zoo.load(str(tmp_path / "scratch")).seed == 7  # --seed reseeds the training noise too


@pytest.mark.parametrize("command", [["info", "dcgan_mnsit"], ["evaluate", "dcgan_mnsit"],
                                     ["generate", "gpt_shakespear", "--prompt", "A"], ["sample", "dcgan_mnsit"]])
def test_unknown_preset_names_suggest_the_closest(command, cli_here):
    code, _, err = cli_here(*command)
    assert code == 1
    assert "unknown preset" in err and ("dcgan_mnist" in err or "gpt_shakespeare" in err), err[-2000:]


def test_fine_tuning_with_a_new_learning_rate_and_weight_averaging(tmp_path, cli_here):
    out_dir = tmp_path / "tuned"
    code, _, err = cli("train", "vae_mnist", "--from-pretrained", "--learning-rate", "1e-4", "--weight-averaging",
                       "0.99", "--output", str(out_dir), "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16")
    assert code == 0, err[-3000:]
    optimizer = zoo.training_recipe(str(out_dir))["optimizer"]["config"]
    assert optimizer["use_ema"] and optimizer["ema_momentum"] == pytest.approx(0.99)
    assert zoo.recipe.peak_learning_rate(optimizer["learning_rate"]) == pytest.approx(1e-4)
    assert zoo.info(str(out_dir))["training"]["retuned"] == {"learning_rate": 1e-4, "weight_averaging": 0.99}
    code, _, err = cli_here("train", "dcgan_mnist", "--weight-averaging", "0.99", "--output", str(tmp_path / "gan"),
                            "--epochs", "1", "--steps-per-epoch", "1")
    assert code == 1 and "ema_decay" in err and not os.path.exists(tmp_path / "gan")


@pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
def test_a_killed_run_resumes_and_its_card_counts_every_process(tmp_path, cli_here):
    args = ["train", "dcgan_mnist", "--output", str(tmp_path / "out"), "--epochs", "4", "--steps-per-epoch", "20",
            "--batch-size", "16", "--workdir", str(tmp_path / "run"), "--stop-after-stage", "1"]
    metadata = tmp_path / "run" / "stage_01" / "backup" / "training_metadata.json"
    process = subprocess.Popen([sys.executable, "-m", "keras_genai.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not metadata.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    assert metadata.exists() and not (tmp_path / "out").exists(), "the run should be killed after its first backup"
    epoch = json.loads(metadata.read_text())["epoch"]
    before = json.loads(metadata.read_text())["training_seconds"]
    assert 1 <= epoch < 4 and before > 0

    code, out, err = cli_here(*args)  # a second process: this one
    assert code == 0, err[-3000:]
    assert f"resuming after epoch {epoch}" in out
    training = zoo.info(str(tmp_path / "out"))["training"]
    assert training["resumed"].startswith(f"interrupted and resumed after epoch {epoch}; wall_time_s adds the")
    assert training["wall_time_s"] > before


def test_info_prints_the_recipe_one_line_per_stage(cli_here):
    code, out, err = cli_here("info", "dcgan_mnist")
    assert code == 0, err
    assert "recipe:     9 stages, 136 epochs (`keras-genai train dcgan_mnist --dry-run` prints it as JSON)" in out
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("stage ")]
    assert [line.split(":")[0] for line in lines] == [f"stage {n}" for n in range(1, 10)]
    assert lines[0].startswith("stage 1: 20 epochs, batch 128, seed 0, float32; model: `dcgan(")
    assert "model: `fit_mixture_prior(previous stage, num_components=30" in lines[8]


@pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
def test_evaluating_the_classifier_puts_its_test_scores_on_its_card(tmp_path, cli_here):
    folder = tmp_path / "mnist_classifier"
    shutil.copytree(zoo.info("mnist_classifier")["path"], folder)
    code, _, err = cli_here("evaluate", folder, "--update-card")
    assert code == 0, err[-3000:]
    scores = zoo.info(str(folder))["metrics"]["test"]
    assert scores["test_accuracy"] == zoo.info("mnist_classifier")["metrics"]["test_accuracy"]  # the shipped figure
    card = (folder / "README.md").read_text()
    assert f"| accuracy | {scores['test_accuracy']:.2%} |" in card
    assert f"| cross-entropy loss (nats per image) | {scores['test_loss']:.4f} |" in card
