"""Changing a preset's optimizer recipe for fine-tuning: peak learning rate and weight averaging.

A preset's recipe is its ``compile_config`` (in ``config.json``): one ``optimizer``, or a GAN's
``d_optimizer`` and ``g_optimizer``, each a serialized Keras optimizer whose learning rate is a
number or a schedule.
"""

import copy

OPTIMIZER_KEYS = ("optimizer", "d_optimizer", "g_optimizer")
# Schedule fields that are learning rates (scaled together, so the schedule keeps its shape).
_RATE_FIELDS = ("initial_learning_rate", "warmup_target", "end_learning_rate")


def retuned(compile_config, learning_rate=None, weight_averaging=None):
    """A copy of ``compile_config`` with every optimizer's peak learning rate and/or weight
    averaging replaced.

    Args:
        compile_config: a preset's compile config (dict), as saved in its ``config.json``.
        learning_rate: None, or a float > 0: the new largest learning rate. A schedule (cosine
            decay with or without warm-up, exponential, polynomial...) is scaled so that its peak
            is ``learning_rate`` and its shape and length stay the same.
        weight_averaging: None, or a decay in (0, 1) such as 0.999: the optimizer keeps an
            exponential moving average of the weights (Keras ``use_ema``), which ``fit`` writes
            into the model when it ends. Single-optimizer presets only: a GAN averages its
            generator through the architecture's ``ema_decay``.
    Returns:
        The new compile config; ``compile_config`` is left unchanged.
    """
    if learning_rate is not None and not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if weight_averaging is not None and not 0 < weight_averaging < 1:
        raise ValueError(f"weight_averaging must be a decay in (0, 1) such as 0.999, got {weight_averaging}")
    if not compile_config or not any(key in compile_config for key in OPTIMIZER_KEYS):
        raise ValueError("this preset has no optimizer recipe to change (it was saved uncompiled)")
    config = copy.deepcopy(compile_config)
    if weight_averaging is not None:
        if "optimizer" not in config:
            raise ValueError("weight averaging needs a single-optimizer preset; GAN presets average the "
                             "generator with the architecture's ema_decay")
        config["optimizer"]["config"].update(use_ema=True, ema_momentum=float(weight_averaging))
    if learning_rate is not None:
        for key in OPTIMIZER_KEYS:
            if key in config:
                optimizer = config[key]["config"]
                optimizer["learning_rate"] = _with_peak(optimizer["learning_rate"], float(learning_rate))
    return config


def peak_learning_rate(rate):
    """The largest value of a serialized learning rate: a number, or a schedule's start or
    warm-up target."""
    if isinstance(rate, (int, float)):
        return float(rate)
    fields = rate.get("config", {}) if isinstance(rate, dict) else {}
    if not isinstance(fields.get("initial_learning_rate"), (int, float)):
        raise ValueError(f"cannot change the learning rate of a {rate.get('class_name', rate)!r} schedule; "
                         "supported: schedules with an initial_learning_rate")
    return float(fields.get("warmup_target") or fields["initial_learning_rate"])


def _with_peak(rate, peak):
    if isinstance(rate, (int, float)):
        return peak
    scale = peak / peak_learning_rate(rate)
    rate = copy.deepcopy(rate)
    for field in _RATE_FIELDS:
        if isinstance(rate["config"].get(field), (int, float)):
            rate["config"][field] *= scale
    return rate
