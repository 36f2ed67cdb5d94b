"""Loads the Python classes generated from schemas/ (python -m grpc_tools.protoc).

The classes are generated at test time into a scratch directory, never committed:

    python -m grpc_tools.protoc -I schemas --python_out=GEN --grpc_python_out=GEN \\
        schemas/axion/v1/*.proto

load(GEN) puts GEN on sys.path and imports every generated module, so that each message type
of the schemas is in protobuf's default pool and message_class() finds it by its full name.
"""

import importlib
import pathlib
import sys

from google.protobuf import descriptor_pool, message_factory


def load(generated_dir):
    """Imports every axion/v1/*_pb2.py under generated_dir; returns them by module name."""
    root = pathlib.Path(generated_dir)
    if not (root / "axion" / "v1" / "envelope_pb2.py").is_file():
        raise SystemExit(f"{root}: no generated axion/v1/envelope_pb2.py "
                         "(run python -m grpc_tools.protoc on schemas/axion/v1/*.proto first)")
    sys.path.insert(0, str(root))
    modules = {}
    for path in sorted((root / "axion" / "v1").glob("*_pb2.py")):
        name = "axion.v1." + path.stem
        modules[path.stem] = importlib.import_module(name)
    return modules


def message_class(full_name):
    """The generated class of a message type, e.g. "axion.v1.DeploymentSucceeded"."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)
