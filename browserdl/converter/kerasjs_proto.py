"""The Keras.js protobuf schema (keras-js 1.0.3 `proto/model.proto`), built in Python.

protoc isn't needed: the two messages are described with descriptor_pb2 and turned into
classes by the protobuf runtime. Field numbers and types are those of the schema Keras.js's
bundled decoder (lib/proto.js) reads:

    syntax = "proto3";
    message Weights { string layer_name = 1; string weight_name = 2; repeated uint32 shape = 3;
                      string type = 4; bytes data = 5; float quantize_min = 6; float quantize_max = 7; }
    message Model { string id = 1; string name = 2; string keras_version = 3; string backend = 4;
                    string model_config = 5; repeated Weights model_weights = 6; }
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_FIELDS = {
    "Weights": [
        ("layer_name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("weight_name", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("shape", 3, _F.TYPE_UINT32, _F.LABEL_REPEATED),  # proto3: packed, as lib/proto.js writes it
        ("type", 4, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("data", 5, _F.TYPE_BYTES, _F.LABEL_OPTIONAL),
        ("quantize_min", 6, _F.TYPE_FLOAT, _F.LABEL_OPTIONAL),
        ("quantize_max", 7, _F.TYPE_FLOAT, _F.LABEL_OPTIONAL),
    ],
    "Model": [
        ("id", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("name", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("keras_version", 3, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("backend", 4, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("model_config", 5, _F.TYPE_STRING, _F.LABEL_OPTIONAL),
        ("model_weights", 6, _F.TYPE_MESSAGE, _F.LABEL_REPEATED),
    ],
}


def _classes() -> tuple[type[Message], type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(name="keras-js/model.proto", syntax="proto3")
    for message, fields in _FIELDS.items():
        proto = file.message_type.add(name=message)
        for name, number, kind, label in fields:
            field = proto.field.add(name=name, number=number, type=kind, label=label)
            if kind == _F.TYPE_MESSAGE:
                field.type_name = ".Weights"
    # A private pool: the schema has no package, so "Model"/"Weights" must not clash with
    # anything else registered in the process-wide default pool.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("Model")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("Weights")))


Model, Weights = _classes()


def decode(data: bytes) -> Message:
    """Parse a Keras.js model file; raises google.protobuf.message.DecodeError on bad bytes."""
    model = Model()
    model.ParseFromString(data)
    return model
