"""Compile the contract suite with py-solc-x, offline, through the solc-js wrapper.

The settings are brownie's (``brownie-config.yaml``): solc 0.8.28, optimizer 200 runs, evm ``shanghai``,
``@openzeppelin`` from ``node_modules``. Artifacts are cached under ``build/opendpg/`` keyed by a hash of
every source file and the settings, so only a change recompiles; processes compiling at once (the test suite's
workers) wait for the first one's artifacts instead of compiling again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendpg.config import project_root
from opendpg.errors import CompilerError
from opendpg.files import write_atomic

__all__ = ["Artifact", "compile_suite", "solc_binary", "standard_input"]

SOLC_VERSION = "0.8.28"
EVM_VERSION = "shanghai"
REMAPPINGS = ["@openzeppelin/=node_modules/@openzeppelin/"]


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str


def solc_binary(root: Path | None = None) -> Path:
    """The wrapper py-solc-x, brownie and slither use as ``solc`` (installed by ``make``)."""
    root = root or project_root()
    folder = Path(os.environ.get("SOLCX_BINARY_PATH", root / ".tools" / "solcx"))
    binary = folder / f"solc-v{SOLC_VERSION}"
    if not binary.exists():
        raise CompilerError(f"no solc at {binary}: run `make setup` (it installs the solc-js wrapper)")
    return binary


def _sources(root: Path, include_tests: bool) -> list[str]:
    files = sorted(p.relative_to(root).as_posix() for p in (root / "contracts").rglob("*.sol"))
    return [f for f in files if include_tests or not f.startswith("contracts/test/")]


def standard_input(root: Path | None = None, *, include_tests: bool = False, analysis: bool = False) -> dict[str, Any]:
    """The solc standard-JSON input for the suite (sources by URL, resolved by the wrapper's callback).

    ``analysis`` asks for what slither reads too (runtime bytecode, source maps, method ids), compiled without the
    optimizer and the IR pipeline: slither analyses the sources (their AST), which those settings do not change,
    and solc-js compiles the suite in a third of the time without them (the deployed bytecode needs them).
    """
    root = root or project_root()
    outputs = ["abi", "evm.bytecode.object"]
    if analysis:
        outputs = ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers", "userdoc", "devdoc"]
    return {
        "language": "Solidity",
        "sources": {path: {"urls": [path]} for path in _sources(root, include_tests)},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": not analysis, "runs": 200},
            # as brownie-config.yaml: the job market fits EIP-170's size limit only through the IR
            "viaIR": not analysis,
            "remappings": REMAPPINGS,
            "outputSelection": {"*": {"*": outputs, "": ["ast"]}},
        },
    }


def _fingerprint(root: Path, spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    for path in spec["sources"]:
        digest.update(path.encode())
        digest.update((root / path).read_bytes())
    return digest.hexdigest()[:16]


def compile_suite(root: Path | None = None, *, include_tests: bool = False) -> dict[str, Artifact]:
    """Compile (or load from cache) every contract under ``contracts/``; returns artifacts by name."""
    root = root or project_root()
    spec = standard_input(root, include_tests=include_tests)
    cache = root / "build" / "opendpg" / f"artifacts-{_fingerprint(root, spec)}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if cache.exists():
            raw = json.loads(cache.read_text())
            return {name: Artifact(**a) for name, a in raw.items()}
        return _compile(root, spec, cache)


def _compile(root: Path, spec: dict[str, Any], cache: Path) -> dict[str, Artifact]:
    import solcx  # heavy import, only when compiling

    try:
        output = solcx.compile_standard(
            spec, solc_binary=solc_binary(root), allow_paths=[str(root)], base_path=str(root)
        )
    except solcx.exceptions.SolcError as exc:
        raise CompilerError(f"solc failed: {exc}") from exc
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output.get("contracts", {}).items():
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if bytecode:
                artifacts[name] = Artifact(name=name, source=source, abi=data["abi"], bytecode="0x" + bytecode)
    write_atomic(cache, json.dumps({n: a.__dict__ for n, a in artifacts.items()}))  # never a half-written cache
    return artifacts
