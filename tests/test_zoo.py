import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tarfile
import threading
import time

import numpy as np
import pytest

from keras_genai import zoo
from keras_genai.models import GAN


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def tiny_preset(tiny_gan, tmp_path):
    folder = tmp_path / "tiny_preset"
    zoo.save_preset(tiny_gan, folder, {"name": "tiny", "family": "gan", "description": "test preset"})
    return folder


def test_list_and_info_cover_the_shipped_presets():
    names = zoo.list()
    assert {"dcgan_mnist", "dcgan_celeba"} <= set(names)
    info = zoo.info("dcgan_mnist")
    assert info["dataset"]["name"] == "mnist" and info["pretrained_available"]
    assert info["training"]["wall_time_s"] > 0
    assert not zoo.info("dcgan_celeba")["pretrained_available"]


def test_load_pretrained_dcgan_mnist_is_ready_to_sample_and_fit():
    model = zoo.load("dcgan_mnist")
    assert isinstance(model, GAN) and model.d_optimizer is not None
    images = model.sample(16, seed=0)
    assert images.shape == (16, 28, 28, 1) and images.dtype == np.uint8
    # Trained digits: mostly dark background with bright strokes, unlike an untrained net.
    assert (images < 50).mean() > 0.6 and (images > 200).mean() > 0.05


def test_unknown_name_suggests_the_closest():
    with pytest.raises(zoo.UnknownPresetError, match="did you mean dcgan_mnist"):
        zoo.load("dcgan_mnsit")


@pytest.mark.parametrize("name,shape", [("dcgan_cifar10", (32, 32, 3)), ("wgan_gp_cifar10", (32, 32, 3))])
def test_cifar10_recipes_behave_like_dcgan_celeba(name, shape):
    with pytest.raises(zoo.MissingWeightsError, match=f"keras-genai train {name}"):
        zoo.load(name)
    assert zoo.load(name, pretrained=False).image_shape == shape


def test_recipe_only_preset_explains_how_to_get_weights():
    with pytest.raises(zoo.MissingWeightsError) as error:
        zoo.load("dcgan_celeba")
    message = str(error.value)
    assert "keras-genai train dcgan_celeba" in message and "pretrained=False" in message
    model = zoo.load("dcgan_celeba", pretrained=False)
    assert model.image_shape == (64, 64, 3)


def test_save_preset_round_trip(tiny_gan, tiny_preset):
    assert sorted(os.listdir(tiny_preset)) == ["README.md", "config.json", "metadata.json", "model.weights.h5", "samples.png"]
    meta = json.loads((tiny_preset / "metadata.json").read_text())
    assert meta["weights"]["sha256"] == _sha256(tiny_preset / "model.weights.h5")
    assert "# tiny" in (tiny_preset / "README.md").read_text()
    loaded = zoo.load(str(tiny_preset))
    np.testing.assert_array_equal(loaded.sample(4, seed=2), tiny_gan.sample(4, seed=2))
    assert loaded.d_optimizer is not None
    with pytest.raises(FileExistsError):
        zoo.save_preset(tiny_gan, tiny_preset, {"name": "tiny"})


def test_load_with_another_noise_seed(tiny_preset):
    model = zoo.load(str(tiny_preset), seed=5)
    assert model.seed == 5
    assert not np.allclose(model.noise(4).numpy(), zoo.load(str(tiny_preset), seed=6).noise(4).numpy())
    assert zoo.load(str(tiny_preset), seed=np.int64(5)).seed == 5
    with pytest.raises(TypeError, match="seed must be None or an integer"):
        zoo.load(str(tiny_preset), seed="5")
    with pytest.raises(ValueError, match="has no seed to set"):
        zoo.load("mnist_classifier", seed=5)


def test_tampered_weights_are_refused(tiny_preset):
    weights = tiny_preset / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(zoo.ChecksumError, match="expected"):
        zoo.load(str(tiny_preset))


