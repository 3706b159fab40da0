"""Deployed code packages, unpacked once per content hash.

Lambda runs a function from its deployment package (``/var/task``), never from
the developer's working tree. Here each deployed zip is unpacked into
``<cache>/<sha256 hex>/`` and workers run with that directory as their task
root; a redeploy with changed code has a new hash, so a new directory, while
runs in flight keep the old one. Unpacking goes to a temporary directory that
is renamed into place, so a directory that exists is always complete.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path


class PackageError(Exception):
    """A deployed package cannot be unpacked (its bytes do not match, or it is no zip)."""


class CodeCache:
    """``<root>/<sha256 hex>/``: one unpacked deployment package per content hash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def path(self, code_key: str) -> Path:
        return self.root / code_key

    def ensure(self, code_key: str, read_zip: Callable[[], bytes | None]) -> Path | None:
        """The unpacked package for ``code_key``; ``read_zip`` is called only if it is absent.

        None when the package is gone (``read_zip`` returned None: deleted meanwhile).
        """
        target = self.path(code_key)
        with self._lock:
            if target.is_dir():
                return target
            data = read_zip()
            if data is None:
                return None
            digest = hashlib.sha256(data).hexdigest()
            if digest != code_key:
                raise PackageError(f"package {code_key} read back with SHA-256 {digest}")
            self._unpack(data, target)
        return target

    def _unpack(self, data: bytes, target: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=self.root))
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _extract(archive, staging)
            os.replace(staging, target)
        except zipfile.BadZipFile as exc:
            raise PackageError(f"package {target.name} is not a zip file: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def prune(self, keep: set[str]) -> None:
        """Remove unpacked packages no deployed function uses any more."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, destination: Path) -> None:
    """Extract, keeping the executable bits Lambda keeps (zipfile drops them)."""
    for info in archive.infolist():
        extracted = Path(archive.extract(info, destination))
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            extracted.chmod(mode)
