"""Estimate the pose of fresh synthetic people through TF Serving's gRPC API.

    pip install tensorflow-serving-api grpcio
    docker compose -f saved_models/docker-compose.yml up -d
    python saved_models/clients/grpc_client.py [--target localhost:8500]
"""

import argparse

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from dgpose_tf.data.pipeline import synthetic_dataset

p = argparse.ArgumentParser()
p.add_argument("--target", default="localhost:8500")
p.add_argument("--model", default="semi_dgpose_synthetic")
args = p.parse_args()

batch = next(iter(synthetic_dataset(4, 4, seed=1)))
stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(args.target))
request = predict_pb2.PredictRequest()
request.model_spec.name = args.model
request.model_spec.signature_name = "estimate_pose"
request.inputs["images"].CopyFrom(tf.make_tensor_proto(batch["image"].numpy()))
response = stub.Predict(request, timeout=60.0)
joints = tf.make_ndarray(response.outputs["joints"])
print(f"joints {joints.shape}, mean error {abs(joints - batch['joints'].numpy()).mean():.2f} px")