def test_corrupted_weights_without_checksum_give_a_clear_error(tiny_preset):
    meta = json.loads((tiny_preset / "metadata.json").read_text())
    meta["weights"].pop("sha256")
    (tiny_preset / "metadata.json").write_text(json.dumps(meta))
    (tiny_preset / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(zoo.PresetError, match="could not load weights"):
        zoo.load(str(tiny_preset))


def test_weights_override_is_checked(tiny_preset, tmp_path):
    with pytest.raises(zoo.ChecksumError):
        zoo.load(str(tiny_preset), weights=str(tiny_preset / "model.weights.h5"), weights_sha256="0" * 64)
    with pytest.raises(zoo.MissingWeightsError):
        zoo.load(str(tiny_preset), weights=str(tmp_path / "nope.weights.h5"))


def _archive(folder, tmp_path):
    path = tmp_path / "tiny.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        t.add(folder, arcname="tiny")
    return path, _sha256(path)


def test_file_url_preset_with_checksum(tiny_gan, tiny_preset, tmp_path):
    archive, sha = _archive(tiny_preset, tmp_path)
    model = zoo.load(archive.as_uri(), sha256=sha)
    np.testing.assert_array_equal(model.sample(2, seed=0), tiny_gan.sample(2, seed=0))
    with pytest.raises(ValueError, match="sha256 is required"):
        zoo.load(archive.as_uri())


def test_url_with_wrong_checksum_loads_nothing_and_caches_nothing(tiny_preset, tmp_path):
    archive, _ = _archive(tiny_preset, tmp_path)
    with pytest.raises(zoo.ChecksumError):
        zoo.load(archive.as_uri(), sha256="f" * 64)
    cache = tmp_path / "cache"
    leftovers = [f for _, _, files in os.walk(cache) for f in files] if cache.exists() else []
    assert leftovers == []


def test_http_preset_downloads_once(tiny_preset, tmp_path):
    archive, sha = _archive(tiny_preset, tmp_path)
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
        zoo.register("tiny_http", url, sha256=sha)
        assert "tiny_http" in zoo.list()
        first = zoo.load("tiny_http").sample(2, seed=1)
        second = zoo.load(url, sha256=sha).sample(2, seed=1)
    finally:
        server.shutdown()
    np.testing.assert_array_equal(first, second)
    assert hits == [f"/{archive.name}"]


def test_register_a_folder(tiny_preset):
    zoo.register("my_tiny", str(tiny_preset))
    assert zoo.info("my_tiny")["name"] == "tiny"
    with pytest.raises(zoo.PresetError, match="not a preset folder"):
        zoo.register("bad", str(tiny_preset / "nope"))


def test_wrong_source_type():
    with pytest.raises(TypeError, match="preset name"):
        zoo.load(42)


PRETRAINED = [name for name in zoo.list() if zoo.info(name)["pretrained_available"]]


@pytest.mark.parametrize("name", PRETRAINED)
def test_every_pretrained_preset_is_small_measured_and_loads(name):
    meta = zoo.info(name)
    assert meta["weights"]["bytes"] < 10.5e6
    assert meta["training"]["wall_time_s"] > 0 and meta["training"]["command"].startswith(f"keras-genai train {name}")
    assert meta["metrics"], f"{name} has no measured metrics in its card"
    model = zoo.load(name)
    if meta["family"] == "gan":
        evaluation = meta["metrics"]["mnist_features"]
        assert evaluation["num_samples"] == 10_000 and evaluation["reference"] == "mnist/test"
        images, _ = model.preview(20, seed=0)
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28, 1)
    card = open(os.path.join(meta["path"], "README.md")).read()
    assert "## Evaluation" in card and "No metrics measured yet" not in card


def test_cgan_preset_draws_the_requested_digits():
    from keras_genai.metrics import mnist_classifier

    model = zoo.load("cgan_mnist")
    labels = np.arange(200) % 10
    _, logits = mnist_classifier()(model.sample(200, seed=1, labels=labels))
    assert np.mean(logits.argmax(-1) == labels) >= 0.95


