"""Writing outputs so that a reader never sees half of them.

write_atomic(path, data): one file, through a temporary file in its folder and a rename.
publish(files, remove): several files (charts and a report), staged in a
    temporary folder beside each target and swapped in only when all are
    written; a failure during the swap puts every earlier file back.
check_writable(path): fail before any work when an output could not be written.
"""

import os
import shutil
import tempfile
from pathlib import Path

STAGE_PREFIX = ".cobench-stage-"


class OutputError(Exception):
    """An output that cannot be written; str() is one line."""


def _file_mode():
    # mkstemp creates 0600; outputs get the mode an ordinary open() would give them.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable(path):
    path = Path(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"{path}: output folder {folder} does not exist")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder")


def write_atomic(path, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _Stage:
    """Temporary folders, one inside each target folder (a rename never crosses file systems)."""

    def __init__(self):
        self.dirs = {}          # target folder -> stage folder
        self.made = []          # target folders this publish created, deepest last

    def folder_for(self, target_dir):
        if target_dir not in self.dirs:
            missing = [p for p in [target_dir, *target_dir.parents] if not p.exists()]
            target_dir.mkdir(parents=True, exist_ok=True)
            self.made += reversed(missing)
            self.dirs[target_dir] = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=target_dir))
        return self.dirs[target_dir]

    def cleanup(self, failed):
        for d in self.dirs.values():
            shutil.rmtree(d, ignore_errors=True)
        if failed:
            for d in reversed(self.made):   # only folders we created, and only if still empty
                try:
                    d.rmdir()
                except OSError:
                    pass


def _check_targets(paths):
    for p in paths:
        if p.is_dir():
            raise OutputError(f"{p}: is a folder")


def publish(files, remove=()):
    """Write every (path, bytes) in `files` and delete every path in `remove`, all or nothing.

    Nothing visible changes until every new file is complete on disk. The swap
    then moves each old file into the stage folder before its replacement
    arrives, so a failure part-way moves them all back.
    """
    files = [(Path(p).absolute(), data) for p, data in files]
    remove = [Path(p).absolute() for p in remove if Path(p).exists()]
    _check_targets([p for p, _ in files] + remove)
    stage, failed = _Stage(), True
    try:
        staged = []
        mode = _file_mode()
        for path, data in files:
            tmp = stage.folder_for(path.parent) / path.name
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            staged.append((tmp, path))
        _swap(stage, staged, remove)
        failed = False
    finally:
        stage.cleanup(failed)


def _swap(stage, staged, remove):
    undo = []
    try:
        for tmp, path in staged:
            backup = None
            if path.exists():
                backup = tmp.with_name(tmp.name + ".old")
                os.replace(path, backup)
            undo.append((path, backup, tmp))
            os.replace(tmp, path)
        for path in remove:
            backup = stage.folder_for(path.parent) / (path.name + ".removed")
            os.replace(path, backup)
            undo.append((path, backup, None))
    except BaseException:
        for path, backup, tmp in reversed(undo):
            if tmp is not None and path.exists() and not tmp.exists():
                os.replace(path, tmp)          # take the new file back out
            if backup is not None and backup.exists():
                os.replace(backup, path)
        raise
