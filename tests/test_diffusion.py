"""The diffusion family (``keras_genai.models.Diffusion``): training for each objective, the EMA,
label dropout, seeded and chunked sampling, classifier-free guidance, the v-to-epsilon
conversion, save/load, mixed precision and refused input. Tiny U-Nets on 8x8 images; the
fresh-process save/load and export parity are in the contract suite (test_family_contract.py).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import models, nets

SHAPE = (8, 8, 1)
# One level (no downsampling) keeps the traces short; the three-level net is checked on its own below.
TINY = dict(image_shape=SHAPE, base_filters=4, channel_multipliers=(1,), blocks_per_level=1, attention_heads=1,
            steps=3)
NUM_CLASSES = 3
TRAIN_STEPS = 10
EMA_DECAY = 0.5


def _patterns(labels):
    """One smooth image per class in [-0.8, 0.8]: what the tiny models learn."""
    rows, columns = np.meshgrid(np.linspace(-1, 1, SHAPE[0]), np.linspace(-1, 1, SHAPE[1]), indexing="ij")
    shapes = np.stack([rows, columns, rows * columns])
    return (0.8 * shapes[np.asarray(labels) % 3])[..., None].astype(np.float32)


def _loss_on_fixed_examples(model, images, labels):
    """The objective's mean squared error of the trained (not the EMA) network on fixed noise and
    times, derived from the schedule: a number that does not depend on the training noise."""
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(images.shape).astype(np.float32)
    if model.objective == "flow":
        t = np.linspace(0.05, 0.95, len(images)).astype(np.float32)
        x_t = model.schedule.add_noise(images, noise, t)
        target = model.schedule.velocity_target(images, noise)
    else:
        steps = np.linspace(0, model.schedule.num_timesteps - 1, len(images)).astype(np.int32)
        x_t = model.schedule.add_noise(images, noise, steps)
        target = noise if model.objective == "epsilon" else model.schedule.v_target(images, noise, steps)
        t = steps.astype(np.float32)
    inputs = [x_t, t, labels] if model.conditional else [x_t, t]
    return float(np.mean(np.square(model(inputs).numpy() - np.asarray(target))))


def _trained(model):
    """Trains ``model`` TRAIN_STEPS steps on one fixed batch; returns what the tests look at."""
    labels = np.arange(32) % NUM_CLASSES
    images = _patterns(labels)
    batch = (images, labels.astype(np.int32)) if model.conditional else images
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = _loss_on_fixed_examples(model, images, labels)
    ema_start = model.ema_denoiser.get_weights()
    history = []
    for step in range(TRAIN_STEPS):
        model.train_on_batch(*batch) if model.conditional else model.train_on_batch(batch)
        if step < 2:
            history.append((model.denoiser.get_weights(), model.ema_denoiser.get_weights()))
    return {"model": model, "before": before, "after": _loss_on_fixed_examples(model, images, labels),
            "ema_start": ema_start, "history": history}


@pytest.fixture(scope="module")
def epsilon():
    keras.utils.set_random_seed(0)
    return _trained(models.ddpm(objective="epsilon", schedule="cosine", ema_decay=EMA_DECAY, seed=0, **TINY))


@pytest.fixture(scope="module")
def v_prediction():
    keras.utils.set_random_seed(0)
    return _trained(models.ddpm(objective="v", schedule="linear", ema_decay=EMA_DECAY, seed=0, **TINY))


@pytest.fixture(scope="module")
def flow():
    """The conditional flow model, built and trained under mixed_bfloat16 (as the presets are)."""
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        model = models.flow_matching(num_classes=NUM_CLASSES, label_dropout=0.2, ema_decay=EMA_DECAY, seed=0, **TINY)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return _trained(model)


@pytest.mark.parametrize("objective", ["epsilon", "v_prediction", "flow"])
def test_train_step_lowers_the_loss_of_each_objective(objective, request):
    run = request.getfixturevalue(objective)
    assert np.isfinite(run["after"])
    assert run["after"] < 0.8 * run["before"], (run["before"], run["after"])


def test_the_ema_follows_the_trained_weights_with_a_warm_up(epsilon):
    """average_n = d_n average_{n-1} + (1 - d_n) weight_n, d_n = min(decay, (1 + n) / (10 + n))."""
    average = epsilon["ema_start"]
    for n, (weights, ema) in enumerate(epsilon["history"], start=1):
        decay = min(EMA_DECAY, (1 + n) / (10 + n))
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights)]
        for expected, got in zip(average, ema):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    model = epsilon["model"]
    assert not all(np.allclose(a, b) for a, b in zip(model.denoiser.get_weights(), model.ema_denoiser.get_weights()))
    assert model.sampling_denoiser is model.ema_denoiser


def test_noisy_batch_targets_and_label_dropout(epsilon, v_prediction, flow):
    images = _patterns(np.arange(4000) % NUM_CLASSES)
    labels = np.arange(4000, dtype=np.int32) % NUM_CLASSES
    model = flow["model"]
    x_t, t, target, seen = (np.asarray(a) for a in model.noisy_batch(images, labels, step=3))
    dropped = seen == NUM_CLASSES
    assert abs(dropped.mean() - 0.2) < 3 * np.sqrt(0.2 * 0.8 / 4000)  # label_dropout=0.2, 3 standard errors
    np.testing.assert_array_equal(seen[~dropped], labels[~dropped])
    assert 0.0 <= t.min() and t.max() < 1.0
    noise = target + images  # the velocity is eps - x0
    np.testing.assert_allclose(x_t, (1 - t[:, None, None, None]) * images + t[:, None, None, None] * noise, atol=1e-5)
    again = model.noisy_batch(images, labels, step=3)
    np.testing.assert_array_equal(np.asarray(again[0]), x_t)  # the training noise is keyed by the step
    assert not np.array_equal(np.asarray(model.noisy_batch(images, labels, step=4)[0]), x_t)

    model = v_prediction["model"]
    x_t, t, target, _ = (np.asarray(a) for a in model.noisy_batch(images[:64], step=0))
    assert np.array_equal(t, np.round(t)) and 0 <= t.min() and t.max() <= 999
    alpha_bar = model.schedule.alphas_cumprod[t.astype(int)][:, None, None, None]
    noise = (x_t - np.sqrt(alpha_bar) * images[:64]) / np.sqrt(1 - alpha_bar)
    np.testing.assert_allclose(target, np.sqrt(alpha_bar) * noise - np.sqrt(1 - alpha_bar) * images[:64], atol=1e-4)


def test_samples_are_uint8_seeded_and_independent_of_n_and_chunks(epsilon):
    model = epsilon["model"]
    five = model.sample(5, seed=3)
    assert five.shape == (5, *SHAPE) and five.dtype == np.uint8
    np.testing.assert_array_equal(five, model.sample(5, seed=3))
    np.testing.assert_array_equal(five[:2], model.sample(2, seed=3))
    np.testing.assert_array_equal(five, model.sample(5, seed=3, batch_size=2))
    assert not np.array_equal(five, model.sample(5, seed=4))
    assert not np.array_equal(model.sample(5), model.sample(5))  # seed=None: fresh noise each call
    # The compiled loop is the naive one (one eager network call per step from Python).
    np.testing.assert_array_equal(five, model.sample_reference(5, seed=3))
    # The initial noise is tf.random.stateless_normal((n, H, W, C), [seed, 0]).
    noise = tf.random.stateless_normal((5, *SHAPE), seed=[3, 0]).numpy()
    images = model.generate(noise)
    np.testing.assert_array_equal(five, np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8))


def test_stochastic_samplers_do_not_depend_on_n_or_chunks(epsilon, monkeypatch):
    """ddpm draws each step's noise per block of rows: rows in a later block of a long draw match
    the exported graph, which loops over the blocks itself."""
    monkeypatch.setattr(models.diffusion.model, "NOISE_BLOCK", 4)  # blocks of 4 rows: 3 blocks below
    model = models.Diffusion.from_config(epsilon["model"].get_config())
    model.set_weights(epsilon["model"].get_weights())
    n = 10
    many = model.sample(n, seed=1, sampler="ddpm", steps=2)
    np.testing.assert_array_equal(many[:3], model.sample(3, seed=1, sampler="ddpm", steps=2))
    np.testing.assert_array_equal(many, model.sample(n, seed=1, sampler="ddpm", steps=2, batch_size=5))
    assert not np.array_equal(many, model.sample(n, seed=2, sampler="ddpm", steps=2))
    stochastic = models.Diffusion.from_config({**model.get_config(), "sampler": "ddpm"})
    stochastic.set_weights(model.get_weights())
    fn, specs = stochastic.export_signatures()["sample"]
    inputs = {"num_samples": tf.constant(n, tf.int32), "steps": tf.constant(2, tf.int32),
              "seed": tf.constant(1, tf.int64)}
    exported = fn(*(inputs[spec.name] for spec in specs))["images"].numpy()
    np.testing.assert_array_equal(exported, many)


def test_guidance_mixes_the_conditional_and_unconditional_predictions(flow):
    """One Euler step from t = 1 lands on x - v: the guided velocity is uncond + w (cond - uncond)."""
    model = flow["model"]
    noise = 0.3 * tf.random.stateless_normal((4, *SHAPE), seed=[0, 0]).numpy()
    labels = np.array([0, 1, 2, 0])
    cond = model.denoise(noise, 1.0, labels=labels)
    uncond = model.denoise(noise, 1.0, labels=NUM_CLASSES)
    assert np.abs(cond - uncond).max() > 1e-3  # the classes matter, so the check below can fail
    for w in (0.0, 1.0, 2.5):
        images = model.generate(noise, labels=labels, sampler="euler", steps=1, guidance=w)
        expected = np.clip(noise - (uncond + w * (cond - uncond)), -1, 1)
        np.testing.assert_allclose(images, expected, atol=2e-5, err_msg=f"guidance {w}")


def test_v_prediction_is_converted_to_epsilon(v_prediction):
    """One DDIM step from T-1 to clean data returns x0 = sqrt(ab) x - sqrt(1 - ab) v (closed form)."""
    model = v_prediction["model"]
    noise = tf.random.stateless_normal((4, *SHAPE), seed=[1, 0]).numpy()
    v = model.denoise(noise, model.schedule.num_timesteps - 1)
    alpha_bar = model.schedule.alphas_cumprod[-1]
    expected = np.clip(np.sqrt(alpha_bar) * noise - np.sqrt(1 - alpha_bar) * v, -1, 1)
    np.testing.assert_allclose(model.generate(noise, sampler="ddim", steps=1), expected, atol=1e-3)
    # Read as an epsilon model, the same network would give other images.
    eps_reading = np.clip((noise - np.sqrt(1 - alpha_bar) * v) / np.sqrt(alpha_bar), -1, 1)
    assert np.abs(eps_reading - expected).max() > 0.1


def test_save_and_load_keep_the_ema_weights_and_the_options(epsilon, flow, tmp_path):
    model = flow["model"]
    model.save(tmp_path / "flow.keras")
    loaded = keras.saving.load_model(tmp_path / "flow.keras")
    assert isinstance(loaded, models.Diffusion)
    for key in ("objective", "num_classes", "label_dropout", "sampler", "steps", "ema_decay"):
        assert getattr(loaded, key) == getattr(model, key), key
    for a, b in zip(loaded.ema_denoiser.get_weights() + loaded.denoiser.get_weights(),
                    model.ema_denoiser.get_weights() + model.denoiser.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(loaded.ema_denoiser.get_weights()[0], loaded.denoiser.get_weights()[0])
    assert type(loaded.optimizer).__name__ == "Adam"  # the compile config came back too
    # float32 (the flow model computes in bfloat16, whose kernels differ between traces):
    model = epsilon["model"]
    model.save(tmp_path / "epsilon.keras")
    loaded = keras.saving.load_model(tmp_path / "epsilon.keras")
    assert loaded.schedule.get_config() == model.schedule.get_config()
    np.testing.assert_array_equal(loaded.sample(4, seed=2), model.sample(4, seed=2))


def test_mixed_bfloat16_training_keeps_float32_weights_and_outputs(flow):
    model = flow["model"]
    assert model.denoiser.get_layer("down0_0_conv1").compute_dtype == "bfloat16"
    assert model.denoiser.get_layer("time_features").compute_dtype == "float32"  # timesteps need float32
    assert all(w.dtype == "float32" for w in model.denoiser.weights + model.ema_denoiser.weights)
    assert model.denoise(np.zeros((2, *SHAPE), np.float32), 0.5, labels=[0, 1]).dtype == np.float32
    assert np.isfinite(flow["after"])


def test_the_unet_halves_the_resolution_per_level_and_checks_its_shape():
    net = nets.unet_denoiser((28, 28, 1), base_filters=8, channel_multipliers=(1, 2, 2), num_classes=10)
    assert [i.name for i in net.inputs] == ["x_t", "t", "labels"]
    sizes = {layer.output.shape[1] for layer in net.layers if layer.name.endswith("_downsample")}
    assert sizes == {14, 7}
    assert [layer.name for layer in net.layers if layer.name.endswith("_attention")] == [
        "down2_0_attn_attention", "down2_1_attn_attention", "middle_attn_attention", "up2_0_attn_attention",
        "up2_1_attn_attention", "up2_2_attn_attention"]  # the lowest resolution only
    assert net.get_layer("label_embedding").input_dim == 11  # the last row: no label
    out = net([np.zeros((2, 28, 28, 1), np.float32), np.array([0.0, 999.0], np.float32), np.array([3, 10])])
    assert out.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(out, 0.0)  # the output convolution starts at zero
    with pytest.raises(ValueError, match="divisible by 4"):
        nets.unet_denoiser((30, 30, 1), channel_multipliers=(1, 2, 2))
    with pytest.raises(ValueError, match="num_classes must be None or an integer >= 2"):
        nets.unet_denoiser((8, 8, 1), num_classes=1)


def test_sinusoidal_time_features_match_the_closed_form():
    t = np.array([0.0, 0.5, 999.0], np.float32)
    features = nets.SinusoidalEmbedding(8, scale=2.0)(t).numpy()
    frequencies = 10_000.0 ** (-np.arange(4) / 4)
    angles = 2.0 * t[:, None] * frequencies[None]
    np.testing.assert_allclose(features, np.concatenate([np.sin(angles), np.cos(angles)], 1), atol=2e-4)


def test_bad_sampling_input_is_refused_with_a_clear_error(epsilon, flow):
    model, conditional = epsilon["model"], flow["model"]
    with pytest.raises(ValueError, match="steps must be >= 1"):
        model.sample(2, seed=0, steps=0)
    with pytest.raises(TypeError, match="steps must be an integer"):
        model.sample(2, seed=0, steps=2.5)
    with pytest.raises(ValueError, match=r"steps must be <= num_timesteps \(1000\)"):
        model.sample(2, seed=0, steps=1001)
    with pytest.raises(ValueError, match="unknown sampler 'plms'; the samplers are ddpm, ddim"):
        model.sample(2, seed=0, sampler="plms")
    with pytest.raises(ValueError, match="ddim fits noise-prediction models .* use euler or heun"):
        conditional.sample(2, seed=0, labels=[0, 1], sampler="ddim")
    with pytest.raises(ValueError, match="heun fits flow models .* use ddpm, ddim or dpm_solver"):
        model.sample(2, seed=0, sampler="heun")
    with pytest.raises(ValueError, match="guidance needs a class-conditional model"):
        model.sample(2, seed=0, guidance=2.0)
    with pytest.raises(ValueError, match="guidance needs labels"):
        conditional.sample(2, seed=0, guidance=2.0)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        conditional.sample(2, seed=0, labels=[0, 1], guidance=-1.0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        conditional.sample(2, seed=0, labels=[0, 3])
    with pytest.raises(ValueError, match="is conditional: pass labels"):
        conditional.sample(2, seed=0)
    with pytest.raises(ValueError, match="unconditional; do not pass labels"):
        model.sample(2, seed=0, labels=[0, 1])
    for seed in ("5", 1.5, True):
        with pytest.raises(TypeError, match="seed must be None or an integer"):
            model.sample(2, seed=seed)
    with pytest.raises(TypeError, match="num_samples must be a positive integer"):
        model.sample(2.0, seed=0)
    with pytest.raises(ValueError, match=r"t must be in \[0, 999\]"):
        model.denoise(np.zeros((2, *SHAPE), np.float32), 1000.0)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        conditional.denoise(np.zeros((2, *SHAPE), np.float32), 2.0, labels=[0, 1])
    with pytest.raises(ValueError, match=r"x_t must have shape \(n, 8, 8, 1\)"):
        model.denoise(np.zeros((2, 9, 9, 1), np.float32), 0.0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):  # the "no label" token is 3
        conditional.denoise(np.zeros((2, *SHAPE), np.float32), 0.5, labels=[0, 4])


def test_bad_model_options_are_refused(epsilon):
    denoiser = epsilon["model"].denoiser
    with pytest.raises(ValueError, match="objective must be one of"):
        models.Diffusion(denoiser, objective="x0")
    with pytest.raises(ValueError, match="a flow model moves along the FlowPath"):
        models.Diffusion(denoiser, objective="flow", schedule="cosine")
    with pytest.raises(ValueError, match="kind must be one of"):
        models.Diffusion(denoiser, schedule="quadratic")
    with pytest.raises(ValueError, match=r"ema_decay must be None or a number in \(0, 1\)"):
        models.Diffusion(denoiser, ema_decay=1.0)
    with pytest.raises(ValueError, match=r"label_dropout must be a number in \[0, 1\)"):
        models.Diffusion(denoiser, label_dropout=1.0)
    with pytest.raises(ValueError, match="the denoiser has 2 inputs but the model is conditional"):
        models.Diffusion(denoiser, num_classes=3)
    with pytest.raises(ValueError, match="unknown default sampler 'euler2'"):
        models.Diffusion(denoiser, sampler="euler2")
    with pytest.raises(ValueError, match="euler fits flow models"):
        models.Diffusion(denoiser, sampler="euler")
    with pytest.raises(ValueError, match="guidance is a default of class-conditional models"):
        models.Diffusion(denoiser, guidance=2.0)
    with pytest.raises(ValueError, match="ddpm's objective is 'epsilon' or 'v'"):
        models.ddpm(objective="flow", **TINY)


def test_set_sampling_changes_the_defaults_after_checking_them(epsilon, flow):
    model = models.Diffusion.from_config(epsilon["model"].get_config())
    model.set_sampling("ddim", steps=7)
    assert (model.sampler, model.steps) == ("ddim", 7)
    assert models.Diffusion.from_config(model.get_config()).sampler == "ddim"
    with pytest.raises(ValueError, match="euler fits flow models"):
        model.set_sampling("euler")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        model.set_sampling(steps=0)
    with pytest.raises(ValueError, match="guidance needs a class-conditional model"):
        model.set_sampling(guidance=2.0)
    assert (model.sampler, model.steps) == ("ddim", 7)  # nothing changed by the refused calls
    conditional = models.Diffusion.from_config(flow["model"].get_config())
    conditional.set_sampling(guidance=3.0)
    assert conditional.default_guidance == 3.0 and conditional.sampler == "heun"


def test_conditional_training_refuses_images_without_labels_and_labels_out_of_range(flow):
    model = flow["model"]
    images = _patterns(np.arange(4))
    with pytest.raises(ValueError, match="trains on \\(images, labels\\) batches"):
        model.train_step(tf.constant(images))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"training labels must be in \[0, 3\)"):
        model.train_step((tf.constant(images), tf.constant([0, 1, 2, 3])))


def contract_model(conditional):
    """The tiny models of the contract suite (tests/test_family_contract.py): an unconditional
    epsilon model sampled with DPM-Solver++, and a conditional flow model sampled with Heun and
    guidance 2. Their output convolutions get seeded random weights, so that the untrained
    networks predict something."""
    keras.utils.set_random_seed(0)
    if conditional:
        model = models.flow_matching(num_classes=NUM_CLASSES, guidance=2.0, seed=0, **TINY)
    else:
        model = models.ddpm(seed=0, **TINY)
    kernel, bias = model.denoiser.get_layer("prediction").get_weights()
    kernel = 0.2 * np.random.default_rng(0).standard_normal(kernel.shape).astype(np.float32)
    for network in (model.denoiser, model.ema_denoiser):
        network.get_layer("prediction").set_weights([kernel, bias])
    return model


def test_the_card_tables_fid_against_steps_per_sampler():
    def evaluation(sampler, steps, fid):
        return {"fid": fid, "is_mean": 9.0, "precision": 0.8, "recall": 0.7, "features": "mnist", "num_samples": 10000,
                "seed": 0, "reference": "mnist/test", "conditions": {"sampler": sampler, "steps": steps},
                "command": f"keras-genai evaluate ddpm_mnist --sampler {sampler} --steps {steps}"}

    metrics = {"mnist_features_sampler_dpm_solver_steps_20": evaluation("dpm_solver", 20, 2.0),
               "mnist_features_sampler_ddim_steps_10": evaluation("ddim", 10, 4.5),
               "mnist_features_sampler_dpm_solver_steps_10": evaluation("dpm_solver", 10, 3.0),
               "test_accuracy": 0.5}
    lines = models.Diffusion.card_metric_sections(metrics)
    rows = [line for line in lines if line.startswith("| `")]
    assert rows == ["| `ddim` | 10 | 10 | 4.5 | 9 | 0.800 / 0.700 |", "| `dpm_solver` | 10 | 10 | 3 | 9 | 0.800 / 0.700 |",
                    "| `dpm_solver` | 20 | 20 | 2 | 9 | 0.800 / 0.700 |"]  # by sampler (samplers.NAMES), then steps
    assert lines.count("### FID against sampler steps") == 1
    heun = models.Diffusion.card_metric_sections({"k": evaluation("heun", 20, 3.0)})
    assert any(line.startswith("| `heun` | 20 | 39 |") for line in heun)  # Heun: 2 * steps - 1 evaluations
