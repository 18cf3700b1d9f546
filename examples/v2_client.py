#!/usr/bin/python3
"""A client of an mliot task, to copy: submit a task, wait until it serves, then talk to it with the
Open Inference Protocol v2 (REST and gRPC, as Triton/KServe clients do) and send one feedback row
with mliot's own Serving service.

    examples/v2_client.py --coordinator 127.0.0.1:7070 --spec kitchen.yaml [--csv row.csv]

Needs Debian's python3-requests, python3-grpcio and python3-protobuf, plus protoc and
grpc_python_plugin (packages protobuf-compiler, protobuf-compiler-grpc) to generate the stubs from
../proto at start. The mliot commands need the operator's credential: --admin-token-file, else
$MLIOT_ADMIN_TOKEN_FILE, else .mliot/admin.token. Plaintext only (a loopback cluster); with TLS,
use https:// + requests' verify=CA and grpc.secure_channel(..., grpc.ssl_channel_credentials(CA)).
"""
import argparse
import atexit
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import grpc
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")


# ---------------------------------------------------------------- gRPC stubs, generated at start

def generate_stubs():
    """Runs protoc on the three .proto files into a temp dir and makes them importable."""
    out = tempfile.mkdtemp(prefix="mliot-stubs-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["protoc", f"--python_out={out}", f"--grpc_out={out}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", "-I", PROTO_DIR,
                    "inference/grpc_service.proto", "mliot/v1/bundle.proto", "mliot/v1/serving.proto"],
                   check=True)
    sys.path.insert(0, out)  # `inference` and `mliot.v1` become (namespace) packages
    return out


# ---------------------------------------------------------------- the mliot CLI

def mliot(args, *cmd):
    """Runs `mliot CMD... --coordinator C [--admin-token-file F] --json`; the JSON of its last stdout line."""
    argv = [args.mliot, *cmd, "--coordinator", args.coordinator, "--json"]
    if args.admin_token_file:
        argv += ["--admin-token-file", args.admin_token_file]
    r = subprocess.run(argv, stdout=subprocess.PIPE, text=True)  # errors go to our stderr
    lines = r.stdout.strip().splitlines()
    if not lines:
        sys.exit(f"{' '.join(argv)}: exit {r.returncode}, no output")
    out = json.loads(lines[-1])
    if r.returncode != 0 and not (cmd[0] == "submit" and out.get("accepted") is False):
        sys.exit(f"{' '.join(argv)}: exit {r.returncode}")
    return out


# ---------------------------------------------------------------- helpers

def one_row(path, label_column, width):
    """(features, label or None) of the first data row of a CSV file with a header; else zeros."""
    if not path:
        return [0.0] * width, None
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        row = next(reader)
    label = row.pop(label_column, None)
    features = [float(v) for v in row.values()]
    if len(features) != width:
        sys.exit(f"{path}: {len(features)} feature columns, the model takes {width}")
    return features, label


def grpc_output(response, index):
    """Values of output `index` of a ModelInferResponse: from `contents`, or from `raw_output_contents`
    (little-endian; BYTES elements each behind a 4-byte length), which stock v2 servers may use instead."""
    out = response.outputs[index]
    if not response.raw_output_contents:
        c = out.contents
        return {"FP32": c.fp32_contents, "INT32": c.int_contents, "BYTES": c.bytes_contents}[out.datatype]
    raw = response.raw_output_contents[index]
    if out.datatype == "FP32":
        return struct.unpack(f"<{len(raw) // 4}f", raw)
    if out.datatype == "INT32":
        return struct.unpack(f"<{len(raw) // 4}i", raw)
    values, i = [], 0
    while i < len(raw):  # BYTES
        (n,) = struct.unpack_from("<I", raw, i)
        values.append(raw[i + 4:i + 4 + n])
        i += 4 + n
    return values


