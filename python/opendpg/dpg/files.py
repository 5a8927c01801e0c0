"""An asset's files as the checker sees them: a folder, or an archive unpacked safely into a temporary one."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opendpg.errors import OpenDPGValueError

__all__ = ["AssetFiles", "FilesError", "check_archive", "open_files", "unpack_archive"]

_MAX_TEXT = 2_000_000
_LICENCE_NAMES = re.compile(r"^(licen[cs]e|copying|unlicense)([.-].*)?$", re.IGNORECASE)
_README = re.compile(r"^readme([.].*)?$", re.IGNORECASE)
_REQ_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_COPYRIGHT = re.compile(r"^.*\b(copyright|\(c\)|©).*$", re.IGNORECASE | re.MULTILINE)


class FilesError(OpenDPGValueError):
    """The asset's files cannot be read (missing path, unknown or unsafe archive)."""


@dataclass(frozen=True)
class AssetFiles:
    """A read-only view of an asset's files rooted at ``root`` (the single top folder of an archive is skipped)."""

    root: Path

    def _top(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir())

    def text(self, path: Path) -> str:
        with path.open("rb") as f:
            return f.read(_MAX_TEXT).decode("utf-8", errors="replace")

    def licence_files(self) -> list[Path]:
        return [p for p in self._top() if p.is_file() and _LICENCE_NAMES.match(p.name)]

    def readme(self) -> Path | None:
        return next((p for p in self._top() if p.is_file() and _README.match(p.name)), None)

    def docs(self) -> list[Path]:
        folder = next((p for p in self._top() if p.is_dir() and p.name.lower() in ("docs", "doc")), None)
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder else []

    def copyright_lines(self) -> list[str]:
        sources = self.licence_files() + [p for p in (self.readme(),) if p] + [
            p for p in self._top() if p.is_file() and p.name.upper().startswith("NOTICE")]
        return [m.group(0).strip() for p in sources for m in _COPYRIGHT.finditer(self.text(p))]

    def all_files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def extensions(self) -> set[str]:
        return {p.suffix.lower().lstrip(".") for p in self.all_files() if p.suffix}

    def declared_dependencies(self) -> dict[str, list[str]]:
        """Dependency names by manifest (requirements*.txt, pyproject.toml, package.json)."""
        found: dict[str, list[str]] = {}
        for path in self._top():
            if not path.is_file():
                continue
            names: list[str] = []
            try:
                if path.name.startswith("requirements") and path.suffix == ".txt":
                    names = [m.group(1) for line in self.text(path).splitlines()
                             if not line.lstrip().startswith(("#", "-")) and (m := _REQ_LINE.match(line))]
                elif path.name == "pyproject.toml":
                    project = tomllib.loads(self.text(path)).get("project", {})
                    names = [m.group(1) for dep in project.get("dependencies", []) if (m := _REQ_LINE.match(dep))]
                elif path.name == "package.json":
                    names = sorted(json.loads(self.text(path)).get("dependencies", {}))
            except (ValueError, tomllib.TOMLDecodeError):
                found[path.name] = ["(unreadable manifest)"]
                continue
            if names:
                found[path.name] = names
        return found

    def csv_headers(self, limit: int = 50) -> dict[str, list[str]]:
        headers: dict[str, list[str]] = {}
        for path in [p for p in self.all_files() if p.suffix.lower() in (".csv", ".tsv")][:limit]:
            with contextlib.suppress(OSError, csv.Error, StopIteration):
                with path.open(newline="", encoding="utf-8", errors="replace") as f:
                    row = next(csv.reader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
                headers[str(path.relative_to(self.root))] = [h.strip() for h in row]
        return headers

    def has_tests(self) -> bool:
        return any(p.is_dir() and p.name.lower() in ("tests", "test", "spec") for p in self._top())


def unpack_archive(archive: Path, into: Path) -> None:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip into ``into``, refusing members that would land outside it."""
    name = archive.name.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")) or tarfile.is_tarfile(archive):
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(into, filter="data")  # refuses absolute paths, '..', links out of the folder
        except tarfile.FilterError as exc:
            raise FilesError(f"{archive.name}: unsafe archive member ({exc})") from None
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise FilesError(f"{archive.name}: a damaged archive ({exc})") from None
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                target = (into / member).resolve()
                if not target.is_relative_to(into.resolve()):
                    raise FilesError(f"{archive.name}: unsafe archive member {member!r} (outside the archive)")
            zf.extractall(into)
    else:
        raise FilesError(f"{archive.name}: not a folder, .tar(.gz) or .zip archive")


def check_archive(data: bytes) -> None:
    """Refuse bytes that are not an archive :func:`unpack_archive` unpacks safely (tried in a scratch folder)."""
    with tempfile.TemporaryDirectory(prefix="opendpg-archive-") as tmp:
        archive = Path(tmp) / "files"
        archive.write_bytes(data)
        (Path(tmp) / "unpacked").mkdir()
        unpack_archive(archive, Path(tmp) / "unpacked")


@contextlib.contextmanager
def open_files(path: Path) -> Iterator[AssetFiles]:
    """The files at ``path`` (a folder, or an archive unpacked for the duration of the block)."""
    if not path.exists():
        raise FilesError(f"{path}: no such file or folder")
    if path.is_dir():
        yield AssetFiles(path)
        return
    with tempfile.TemporaryDirectory(prefix="opendpg-asset-") as tmp:
        root = Path(tmp)
        unpack_archive(path, root)
        entries = list(root.iterdir())
        yield AssetFiles(entries[0] if len(entries) == 1 and entries[0].is_dir() else root)
