"""Read a third-party data set from where it lies on this machine, never from the project's own tree.

Public data sets are not committed (their text is not ours). A bench script names the public repository and
the commit it was labelled against; :class:`Snapshot` then reads the files either

- from a directory given in an environment variable (the data set unpacked by hand, same layout as in the
  repository below ``root``), or
- from the git snapshot the ``fetch`` tool leaves under ``/work/.mirror/<owner>+<name>/repo`` (override the
  mirror root with ``CONTEXTBOT_MIRROR_DIR``), at the pinned commit, without a work tree.

When neither is there, :meth:`Snapshot.available` is False and :attr:`Snapshot.fetch_source` says what to fetch.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterable

DEFAULT_MIRROR_ROOT = Path("/work/.mirror")


class Snapshot:
    def __init__(self, repo: str, commit: str, *, root: str = "", env_var: str | None = None,
                 mirror_root: Path | None = None) -> None:
        self.repo, self.commit = repo, commit
        self.root = root.strip("/")
        self.env_var = env_var
        mirror = mirror_root or Path(os.environ.get("CONTEXTBOT_MIRROR_DIR") or DEFAULT_MIRROR_ROOT)
        self.git_dir = mirror / repo.replace("/", "+") / "repo"
        env_dir = os.environ.get(env_var) if env_var else None
        self.directory = Path(env_dir) if env_dir else None

    @property
    def fetch_source(self) -> str:
        """What the ``fetch`` tool needs to bring this snapshot here."""
        return f"github:{self.repo}@{self.commit}"

    @property
    def where(self) -> str:
        return str(self.directory) if self.directory else f"{self.git_dir} at {self.commit[:12]}"

    def available(self) -> bool:
        if self.directory is not None:
            return self.directory.is_dir()
        if not self.git_dir.is_dir():
            return False
        probe = subprocess.run(["git", "--git-dir", str(self.git_dir), "cat-file", "-e", f"{self.commit}^{{commit}}"],
                               capture_output=True)
        return probe.returncode == 0

    def unavailable_message(self) -> str:
        how = f"set {self.env_var} to an unpacked copy, or " if self.env_var else ""
        return f"n/a: data not on this machine ({how}fetch {self.fetch_source})"

    def _repo_path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if self.root else rel

    def list_files(self, rel_dir: str = "") -> list[str]:
        """Every file under ``rel_dir`` (recursively), as paths relative to the data root, sorted."""
        if self.directory is not None:
            base = self.directory / rel_dir
            return sorted(str(p.relative_to(self.directory)) for p in base.rglob("*") if p.is_file())
        out = subprocess.run(["git", "--git-dir", str(self.git_dir), "ls-tree", "-r", "--name-only", self.commit,
                              "--", self._repo_path(rel_dir)], capture_output=True, text=True, check=True).stdout
        cut = len(self.root) + 1 if self.root else 0
        return sorted(line[cut:] for line in out.splitlines() if line)

    def read_many(self, rel_paths: Iterable[str]) -> dict[str, bytes]:
        """The bytes of several files at once (one ``git cat-file --batch`` for a snapshot)."""
        paths = list(dict.fromkeys(rel_paths))
        if self.directory is not None:
            return {p: (self.directory / p).read_bytes() for p in paths}
        if not paths:
            return {}
        request = "".join(f"{self.commit}:{self._repo_path(p)}\n" for p in paths).encode()
        raw = subprocess.run(["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"], input=request,
                             capture_output=True, check=True).stdout
        out, pos = {}, 0
        for p in paths:
            end = raw.index(b"\n", pos)
            header = raw[pos:end].split()
            if len(header) != 3:
                raise FileNotFoundError(f"{p} not in {self.repo}@{self.commit[:12]}")
            size = int(header[2])
            out[p] = raw[end + 1:end + 1 + size]
            pos = end + 1 + size + 1
        return out

    def read_text(self, rel_path: str) -> str:
        return self.read_many([rel_path])[rel_path].decode("utf-8")
