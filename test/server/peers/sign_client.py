"""An independent opk.signer.v1 client (grpcio, the C-core gRPC), built from signer.proto.

usage: sign_client.py GENERATED_DIR TARGET STATEMENT OUT_ENVELOPE [PAYLOAD_TYPE]
Prints one JSON line: {"media_type": ..., "predicate_type": ...} or {"code": ..., "details": ...}.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from opk.signer.v1 import signer_pb2, signer_pb2_grpc  # noqa: E402

target, statement_path, out_path = sys.argv[2], sys.argv[3], sys.argv[4]
payload_type = sys.argv[5] if len(sys.argv) > 5 else ""
with open(statement_path, "rb") as f:
    statement = f.read()

# Envelopes are larger than the statement (base64 + PK Token): lift the 4 MiB default.
options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
with grpc.insecure_channel(target, options=options) as channel:
    stub = signer_pb2_grpc.SignerStub(channel)
    try:
        res = stub.SignStatement(
            signer_pb2.SignStatementRequest(statement=statement, payload_type=payload_type), timeout=30
        )
    except grpc.RpcError as e:
        print(json.dumps({"code": e.code().name, "details": e.details()}))
        sys.exit(3)
    with open(out_path, "wb") as f:
        f.write(res.envelope)
    info = stub.GetInfo(signer_pb2.GetInfoRequest(), timeout=10)
    print(json.dumps({"media_type": res.media_type, "predicate_type": res.predicate_type, "version": info.version}))
