"""Generate Python code (+ type stubs) from protos/ and a descriptor image for `buf lint`.

Run by `make protos`. Imports of google/type and google/rpc resolve from the .proto files
that googleapis-common-protos ships, so nothing is fetched from the network.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
OUT = Path(__file__).resolve().parent / "src"
IMAGE = ROOT / ".data" / "build" / "bullseye.binpb"


def _include_dirs() -> list[Path]:
    import google.rpc  # googleapis-common-protos: its .proto files sit beside the modules

    googleapis_root = Path(next(iter(google.rpc.__path__))).parent.parent
    bundled = Path(str(resources.files(grpc_tools) / "_proto"))
    return [PROTOS, googleapis_root, bundled]


def _clean() -> None:
    for child in (OUT / "bullseye").iterdir():
        if child.is_dir():
            shutil.rmtree(child)


def _add_init_files() -> None:
    for directory in (OUT / "bullseye").rglob("*"):
        if directory.is_dir():
            (directory / "__init__.py").touch()
    (OUT / "bullseye" / "py.typed").touch()


def main() -> int:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    includes = [f"-I{d}" for d in _include_dirs()]
    plugin_dir = Path(sys.executable).parent
    _clean()
    IMAGE.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        *includes,
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--plugin=protoc-gen-mypy={plugin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        f"--descriptor_set_out={IMAGE}",
        "--include_imports",
        "--include_source_info",
        *sources,
    ]
    status = protoc.main(args)
    if status != 0:
        print(f"protoc failed with status {status}", file=sys.stderr)
        return int(status)
    _add_init_files()
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}; image {IMAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
