"""Noise schedules and samplers of the diffusion family, against closed forms.

Gaussian data ``x0 ~ N(mu, sd^2)`` per dimension has an exact denoiser:
- on a NoiseSchedule, ``x_t ~ N(a mu, a^2 sd^2 + s^2)`` (a = sqrt(ab), s = sqrt(1 - ab)), and
  ``E[eps | x_t] = s (x_t - a mu) / (a^2 sd^2 + s^2)``;
- on a FlowPath, ``x_t = (1 - t) x0 + t eps ~ N((1 - t) mu, (1 - t)^2 sd^2 + t^2)`` and
  ``E[eps - x0 | x_t] = -mu + (t - (1 - t) sd^2) / ((1 - t)^2 sd^2 + t^2) (x_t - (1 - t) mu)``.
The probability-flow ODE keeps ``(x_t - mean_t) / std_t`` constant, so the exact sample of initial
noise ``z`` at the first timestep is ``mu + sd (z - mean_T) / std_T``: deterministic samplers are
measured against it sample by sample (no Monte Carlo error at all), stochastic ones through
moments of many samples.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_genai.models.diffusion import samplers
from keras_genai.models.diffusion.schedules import FlowPath, NoiseSchedule

SHAPE = (2, 4)  # one example: any shape works; 8 dimensions with different mean and spread
MU = np.linspace(-1.0, 1.5, 8).reshape(SHAPE)
SD = np.linspace(0.3, 1.5, 8).reshape(SHAPE)
SEED = tf.constant([5, 6], tf.int64)
DETERMINISTIC = [("ddim", {}), ("dpm_solver", {}), ("euler", {}), ("heun", {})]
STOCHASTIC = [("ddpm", {}), ("ddim", {"eta": 1.0})]
EVERY = [("ddpm", {}), ("ddim", {}), ("ddim", {"eta": 0.5}), ("dpm_solver", {}), ("euler", {}), ("heun", {})]


def _path(name):
    return FlowPath() if samplers.get(name).fits == "flow" else NoiseSchedule("cosine")


def exact_predictor(schedule):
    """The exact epsilon (NoiseSchedule) or velocity (FlowPath) of the Gaussian data."""
    mu, sd = tf.constant(MU, tf.float32), tf.constant(SD, tf.float32)
    if isinstance(schedule, FlowPath):
        def velocity(x, t):
            t = t[:, None, None]
            return -mu + (t - (1 - t) * sd**2) / ((1 - t) ** 2 * sd**2 + t**2) * (x - (1 - t) * mu)
        return velocity

    def epsilon(x, t):
        alpha_bar = schedule.alpha_bar(t)[:, None, None]
        return tf.sqrt(1 - alpha_bar) * (x - tf.sqrt(alpha_bar) * mu) / (alpha_bar * sd**2 + 1 - alpha_bar)
    return epsilon


def exact_samples(noise, schedule):
    """What the probability-flow ODE makes of ``noise`` at the sampler's first time."""
    if isinstance(schedule, FlowPath):
        return MU + SD * noise
    a, s = (float(v) for v in schedule.signal_and_noise_scales(schedule.num_timesteps - 1))
    return MU + SD * (noise - a * MU) / np.sqrt(a**2 * SD**2 + s**2)


def standard_noise(n, seed=(3, 4)):
    """Normal noise standardized per dimension (sample mean exactly 0, std exactly 1): on Gaussian
    data a deterministic sampler is affine in the noise per dimension, so the sample mean and std
    of its output are exactly those of its output distribution."""
    z = tf.random.stateless_normal((n, *SHAPE), seed=seed, dtype=tf.float64).numpy()
    return ((z - z.mean(0)) / z.std(0)).astype("float32")


