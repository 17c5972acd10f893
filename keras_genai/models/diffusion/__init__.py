"""Diffusion family: noise-prediction diffusion (DDPM / DDIM, epsilon- and v-prediction) and flow
matching, with swappable samplers (``samplers.py``) over noise schedules (``schedules.py``):
``Diffusion`` (its ``train_step``, sampling and exports, ``model.py``) and its builders
(``ddpm``, ``flow_matching``)."""

from keras_genai.models.diffusion import samplers
from keras_genai.models.diffusion.builders import ddpm, flow_matching
from keras_genai.models.diffusion.model import Diffusion
from keras_genai.models.diffusion.schedules import FlowPath, NoiseSchedule

__all__ = ["Diffusion", "FlowPath", "NoiseSchedule", "ddpm", "flow_matching", "samplers"]
