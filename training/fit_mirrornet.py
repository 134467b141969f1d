"""Fit MirrorNet by its curriculum: every arm the label-fraction table compares.

    python training/fit_mirrornet.py training/configs/mirrornet_synthetic.json [--runs 0.25:0,0.1:0]
    dgpose train training/configs/mirrornet_synthetic.json          (the same, from an installed package)

A thin script: the logic, its config keys and what it writes are in
:mod:`dgpose_tf.fit.mirrornet` (finished pieces are kept, so a killed run continues).
"""

import argparse

from dgpose_tf.fit import load_config
from dgpose_tf.fit.mirrornet import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--runs", help="only these fraction:seed pairs, comma-separated")
    parser.add_argument("--output", help="override the config's output folder")
    parser.add_argument("--restart", action="store_true", help="delete the output folder first")
    args = parser.parse_args()
    main(load_config(args.config), runs=args.runs, output=args.output, restart=args.restart)
