"""Same seed, same bytes: every family's pretrained preset draws bit-identical samples in
separate processes (CPU) and in this one."""

import hashlib
import json
import subprocess
import sys

from keras_genai import zoo

DRAW = """
import numpy as np

def draw(model, seed=7):
    # Seeded samples of any family, as bytes.
    if hasattr(model, "vocabulary"):
        return model.generate("\\n", 48, temperature=1.0, seed=seed).encode()
    if getattr(model, "conditional", False):
        return np.ascontiguousarray(model.sample(8, seed=seed, labels=list(range(8)))).tobytes()
    return np.ascontiguousarray(model.sample(8, seed=seed)).tobytes()
"""

SCRIPT = DRAW + """
import hashlib, json, sys
from keras_genai import zoo
print(json.dumps({name: hashlib.sha256(draw(zoo.load(name, compile=False))).hexdigest() for name in sys.argv[1:]}))
"""

namespace = {}
exec(DRAW, namespace)
draw = namespace["draw"]


def _pretrained_generative_presets():
    names = []
    for name in zoo.list():
        meta = zoo.info(name)
        if meta["pretrained_available"] and meta.get("family") != "classifier":
            names.append(name)
    return names


def test_same_seed_gives_the_same_bytes_across_processes():
    names = _pretrained_generative_presets()
    assert {"dcgan_mnist", "cgan_mnist"} <= set(names)
    runs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    here = {name: hashlib.sha256(draw(zoo.load(name, compile=False))).hexdigest() for name in names}
    assert runs[0] == runs[1] == here
    families = {zoo.info(name)["family"] for name in names}
    assert {"gan", "vae", "gpt", "pixelcnn"} <= families


def test_different_seeds_give_different_samples():
    model = zoo.load("dcgan_mnist", compile=False)
    assert draw(model, seed=1) != draw(model, seed=2)
