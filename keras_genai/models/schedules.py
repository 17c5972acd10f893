"""Learning-rate schedules that the presets' recipes use beyond Keras's own."""

import math
import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_genai")
class HoldThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial_learning_rate`` for ``hold_steps`` steps, then a straight line down to
    ``end_learning_rate`` over ``decay_steps`` steps, and ``end_learning_rate`` after that.

    The usual GAN recipe (DCGAN, WGAN-GP): train at a constant rate, then anneal linearly.
    With ``hold_steps=0`` it is Keras's ``PolynomialDecay`` with ``power=1``. Steps are optimizer
    steps: a run with another batch size or epoch count keeps the same knee and length in steps.

    Args:
        initial_learning_rate: float > 0.
        hold_steps: int >= 0, optimizer steps at the initial rate.
        decay_steps: int > 0, optimizer steps of the linear decay.
        end_learning_rate: float in [0, initial_learning_rate], the final rate.

    Example:

    ```python
    import keras
    import keras_genai

    schedule = keras_genai.models.HoldThenLinearDecay(2e-4, hold_steps=1000, decay_steps=500, end_learning_rate=2e-6)
    optimizer = keras.optimizers.Adam(learning_rate=schedule, beta_1=0.5)
    float(schedule(0)), float(schedule(1250)), float(schedule(5000))  # 2e-4, 1.01e-4, 2e-6
    ```
    """

    def __init__(self, initial_learning_rate, hold_steps, decay_steps, end_learning_rate=0.0, name=None):
        super().__init__()
        for argument, value in (("initial_learning_rate", initial_learning_rate), ("hold_steps", hold_steps),
                                ("decay_steps", decay_steps), ("end_learning_rate", end_learning_rate)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{argument} must be a finite number (not a bool), got {value!r}")
        if not initial_learning_rate > 0 or not 0 <= end_learning_rate <= initial_learning_rate:
            raise ValueError("initial_learning_rate must be > 0 and end_learning_rate between 0 and it, got "
                             f"{initial_learning_rate!r} and {end_learning_rate!r}")
        if int(hold_steps) != hold_steps or hold_steps < 0 or int(decay_steps) != decay_steps or decay_steps < 1:
            raise ValueError(f"hold_steps must be an integer >= 0 and decay_steps an integer >= 1, got "
                             f"{hold_steps!r} and {decay_steps!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.name = name or "HoldThenLinearDecay"

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.hold_steps) / self.decay_steps, 0.0, 1.0)
        return self.initial_learning_rate + (self.end_learning_rate - self.initial_learning_rate) * progress

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "hold_steps": self.hold_steps,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate, "name": self.name}