def compiled(sampler, schedule, predict=None):
    """``sampler.sample`` as one tf.function: noise (B, 2, 4), steps and seed as graph tensors."""
    predict = predict or exact_predictor(schedule)
    return tf.function(lambda noise, steps, seed: sampler.sample(predict, noise, steps, schedule, seed=seed),
                       input_signature=[tf.TensorSpec([None, *SHAPE], tf.float32), tf.TensorSpec([], tf.int32),
                                        tf.TensorSpec([2], tf.int64)])


def rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


# --- schedules ---


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alpha_bar_decreases_strictly_inside_0_1(kind):
    schedule = NoiseSchedule(kind, num_timesteps=1000)
    table = schedule.alphas_cumprod
    assert table.dtype == np.float64 and table.shape == (1000,)
    assert np.all(np.diff(table) < 0) and 0 < table[-1] and table[0] < 1
    gathered = schedule.alpha_bar(tf.range(1000))
    assert gathered.dtype == tf.float32
    np.testing.assert_allclose(gathered.numpy(), table, rtol=1e-6)
    signal, noise = schedule.signal_and_noise_scales(tf.range(1000))
    np.testing.assert_allclose(noise.numpy(), np.sqrt(1 - table), rtol=1e-6)  # accurate also where ab ~ 1
    np.testing.assert_allclose(signal.numpy(), np.sqrt(table), rtol=1e-6)


def test_linear_betas_run_evenly_from_beta_start_to_beta_end():
    schedule = NoiseSchedule("linear", num_timesteps=50, beta_start=1e-3, beta_end=0.05)
    assert schedule.betas[0] == pytest.approx(1e-3) and schedule.betas[-1] == pytest.approx(0.05)
    np.testing.assert_allclose(np.diff(schedule.betas), (0.05 - 1e-3) / 49, rtol=1e-9)
    np.testing.assert_allclose(schedule.alphas_cumprod, np.cumprod(1 - schedule.betas), rtol=1e-12)


def test_cosine_alpha_bar_is_the_closed_form_of_nichol_and_dhariwal():
    schedule = NoiseSchedule("cosine", num_timesteps=1000)
    f = lambda u: np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    closed = f(np.arange(1, 1001) / 1000) / f(0.0)
    unclipped = schedule.betas < 0.999
    assert unclipped[:-1].all() and not unclipped[-1]  # only the last beta (alpha_bar -> 0) is clipped
    np.testing.assert_allclose(schedule.alphas_cumprod[:-1], closed[:-1], rtol=1e-9)
    assert schedule.betas.max() == pytest.approx(0.999)


def test_alpha_bar_interpolates_between_timesteps_and_clips_outside():
    schedule = NoiseSchedule("linear", num_timesteps=100)
    table = schedule.alphas_cumprod
    at = schedule.alpha_bar(tf.constant([3.0, 3.25, 98.5, -4.0, 150.0, 99.0])).numpy()
    expected = [table[3], 0.75 * table[3] + 0.25 * table[4], (table[98] + table[99]) / 2, table[0], table[99],
                table[99]]
    np.testing.assert_allclose(at, expected, rtol=1e-6)
    assert schedule.alpha_bar(7).shape == () and schedule.alpha_bar(tf.zeros((2, 3), tf.int32)).shape == (2, 3)