def test_processes_loading_one_url_at_once_leave_one_good_cached_file(tiny_preset, tmp_path):
    archive, sha = _archive(tiny_preset, tmp_path)
    payload = archive.read_bytes()

    class SlowHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # streams the archive in pieces so the downloads overlap
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for start in range(0, len(payload), len(payload) // 8 + 1):
                self.wfile.write(payload[start:start + len(payload) // 8 + 1])
                self.wfile.flush()
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
    script = ("import sys, keras_genai; m = keras_genai.zoo.load(sys.argv[1], sha256=sys.argv[2], compile=False); "
              "print(m.sample(2, seed=0).sum())")
    env = {**os.environ, "KERAS_GENAI_CACHE": str(tmp_path / "shared_cache")}
    try:
        workers = [subprocess.Popen([sys.executable, "-c", script, url, sha], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [w.communicate(timeout=300) for w in workers]
    finally:
        server.shutdown()
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in results]
    assert len({out.strip().splitlines()[-1] for out, _ in results}) == 1
    cached = [os.path.join(root, f) for root, _, names in os.walk(tmp_path / "shared_cache" / "downloads") for f in names]
    assert [os.path.basename(f) for f in cached] == [archive.name]
    assert _sha256(cached[0]) == sha
    presets = os.listdir(tmp_path / "shared_cache" / "presets")
    assert len(presets) == 1 and not presets[0].startswith(".")


REPO_ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
CARDS = sorted(name for name in os.listdir(REPO_ZOO) if os.path.isfile(os.path.join(REPO_ZOO, name, "README.md")))


@pytest.mark.parametrize("name", CARDS)
def test_every_shipped_card_is_its_metadata_rendered(name):
    from keras_genai.zoo import preset

    folder = os.path.join(REPO_ZOO, name)
    with open(os.path.join(folder, "metadata.json")) as f:
        metadata = json.load(f)
    with open(os.path.join(folder, "README.md")) as f:
        assert preset.render_model_card(metadata, preset.family_of(folder)) == f.read()


def test_each_family_lays_out_its_own_evaluations_on_the_card():
    from keras_genai.models import GPT, Classifier, PixelCNN
    from keras_genai.zoo import preset

    scores = {"test_accuracy": 0.9935, "test_loss": 0.0194, "command": "keras-genai evaluate mnist_classifier"}
    card = preset.render_model_card({"name": "c", "metrics": {"test": scores}}, Classifier)
    assert "| accuracy | 99.35% |\n| cross-entropy loss (nats per image) | 0.0194 |\n" in card
    assert "keras-genai evaluate mnist_classifier\n```" in card
    language = {"test": {"nats_per_char": 1.5, "bits_per_char": 2.164, "perplexity": 4.482, "characters": 55000}}
    assert "| test | 1.5000 | 2.1640 | 4.482 | 55000 |" in preset.render_model_card(
        {"name": "g", "metrics": {"language": language}}, GPT)
    likelihood = {"nll": 80.5, "exact": True, "nll_standard_error": 0.3, "num_examples": 10}
    assert "| test NLL (exact) | 80.50 ± 0.30 (s.e.) |" in preset.render_model_card(
        {"name": "p", "metrics": {"test_likelihood": likelihood}}, PixelCNN)
    from keras_genai.models import VAE

    speed = {"signature": "serving_default", "batch_size": 1, "rounds": 3, "calls_per_round": 5,
             "litert_num_threads": 1, "per_call_ms": {"keras": {"median": 1.0, "min": 0.9, "max": 1.2},
                                                      "litert_full_int8": {"median": 0.025, "min": 0.02, "max": 0.03}},
             "keras_over_litert": {"litert_full_int8": {"median": 40.0, "min": 30.0, "max": 50.0}},
             "file_bytes": {"litert_full_int8": 1_560_000}}
    quality = {"fid": 7.25, "features": "mnist", "reference": "mnist/test", "num_samples": 10000, "seed": 0,
               "litert": {"quantize": "full_int8", "signature": "serving_default", "batch_size": 1,
                          "file_bytes": 1_560_000}}
    card = preset.render_model_card({"name": "v", "metrics": {"litert_speed_batch_1": speed,
                                                              "mnist_features_litert_full_int8": quality}}, VAE)
    assert "| litert_full_int8 | 0.025 (0.02-0.03) | 40.00x (30.00-50.00) | 1.56 MB |" in card
    assert "drawn through the LiteRT full_int8 file of `serving_default` (batch 1, 1.56 MB)" in card
    assert "| FID | 7.25 |" in card


def _without_names(compile_config):
    """A compile config without the optimizers' and schedules' ``name`` (Keras numbers them per
    process: ``adam``, ``adam_17``); what is left is the recipe."""
    if isinstance(compile_config, dict):
        return {key: _without_names(value) for key, value in compile_config.items() if key != "name"}
    return compile_config


@pytest.mark.parametrize("name", zoo.list_presets())
def test_a_shipped_config_is_what_its_recipes_last_stage_trains(name):
    """config.json holds what ``keras-genai train NAME`` saves after the last stage: that stage's
    optimizers (``stages.compile_config_for``) and every model option a stage set."""
    from keras_genai.zoo import preset, registry, stages

    folder = registry.resolve(name)
    metadata, config = preset.read_json(folder, preset.METADATA_FILE), preset.read_json(folder, preset.CONFIG_FILE)
    if "recipe" not in metadata:
        pytest.skip(f"{name} has no recipe stages")
    plan = stages.check_plan(stages.recipe_stages(metadata), config)
    expected = stages.compile_config_for(plan[-1].get("optimizers"), config.get("compile_config"))
    assert _without_names(config.get("compile_config")) == _without_names(expected)
    options = {}
    for stage in plan:
        options.update(stage.get("options", {}))
    # Options that are entries of the model's config; a builder's argument such as
    # refine_discriminator shows in the networks instead.
    set_in_config = {key: value for key, value in options.items() if key in config["config"]}
    assert {key: config["config"][key] for key in set_in_config} == set_in_config
