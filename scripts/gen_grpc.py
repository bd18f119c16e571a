"""Regenerate the gRPC code in api/rpc/v1 from signer.proto (grpcio-tools, pinned in the dev extra).

The generated files are committed, so a fresh clone runs without a code-generation step;
tests/api/test_grpc_codegen.py fails when they no longer match the .proto.

    .venv/bin/python scripts/gen_grpc.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ["api/rpc/v1/signer.proto"]


def generate(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    argv = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *(str(ROOT / p) for p in PROTOS)]
    if protoc.main(argv) != 0:
        raise SystemExit("protoc failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: the repository)")
    generate(parser.parse_args().out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