def test_add_noise_is_the_forward_process_for_each_example():
    schedule = NoiseSchedule("cosine", num_timesteps=1000)
    x0 = np.random.default_rng(0).normal(size=(3, 5, 5, 2)).astype("float32")
    eps = np.random.default_rng(1).normal(size=(3, 5, 5, 2)).astype("float32")
    t = np.array([0, 400, 999], np.int32)
    ab = schedule.alphas_cumprod[t][:, None, None, None]
    np.testing.assert_allclose(schedule.add_noise(x0, eps, t).numpy(), np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(schedule.v_target(x0, eps, t).numpy(), np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0,
                               rtol=1e-5, atol=1e-6)
    noised = schedule.add_noise(tf.constant(x0, tf.bfloat16), tf.constant(eps, tf.bfloat16), t)
    assert noised.dtype == tf.bfloat16  # coefficients follow the data's dtype (mixed precision)


def test_v_and_epsilon_conversions_invert_each_other():
    schedule = NoiseSchedule("linear", num_timesteps=1000)
    x0 = tf.random.stateless_normal((4, 6), seed=(0, 1))
    eps = tf.random.stateless_normal((4, 6), seed=(0, 2))
    t = tf.constant([0, 10, 500, 999])
    x_t = schedule.add_noise(x0, eps, t)
    v = schedule.v_target(x0, eps, t)
    np.testing.assert_allclose(schedule.epsilon_from_v(x_t, v, t), eps, atol=1e-5)
    np.testing.assert_allclose(schedule.x0_from_v(x_t, v, t), x0, atol=1e-5)
    np.testing.assert_allclose(schedule.epsilon_from_x0(x_t, x0, t), eps, atol=2e-4)  # / sqrt(1 - ab) ~ 1/0.01 at t=0
    np.testing.assert_allclose(schedule.x0_from_epsilon(x_t, eps, t), x0, atol=2e-3)  # / sqrt(ab) ~ 1/0.006 at t=999


def test_flow_path_interpolates_and_its_velocity_is_the_time_derivative():
    path = FlowPath()
    x0 = tf.random.stateless_normal((3, 2, 2), seed=(0, 1))
    eps = tf.random.stateless_normal((3, 2, 2), seed=(0, 2))
    np.testing.assert_allclose(path.add_noise(x0, eps, tf.zeros(3)), x0)
    np.testing.assert_allclose(path.add_noise(x0, eps, tf.ones(3)), eps)
    t, dt = tf.constant([0.1, 0.5, 0.9]), 1e-2
    slope = (path.add_noise(x0, eps, t + dt) - path.add_noise(x0, eps, t - dt)) / (2 * dt)
    velocity = path.velocity_target(x0, eps)
    np.testing.assert_allclose(slope, velocity, atol=1e-4)
    x_t = path.add_noise(x0, eps, t)
    np.testing.assert_allclose(path.x0_from_velocity(x_t, velocity, t), x0, atol=1e-6)
    np.testing.assert_allclose(path.epsilon_from_velocity(x_t, velocity, t), eps, atol=1e-6)


def test_schedules_round_trip_through_their_configs():
    schedule = NoiseSchedule("linear", num_timesteps=200, beta_start=2e-4, beta_end=0.03)
    again = NoiseSchedule.from_config(schedule.get_config())
    np.testing.assert_array_equal(again.alphas_cumprod, schedule.alphas_cumprod)
    assert isinstance(FlowPath.from_config(FlowPath().get_config()), FlowPath)


@pytest.mark.parametrize("kwargs", [dict(kind="sigmoid"), dict(num_timesteps=1), dict(num_timesteps=10.0),
                                    dict(beta_start=0.0), dict(beta_end=1.0), dict(beta_start=0.03, beta_end=0.02)])
def test_bad_schedule_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be"):
        NoiseSchedule(**kwargs)


# --- samplers: what they are ---


def test_every_name_builds_a_sampler_of_its_kind():
    expected = {"ddpm": ("noise", False, 10), "ddim": ("noise", True, 10), "dpm_solver": ("noise", True, 10),
                "euler": ("flow", True, 10), "heun": ("flow", True, 19)}
    assert set(samplers.NAMES) == set(expected)
    for name, (fits, deterministic, nfe) in expected.items():
        sampler = samplers.get(name)
        assert (sampler.name, sampler.fits, sampler.deterministic, sampler.evaluations(10)) == (
            name, fits, deterministic, nfe)
        assert samplers.get(**sampler.get_config()).get_config() == sampler.get_config()
    assert not samplers.get("ddim", eta=0.3).deterministic
    ddim = samplers.get("ddim", eta=0.3)
    assert samplers.get(ddim) is ddim


@pytest.mark.parametrize("name,options", EVERY)
def test_each_evaluation_is_counted_and_sees_the_documented_times(name, options):
    sampler, schedule = samplers.get(name, **options), _path(name)
    predict = exact_predictor(schedule)
    for steps in (1, 2, 3, 7):
        seen = []

        def counting(x, t):
            seen.append(t.numpy())
            return predict(x, t)

        sampler.sample(counting, standard_noise(4), steps, schedule, seed=SEED)
        assert len(seen) == sampler.evaluations(steps), (name, steps)
        times = np.array(seen)
        assert times.dtype == np.float32 and times.shape[1] == 4 and (times == times[:, :1]).all()
        times = times[:, 0]
        if sampler.fits == "noise":
            assert times[0] == 999 and (times == np.round(times)).all() and (np.diff(times) < 0).all()
        else:
            assert times[0] == 1.0 and times.min() > 0 and (np.diff(times) <= 0).all()


def test_trailing_timesteps_start_at_the_last_training_timestep():
    np.testing.assert_array_equal(samplers.noise_timesteps(10, 1000), np.arange(999, 0, -100))
    np.testing.assert_array_equal(samplers.noise_timesteps(3, 1000), [999, 666, 332])
    np.testing.assert_array_equal(samplers.noise_timesteps(1000, 1000), np.arange(999, -1, -1))
    np.testing.assert_array_equal(samplers.noise_timesteps(10, 1000, "leading"), np.arange(900, -1, -100))
    np.testing.assert_allclose(samplers.flow_times(4), [1.0, 0.75, 0.5, 0.25, 0.0])
    shifted = samplers.flow_times(4, shift=3.0).numpy()  # 3t / (1 + 2t): more of the steps near t = 1
    np.testing.assert_allclose(shifted, [1.0, 0.9, 0.75, 0.5, 0.0], rtol=1e-6)


def test_trailing_beats_leading_spacing_at_few_steps():
    """Why trailing is the default: leading spacing starts at t = 900 of 1000 at 10 steps, where the
    cosine schedule keeps sqrt(alpha_bar) = 0.16 of the signal, and the pure-noise start is off."""
    schedule, noise = NoiseSchedule("cosine"), standard_noise(256)
    exact = exact_samples(noise, schedule)
    for name in ("ddim", "dpm_solver"):
        errors = {spacing: rms(samplers.get(name, spacing=spacing).sample(
            exact_predictor(schedule), noise, 10, schedule), exact) for spacing in ("trailing", "leading")}
        assert errors["trailing"] < errors["leading"] / 1.4, (name, errors)


# --- samplers: accuracy on Gaussian data ---


# Per 4x more steps the error of a first-order method falls about 4x, of a second-order one about
# 16x; the bounds leave room below that and still fail a method one order lower.
ORDERS = {"ddim": (1, 3.0), "euler": (1, 3.0), "dpm_solver": (2, 8.0), "heun": (2, 8.0)}


@pytest.mark.parametrize("name,kind", [("ddim", "linear"), ("ddim", "cosine"), ("dpm_solver", "linear"),
                                       ("dpm_solver", "cosine"), ("euler", None), ("heun", None)])
def test_deterministic_samplers_converge_to_the_exact_ode_solution_at_their_order(name, kind):
    schedule = FlowPath() if kind is None else NoiseSchedule(kind)
    noise = standard_noise(256)
    exact, run = exact_samples(noise, schedule), compiled(samplers.get(name), schedule)
    errors = [rms(run(noise, steps, SEED), exact) for steps in (4, 16, 64)]
    _, factor = ORDERS[name]
    assert errors[0] > factor * errors[1] and errors[1] > factor * errors[2], errors
    assert errors[2] < 0.03, errors  # measured: 0.029 (ddim, linear) down to 2e-4 (heun)


@pytest.mark.parametrize("name,options", DETERMINISTIC)
def test_deterministic_samplers_reproduce_the_mean_and_variance(name, options):
    """The output distribution is measured exactly (standardized noise, affine sampler); the target is
    the data's N(mu, sd^2) as the exact ODE sees it from the first timestep (on the cosine schedule
    alpha_bar[T-1] ~ 2e-9, so that is N(mu, sd^2) to 1e-4). Tolerances: std within 2% at 256 steps
    for the first-order methods (their error ~ 2.4 / steps: 0.9% measured), within 1% at 64 steps
    for the second-order ones (0.2% measured); means within 1% of sd (1e-4 measured)."""
    schedule, noise = _path(name), standard_noise(512)
    exact = exact_samples(noise, schedule)
    order, _ = ORDERS[name]
    steps, std_tolerance = (256, 0.02) if order == 1 else (64, 0.01)
    out = compiled(samplers.get(name, **options), schedule)(noise, steps, SEED).numpy()
    assert out.shape == noise.shape and out.dtype == np.float32
    np.testing.assert_array_less(np.abs(out.mean(0) - exact.mean(0)) / SD, 0.01)
    np.testing.assert_array_less(np.abs(out.std(0) / exact.std(0) - 1), std_tolerance)
    np.testing.assert_allclose(exact.mean(0), MU, atol=1e-3)
    np.testing.assert_allclose(exact.std(0), SD, rtol=1e-3)


# Moments of N = 4096 samples per dimension: standard errors 1/sqrt(N) = 0.016 sd for the mean and
# 1/sqrt(2N) = 0.011 for std / sd; pooled over the 8 dimensions 0.0055 and 0.0039.
N_STOCHASTIC = 4096
SE_MEAN, SE_STD = 1 / np.sqrt(N_STOCHASTIC), 1 / np.sqrt(2 * N_STOCHASTIC)


def moment_errors(out):
    """Per-dimension (mean - mu) / sd and std / sd - 1."""
    return (out.mean(0) - MU) / SD, out.std(0) / SD - 1


@pytest.mark.parametrize("name,options", STOCHASTIC)
def test_stochastic_samplers_reproduce_the_mean_and_variance_as_steps_grow(name, options):
    """Ancestral sampling converges slowly (it shrinks the variance at few steps: -37% at 4 steps,
    -1% at 256 measured on the cosine schedule), so the moments are checked at 256 steps: each
    mean within 4.5 standard errors, the pooled std within 4 pooled standard errors plus the 1.5%
    left by 256 steps; the pooled std error must fall at every 4x more steps by more than its
    noise."""
    schedule = NoiseSchedule("cosine")
    noise = tf.random.stateless_normal((N_STOCHASTIC, *SHAPE), seed=(3, 4))
    run = compiled(samplers.get(name, **options), schedule)
    std_errors = []
    for steps in (4, 16, 64, 256):
        mean_error, std_error = moment_errors(run(noise, steps, SEED).numpy())
        std_errors.append(abs(std_error.mean()))
    np.testing.assert_array_less(np.abs(mean_error), 4.5 * SE_MEAN)
    assert abs(mean_error.mean()) < 4 * SE_MEAN / np.sqrt(8)
    assert std_errors[-1] < 0.015 + 4 * SE_STD / np.sqrt(8), std_errors
    assert all(a > b + 4 * SE_STD / np.sqrt(8) for a, b in zip(std_errors, std_errors[1:])), std_errors


def test_ddim_with_eta_1_samples_like_ddpm_and_unlike_eta_0():
    """Independent seeds and noise, 16 steps (where both are visibly off the data), N = 16384 samples:
    the pooled moments of DDIM (eta=1) and DDPM agree within 4 standard errors of a difference of two
    estimates (0.011 for std / sd), while DDIM with eta=0 has a std 5% off DDPM's (measured 0.049)."""
    n, schedule = 16384, NoiseSchedule("cosine")
    noise = tf.random.stateless_normal((2, n, *SHAPE), seed=(3, 4))
    pooled = {}
    for label, (name, options), index, seed in [("ddpm", ("ddpm", {}), 0, [1, 2]),
                                                ("eta1", ("ddim", {"eta": 1.0}), 1, [3, 4]),
                                                ("eta0", ("ddim", {}), 1, [3, 4])]:
        out = compiled(samplers.get(name, **options), schedule)(noise[index], 16, tf.constant(seed, tf.int64))
        pooled[label] = [error.mean() for error in moment_errors(out.numpy())]
    difference_tolerance = 4 * np.sqrt(2) * np.array([1 / np.sqrt(n), 1 / np.sqrt(2 * n)]) / np.sqrt(8)
    np.testing.assert_array_less(np.abs(np.subtract(pooled["eta1"], pooled["ddpm"])), difference_tolerance)
    assert abs(pooled["eta0"][1] - pooled["ddpm"][1]) > 3 * difference_tolerance[1], pooled


def test_ddim_with_eta_1_follows_the_ddpm_chain_under_the_same_seed():
    """Both draw the same per-step noise stream, and DDIM's eta = 1 variance and direction are the DDPM
    posterior's: two different formulas of one chain, equal to float32 rounding."""
    schedule, noise = NoiseSchedule("linear"), standard_noise(64)
    predict = exact_predictor(schedule)
    ddpm = samplers.get("ddpm").sample(predict, noise, 20, schedule, seed=SEED)
    ddim = samplers.get("ddim", eta=1.0).sample(predict, noise, 20, schedule, seed=SEED)
    np.testing.assert_allclose(ddim, ddpm, atol=1e-4)
    half = samplers.get("ddim", eta=0.5).sample(predict, noise, 20, schedule, seed=SEED)
    assert rms(half, ddpm.numpy()) > 0.05


def test_dpm_solver_takes_first_order_steps_at_the_ends():
    """With two steps (the first and the last) DPM-Solver++ 2M is DDIM; with more it is not."""
    schedule, noise = NoiseSchedule("cosine"), standard_noise(64)
    predict = exact_predictor(schedule)
    for steps, same in ((1, True), (2, True), (3, False)):
        dpm = samplers.get("dpm_solver").sample(predict, noise, steps, schedule)
        ddim = samplers.get("ddim").sample(predict, noise, steps, schedule)
        assert np.allclose(dpm, ddim, atol=1e-5) == same, steps


@pytest.mark.parametrize("name,options", EVERY)
def test_the_last_step_returns_the_x0_prediction_at_the_last_time(name, options):
    sampler, schedule = samplers.get(name, **options), _path(name)
    predict = exact_predictor(schedule)
    calls = []

    def recording(x, t):
        calls.append((x, t, predict(x, t)))
        return calls[-1][2]

    out = sampler.sample(recording, standard_noise(8), 5, schedule, seed=SEED)
    x, t, prediction = calls[-1]
    if sampler.fits == "noise":
        expected = schedule.x0_from_epsilon(x, prediction, tf.cast(t, tf.int32))
    else:
        expected = schedule.x0_from_velocity(x, prediction, t)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_clip_x0_keeps_every_prediction_in_range():
    schedule, noise = NoiseSchedule("cosine"), standard_noise(64)
    predict = exact_predictor(schedule)  # data with means up to 1.5 and spreads up to 1.5: far outside [-1, 1]
    for name in ("ddpm", "ddim", "dpm_solver"):
        unclipped = samplers.get(name).sample(predict, noise, 8, schedule, seed=SEED).numpy()
        clipped = samplers.get(name, clip_x0=1.0).sample(predict, noise, 8, schedule, seed=SEED).numpy()
        assert np.abs(unclipped).max() > 2
        assert np.abs(clipped).max() <= 1 + 1e-5, name


# --- samplers: randomness, batches, graphs ---


@pytest.mark.parametrize("name,options", DETERMINISTIC)
def test_deterministic_samplers_depend_only_on_the_noise(name, options):
    sampler, schedule, noise = samplers.get(name, **options), _path(name), standard_noise(8)
    predict = exact_predictor(schedule)
    first = sampler.sample(predict, noise, 6, schedule)
    for seed in (SEED, tf.constant([9, 9], tf.int32)):
        np.testing.assert_array_equal(sampler.sample(predict, noise, 6, schedule, seed=seed), first)
    other = sampler.sample(predict, standard_noise(8, seed=(7, 7)), 6, schedule)
    assert rms(other, first.numpy()) > 0.1


@pytest.mark.parametrize("name,options", [("ddpm", {}), ("ddim", {"eta": 0.5})])
def test_stochastic_samplers_repeat_with_a_seed_and_change_with_another(name, options):
    sampler, schedule, noise = samplers.get(name, **options), NoiseSchedule("cosine"), standard_noise(8)
    predict = exact_predictor(schedule)
    first = sampler.sample(predict, noise, 6, schedule, seed=SEED)
    np.testing.assert_array_equal(sampler.sample(predict, noise, 6, schedule, seed=SEED), first)
    np.testing.assert_array_equal(  # int32 and int64 seeds of the same values draw the same stream
        sampler.sample(predict, noise, 6, schedule, seed=tf.cast(SEED, tf.int32)), first)
    other = sampler.sample(predict, noise, 6, schedule, seed=tf.constant([5, 7], tf.int64))
    assert rms(other, first.numpy()) > 0.05


@pytest.mark.parametrize("name,options", EVERY)
def test_sample_k_does_not_depend_on_the_batch_size(name, options):
    sampler, schedule = samplers.get(name, **options), _path(name)
    predict = exact_predictor(schedule)
    noise = tf.random.stateless_normal((7, *SHAPE), seed=(1, 1))
    whole = sampler.sample(predict, noise, 5, schedule, seed=SEED)
    for batch in (1, 3):
        np.testing.assert_allclose(sampler.sample(predict, noise[:batch], 5, schedule, seed=SEED), whole[:batch],
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,options", EVERY)
def test_compiled_with_steps_as_a_graph_tensor_equals_eager(name, options):
    sampler, schedule = samplers.get(name, **options), _path(name)
    run = compiled(sampler, schedule)
    noise = tf.random.stateless_normal((3, *SHAPE), seed=(1, 1))
    for steps in (1, 4, 9):
        eager = sampler.sample(exact_predictor(schedule), noise, steps, schedule, seed=SEED)
        np.testing.assert_allclose(run(noise, steps, SEED), eager, rtol=1e-5, atol=1e-6)
    assert run.experimental_get_tracing_count() == 1  # one graph serves every number of steps


def test_a_graph_with_steps_out_of_range_fails_when_it_runs():
    schedule = NoiseSchedule("cosine", num_timesteps=50)
    run = compiled(samplers.get("ddim"), schedule)
    noise = standard_noise(2)
    for steps, message in ((0, "steps must be >= 1"), (51, r"steps must be <= num_timesteps \(50\)")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run(noise, steps, SEED)


@pytest.mark.parametrize("name,options", DETERMINISTIC)
def test_a_fixed_step_deterministic_sampler_is_one_litert_graph_of_builtin_ops(name, options):
    """With steps a Python int the loop holds no float64, no assertion and no random op, so the whole
    sampler converts to LiteRT builtins; it matches the TensorFlow graph to float32 rounding."""
    from ai_edge_litert.interpreter import Interpreter

    sampler, schedule = samplers.get(name, **options), _path(name)
    predict = exact_predictor(schedule)
    run = tf.function(lambda noise: sampler.sample(predict, noise, 10, schedule),
                      input_signature=[tf.TensorSpec([4, *SHAPE], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([run.get_concrete_function()], run)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    noise = standard_noise(4)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], noise)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, run(noise), atol=1e-5)


# --- bad input ---


@pytest.mark.parametrize("steps,error,match", [
    (0, ValueError, ">= 1"), (-3, ValueError, ">= 1"), (1001, ValueError, r"<= num_timesteps \(1000\)"),
    (2.0, TypeError, "integer"), ("4", TypeError, "integer"), (True, TypeError, "integer"),
    (tf.constant(0), ValueError, ">= 1"), (tf.constant(4.0), TypeError, "integer"),
    (tf.constant([4]), ValueError, "scalar")])
def test_bad_steps_are_refused(steps, error, match):
    schedule = NoiseSchedule("cosine")
    with pytest.raises(error, match=match):
        samplers.get("ddim").sample(exact_predictor(schedule), standard_noise(2), steps, schedule)


def test_bad_steps_for_evaluations_are_refused():
    with pytest.raises(ValueError, match=">= 1"):
        samplers.get("heun").evaluations(0)
    with pytest.raises(TypeError, match="integer"):
        samplers.get("euler").evaluations(2.5)


@pytest.mark.parametrize("call,error,match", [
    (lambda: samplers.get("ddpn"), ValueError, "unknown sampler 'ddpn'; the samplers are ddpm, ddim, dpm_solver"),
    (lambda: samplers.get("ddim", etta=0.5), TypeError, "unknown option.*etta.*its options are eta, clip_x0"),
    (lambda: samplers.get("euler", eta=0.0), TypeError, "unknown option.*eta.*shift"),
    (lambda: samplers.get("ddim", eta=-0.1), ValueError, "eta must be a number >= 0"),
    (lambda: samplers.get("heun", shift=0.0), ValueError, "shift must be a number > 0"),
    (lambda: samplers.get("ddpm", clip_x0=0), ValueError, "clip_x0"),
    (lambda: samplers.get("dpm_solver", spacing="linspace"), ValueError, "spacing must be one of"),
    (lambda: samplers.get(samplers.get("ddim"), eta=1.0), TypeError, "cannot be given with a Sampler"),
])
def test_bad_sampler_names_and_options_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_sampler_refuses_a_schedule_of_the_other_kind():
    noise = standard_noise(2)
    flow, schedule = FlowPath(), NoiseSchedule("cosine")
    with pytest.raises(ValueError, match="ddim fits noise-prediction models \\(a NoiseSchedule\\); this model is a "
                                         "flow model — use euler or heun"):
        samplers.get("ddim").sample(exact_predictor(flow), noise, 4, flow)
    with pytest.raises(ValueError, match="heun fits flow models \\(a FlowPath\\); this model is a noise-prediction "
                                         "model — use ddpm, ddim or dpm_solver"):
        samplers.get("heun").sample(exact_predictor(schedule), noise, 4, schedule)
    with pytest.raises(TypeError, match="schedule must be a NoiseSchedule or a FlowPath"):
        samplers.get("euler").sample(exact_predictor(flow), noise, 4, "flow")


@pytest.mark.parametrize("seed,error,match", [(None, ValueError, "ddpm is stochastic: pass seed"),
                                              (tf.constant([1.0, 2.0]), TypeError, "int32 or int64"),
                                              (tf.constant([1, 2, 3]), ValueError, r"\(2,\)")])
def test_stochastic_samplers_need_a_proper_seed(seed, error, match):
    schedule = NoiseSchedule("cosine")
    with pytest.raises(error, match=match):
        samplers.get("ddpm").sample(exact_predictor(schedule), standard_noise(2), 4, schedule, seed=seed)


def test_bad_noise_and_predict_are_refused():
    schedule = NoiseSchedule("cosine")
    with pytest.raises(TypeError, match="noise must be a float tensor"):
        samplers.get("ddim").sample(exact_predictor(schedule), tf.zeros((2, *SHAPE), tf.int32), 4, schedule)
    with pytest.raises(TypeError, match="predict must be a callable"):
        samplers.get("ddim").sample(None, standard_noise(2), 4, schedule)
