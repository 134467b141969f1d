"""Estimate the pose of fresh synthetic people with a TF Serving REST endpoint.

    docker compose -f saved_models/docker-compose.yml up -d
    python saved_models/clients/rest_client.py [--url http://localhost:8501]
"""

import argparse

from dgpose_tf.data.pipeline import synthetic_dataset
from dgpose_tf.serving import rest_predict

p = argparse.ArgumentParser()
p.add_argument("--url", default="http://localhost:8501")
p.add_argument("--model", default="semi_dgpose_synthetic")
args = p.parse_args()

batch = next(iter(synthetic_dataset(4, 4, seed=1)))
out = rest_predict(args.model, "estimate_pose", {"images": batch["image"].numpy()}, args.url)
err = abs(out["joints"] - batch["joints"].numpy()).mean()
print(f"joints {out['joints'].shape}, mean error {err:.2f} px")
rec = rest_predict(args.model, "reconstruct", {"images": batch["image"].numpy()}, args.url)
print(f"reconstructions {rec['images'].shape}")
