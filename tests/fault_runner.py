"""Runs ``dgpose train`` in a subprocess with a fault injected (the fault tests' helper).

    python tests/fault_runner.py CONFIG [--kill-at-step N] [--kill-in-checkpoint N]
        [--nan-at-step N] [--dump FILE] -- [dgpose train options]

--kill-at-step N        SIGKILL this process at the end of training step N (after the run
                        keeper has seen it), as a pre-emption or OOM kill would.
--kill-in-checkpoint N  SIGKILL while checkpoint N is being written: its files are on disk, the
                        ``checkpoint`` state file does not point at them yet.
--nan-at-step N         the generator loss of step N becomes NaN (once).
--dump FILE             after training, save every model and optimizer variable to FILE (npz).
--print-losses          print ``LOSS <value>`` (the epoch's running mean loss) after each step.
"""

import argparse
import os
import signal
import sys


def kill():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("--kill-at-step", type=int)
    p.add_argument("--kill-in-checkpoint", type=int)
    p.add_argument("--nan-at-step", type=int)
    p.add_argument("--dump")
    p.add_argument("--print-losses", action="store_true")
    a, rest = p.parse_known_args()
    rest = [r for r in rest if r != "--"]

    import keras
    import numpy as np
    import tensorflow as tf

    from dgpose_tf import cli
    from dgpose_tf.fit.resume import optimizers_of

    trained = {}
    fit = keras.Model.fit

    class Killer(keras.callbacks.Callback):
        def __init__(self, keeper):
            super().__init__()
            self.keeper = keeper

        def on_train_batch_end(self, batch, logs=None):
            if a.print_losses:
                print(f"LOSS {float(logs['loss']):.6f}", flush=True)
            if self.keeper.step == a.kill_at_step:
                kill()

    def patched_fit(self, *args, callbacks=(), **kwargs):
        trained["model"] = self
        callbacks = list(callbacks)
        if (a.kill_at_step or a.print_losses) and callbacks:
            callbacks.append(Killer(callbacks[0]))
        return fit(self, *args, callbacks=callbacks, **kwargs)

    keras.Model.fit = patched_fit

    if a.kill_in_checkpoint:
        from tensorflow.python.checkpoint import checkpoint_management as cm
        update = cm.update_checkpoint_state_internal

        def patched_update(directory, model_checkpoint_path, *args, **kwargs):
            if model_checkpoint_path.endswith(f"ckpt-{a.kill_in_checkpoint}"):
                kill()
            return update(directory, model_checkpoint_path, *args, **kwargs)

        cm.update_checkpoint_state_internal = patched_update

    if a.nan_at_step:
        armed = tf.Variable(True)

        def nan_losses(self, batch, training):
            out = type(self)._orig_losses(self, batch, training)
            if training:
                hit = tf.logical_and(armed, tf.equal(self.optimizer.iterations,
                                                     a.nan_at_step - 1))
                armed.assign(tf.logical_and(armed, tf.logical_not(hit)))
                out["loss"] = tf.where(hit, np.float32("nan"), out["loss"])
            return out

        from dgpose_tf.models.conditional_dgpose import ConditionalDGPose
        ConditionalDGPose._orig_losses = ConditionalDGPose.generator_losses
        ConditionalDGPose.generator_losses = nan_losses

    code = cli.main(["train", a.config, *rest])
    if a.dump and "model" in trained:
        m = trained["model"]
        arrays = {f"model_{i}_{v.path.replace('/', '.')}": v.numpy()
                  for i, v in enumerate(m.variables)}
        for name, opt in optimizers_of(m).items():
            arrays.update({f"{name}_{i}": v.numpy() for i, v in enumerate(opt.variables)})
        np.savez(a.dump, **arrays)
    sys.exit(code)


if __name__ == "__main__":
    main()
