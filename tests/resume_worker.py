"""A small training run that can kill itself with SIGKILL at a given step, for tests/test_resume.py.

    python resume_worker.py FAMILY WORKDIR OUTPUT.npz [--kill-at STEP]

It trains like ``keras-genai train --workdir``: step-keyed data (``data.image_stream`` or
``data.text_window_stream``) started at the backup's epoch, ``callbacks.ResumableBackup``, seeded
models and deterministic ops. Run again with the same WORKDIR after a kill, it resumes; the final
trainable weights go to OUTPUT.npz.
"""

import argparse
import os
import signal
import sys

import numpy as np

EPOCHS = 3
STEPS_PER_EPOCH = 4
BATCH = 16


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("family", choices=["gan", "vae", "gpt"])
    parser.add_argument("workdir")
    parser.add_argument("output")
    parser.add_argument("--kill-at", type=int, default=None, help="global step after which to SIGKILL itself")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from keras_genai import callbacks, data, models

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    backup = os.path.join(args.workdir, "backup")
    start_step = callbacks.backup_epoch(backup) * STEPS_PER_EPOCH
    if args.family == "gan":
        model = models.dcgan(base_filters=8, seed=0)
        model.compile()
        train, _ = data.image_stream("mnist", "train[:512]", batch_size=BATCH, seed=0, start_step=start_step)
    elif args.family == "vae":
        model = models.unconditional_vae(latent_dim=4, width=(32,), seed=0)
        model.compile()
        train, _ = data.image_stream("mnist", "train[:512]", batch_size=BATCH, seed=0, start_step=start_step,
                                     value_range=(0.0, 1.0), binarize="dynamic")
    else:
        text = "to be or not to be, that is the question. " * 40
        model = models.GPT(data.vocabulary_of(text), context_length=16, num_layers=1, num_heads=2, embed_dim=16,
                           dropout=0.2, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        train, _ = data.text_window_stream(model.encode(text), 16, BATCH, seed=0, start_step=start_step)

    class KillAt(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = start_step

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if args.kill_at is not None and self.step == args.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    cbs = [callbacks.ResumableBackup(backup, start_epoch=start_step // STEPS_PER_EPOCH), KillAt()]
    model.fit(train, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, callbacks=cbs, verbose=0)
    np.savez(args.output, *[v.numpy() for v in model.trainable_variables])
    return 0


if __name__ == "__main__":
    sys.exit(main())