def main():
    ap = argparse.ArgumentParser(description="submit a task and call it over v2 REST, v2 gRPC and mliot gRPC")
    ap.add_argument("--coordinator", required=True, help="HOST:PORT of the coordinator")
    ap.add_argument("--mliot", default="build/mliot", help="the mliot binary (default: build/mliot)")
    ap.add_argument("--spec", required=True, help="task spec (YAML)")
    ap.add_argument("--csv", help="CSV file (header row) whose first row is sent (default: zeros)")
    ap.add_argument("--label", default="label", help="label column of --csv (default: label)")
    ap.add_argument("--admin-token-file", help="the coordinator's admin.token, for the mliot commands")
    args = ap.parse_args()

    generate_stubs()
    from inference import grpc_service_pb2 as v2
    from inference import grpc_service_pb2_grpc as v2_grpc
    from mliot.v1 import serving_pb2
    from mliot.v1 import serving_pb2_grpc

    # 1. Submit the task; the answer carries its name, node and bearer token.
    sub = mliot(args, "submit", args.spec)
    if not sub["accepted"]:
        sys.exit(f"refused: {sub['reasons']}")
    task, token = sub["task"], sub["token"]
    print(f"submitted {task} to {sub['node']}")

    # 2. Wait until it serves.
    mliot(args, "wait", "--task", task, "--state", "serving", "--timeout-s", "600")

    # 3. The node's v2 endpoints.
    node = next(n for n in mliot(args, "nodes") if n["name"] == sub["node"])
    endpoints = node["endpoints"]  # {"v2_http": "http://H:P", "v2_grpc": "H:P", "metrics": "http://H:P/metrics"}
    print("endpoints:", endpoints)

    # Every call carries the task's token.
    headers = {"Authorization": f"Bearer {token}"}
    grpc_metadata = [("authorization", f"Bearer {token}")]

    # 4. Model metadata (v2 REST): input width, outputs, class names.
    base = f"{endpoints['v2_http']}/v2/models/{task}"
    meta = requests.get(base, headers=headers, timeout=10)
    meta.raise_for_status()
    meta = meta.json()
    print("inputs: ", meta["inputs"])
    print("outputs:", meta["outputs"])
    print("classes:", meta.get("parameters", {}).get("class_names"))
    inp = meta["inputs"][0]
    width = inp["shape"][1]
    features, true_label = one_row(args.csv, args.label, width)

    # 5. Infer over v2 REST (JSON): one FP32 row of shape [1, F].
    body = {"id": "example-1",
            "inputs": [{"name": inp["name"], "datatype": "FP32", "shape": [1, width], "data": features}]}
    r = requests.post(f"{base}/infer", json=body, headers=headers, timeout=10)
    r.raise_for_status()
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    rest_label = outputs["label"][0]
    print(f"REST: label {rest_label}, certainty {max(outputs['probabilities']):.3f}")

    # 6. The same over v2 gRPC: GRPCInferenceService/ModelInfer, values in contents.fp32_contents.
    with grpc.insecure_channel(endpoints["v2_grpc"]) as channel:
        request = v2.ModelInferRequest(model_name=task, id="example-2")
        tensor = request.inputs.add(name=inp["name"], datatype="FP32", shape=[1, width])
        tensor.contents.fp32_contents.extend(features)
        response = v2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=grpc_metadata,
                                                                        timeout=10)
    names = [o.name for o in response.outputs]
    label = grpc_output(response, names.index("label"))[0].decode()
    certainty = max(grpc_output(response, names.index("probabilities")))
    print(f"gRPC: label {label}, certainty {certainty:.3f} (version {response.model_version})")

    # 7. Feedback with mliot's own service (mliot.v1.Serving/Feedback) at the task's serving address.
    #    The true class: the CSV row's label if it has one (here, else the predicted one, for show).
    info = next(t for t in mliot(args, "tasks") if t["name"] == task)
    with grpc.insecure_channel(info["serving_address"]) as channel:
        ack = serving_pb2_grpc.ServingStub(channel).Feedback(
            serving_pb2.FeedbackRequest(task=task, rows=1, features=features,
                                        labels=[true_label or rest_label]),
            metadata=grpc_metadata, timeout=30)
    print(f"feedback: {ack.accepted_rows} row(s) accepted")


if __name__ == "__main__":
    main()
