"""Ready-made diffusion models: each returns an uncompiled ``Diffusion`` around a
``keras_genai.nets.unet_denoiser``.

Images are (H, W, C) = ``image_shape`` in [-1, 1]; ``compile()`` takes one optimizer (the
recipes use AdamW).
"""

from keras_genai.models.base import recipe_builder
from keras_genai.models.diffusion.model import Diffusion
from keras_genai.models.diffusion.schedules import NoiseSchedule
from keras_genai.nets.unet import unet_denoiser


@recipe_builder
def ddpm(image_shape=(28, 28, 1), base_filters=32, channel_multipliers=(1, 2, 2), blocks_per_level=2,
         attention_heads=4, dropout=0.0, objective="epsilon", schedule="cosine", num_timesteps=1000,
         ema_decay=0.999, num_classes=None, label_dropout=0.1, sampler="dpm_solver", steps=20, guidance=None,
         seed=None) -> Diffusion:
    """Noise-prediction diffusion (DDPM, Ho et al. 2020) with a U-Net: ``objective`` "epsilon"
    or "v", ``schedule`` "cosine" or "linear" over ``num_timesteps``; sampled by default with
    DPM-Solver++ 2M in 20 steps. ``num_classes`` makes it class-conditional (label dropout
    ``label_dropout`` for classifier-free guidance). U-Net options: see ``nets.unet_denoiser``."""
    if objective not in ("epsilon", "v"):
        raise ValueError(f"ddpm's objective is 'epsilon' or 'v', got {objective!r} (flow_matching builds flow models)")
    network = unet_denoiser(image_shape, base_filters=base_filters, channel_multipliers=channel_multipliers,
                            blocks_per_level=blocks_per_level, attention_heads=attention_heads,
                            num_classes=num_classes, dropout=dropout, time_scale=1.0, name="denoiser")
    return Diffusion(network, objective=objective, schedule=NoiseSchedule(schedule, num_timesteps=num_timesteps),
                     ema_decay=ema_decay, num_classes=num_classes, label_dropout=label_dropout, sampler=sampler,
                     steps=steps, guidance=guidance, seed=seed, name="ddpm")


@recipe_builder
def flow_matching(image_shape=(28, 28, 1), base_filters=32, channel_multipliers=(1, 2, 2), blocks_per_level=2,
                  attention_heads=4, dropout=0.0, ema_decay=0.999, num_classes=None, label_dropout=0.1,
                  sampler="heun", steps=20, guidance=None, seed=None) -> Diffusion:
    """Flow matching / rectified flow (Lipman et al. 2022, Liu et al. 2022) with a U-Net that
    predicts the velocity ``eps - x0`` of ``x_t = (1 - t) x0 + t eps``; sampled by default with
    Heun in 20 steps (39 evaluations). ``num_classes``: class-conditional with label dropout
    ``label_dropout`` and guidance weight ``guidance`` (default 1). U-Net options: see ``nets.unet_denoiser``."""
    network = unet_denoiser(image_shape, base_filters=base_filters, channel_multipliers=channel_multipliers,
                            blocks_per_level=blocks_per_level, attention_heads=attention_heads,
                            num_classes=num_classes, dropout=dropout, time_scale=1000.0, name="denoiser")
    return Diffusion(network, objective="flow", schedule=None, ema_decay=ema_decay, num_classes=num_classes,
                     label_dropout=label_dropout, sampler=sampler, steps=steps, guidance=guidance, seed=seed,
                     name="flow_matching")
