#!/usr/bin/python3
"""A real gRPC client (Debian's python3-grpcio) against mliot's Open Inference
Protocol service and gRPC health. Stubs are generated from proto/ at run time.

  v2_grpc_check.py --proto DIR [--v2 HOST:PORT --token T --task NAME --features F]
                   [--health HOST:PORT ...]
Prints one JSON object with what each call answered; the C++ test judges it.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import grpc


def stubs(proto_dir):
    out = tempfile.mkdtemp(prefix="mliot-v2-stubs-")
    subprocess.run(["protoc", f"--python_out={out}", f"--grpc_out={out}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", "-I", proto_dir,
                    os.path.join(proto_dir, "inference/grpc_service.proto")], check=True)
    sys.path.insert(0, out)
    from inference import grpc_service_pb2, grpc_service_pb2_grpc  # noqa: E402
    return grpc_service_pb2, grpc_service_pb2_grpc


def health(address, service=""):
    """grpc.health.v1.Health/Check by hand: the request is field 1 (string),
    the answer field 1 (enum: 1 SERVING, 2 NOT_SERVING)."""
    channel = grpc.insecure_channel(address)
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda s: (b"\n" + bytes([len(s)]) + s.encode()) if s else b"",
                                response_deserializer=lambda b: b[1] if len(b) >= 2 and b[0] == 8 else 0)
    try:
        status = check(service, timeout=5)
        return {1: "SERVING", 2: "NOT_SERVING"}.get(status, str(status))
    except grpc.RpcError as e:
        return e.code().name


def code_of(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proto", required=True)
    p.add_argument("--v2", help="without it, only the health checks")
    p.add_argument("--token")
    p.add_argument("--task")
    p.add_argument("--features", type=int)
    p.add_argument("--health", action="append", default=[])
    a = p.parse_args()
    out = {"health": {h: health(h) for h in a.health}}
    if not a.v2:
        print(json.dumps(out))
        return
    pb, rpc = stubs(a.proto)
    stub = rpc.GRPCInferenceServiceStub(grpc.insecure_channel(a.v2))
    auth = [("authorization", "Bearer " + a.token)]
    out["live"] = stub.ServerLive(pb.ServerLiveRequest()).live
    out["ready"] = stub.ServerReady(pb.ServerReadyRequest()).ready
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    out["server"] = {"name": meta.name, "extensions": list(meta.extensions)}
    out["model_ready"] = stub.ModelReady(pb.ModelReadyRequest(name=a.task), metadata=auth).ready
    m, call = stub.ModelMetadata.with_call(pb.ModelMetadataRequest(name=a.task), metadata=auth)
    out["metadata"] = {"name": m.name, "versions": list(m.versions),
                       "inputs": [[t.name, t.datatype, list(t.shape)] for t in m.inputs],
                       "outputs": [[t.name, t.datatype, list(t.shape)] for t in m.outputs],
                       "class_names": dict(call.initial_metadata()).get("mliot-class-names", "")}
    # Two rows in typed contents, then the same as raw little-endian bytes.
    rows = [[-2.0] * a.features, [2.0] * a.features]  # the test's two classes' sides
    req = pb.ModelInferRequest(model_name=a.task, id="g1")
    t = req.inputs.add(name="features", datatype="FP32", shape=[2, a.features])
    t.contents.fp32_contents.extend(rows[0] + rows[1])
    r = stub.ModelInfer(req, metadata=auth)
    out["infer"] = {"id": r.id, "version": r.model_version,
                    "outputs": {o.name: {"datatype": o.datatype, "shape": list(o.shape),
                                         "fp32": list(o.contents.fp32_contents),
                                         "bytes": [b.decode() for b in o.contents.bytes_contents],
                                         "int": list(o.contents.int_contents)} for o in r.outputs}}
    raw = pb.ModelInferRequest(model_name=a.task)
    raw.inputs.add(name="features", datatype="FP32", shape=[2, a.features])
    raw.raw_input_contents.append(struct.pack(f"<{2 * a.features}f", *(rows[0] + rows[1])))
    raw.outputs.add(name="label")
    r2 = stub.ModelInfer(raw, metadata=auth)
    out["infer_raw_labels"] = [b.decode() for b in r2.outputs[0].contents.bytes_contents]
    out["errors"] = {
        "unknown_model": code_of(lambda: stub.ModelInfer(pb.ModelInferRequest(model_name="nope"), metadata=auth)),
        "no_token": code_of(lambda: stub.ModelInfer(req)),
        "wrong_token": code_of(lambda: stub.ModelInfer(req, metadata=[("authorization", "Bearer wrong")])),
        "bad_shape": code_of(lambda: stub.ModelInfer(pb.ModelInferRequest(
            model_name=a.task, inputs=[pb.ModelInferRequest.InferInputTensor(
                name="features", datatype="FP32", shape=[1, 1],
                contents=pb.InferTensorContents(fp32_contents=[1.0]))]), metadata=auth)),
        "unknown_version": code_of(lambda: stub.ModelMetadata(pb.ModelMetadataRequest(name=a.task, version="999"),
                                                              metadata=auth)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
