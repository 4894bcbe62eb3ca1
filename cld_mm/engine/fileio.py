"""Atomic checkpoint writes: a save killed midway never damages a good file.

mmengine's ``LocalBackend.put`` opens the target with ``'wb'`` and writes into
it, so a process killed (or a disk filling up) while a checkpoint is being
written leaves a truncated ``epoch_N.pth`` - and when the same name is written
again (``latest.pth``, a re-run in the same work dir) the previous good file is
lost. :class:`AtomicLocalBackend` writes a temporary file in the same folder,
flushes and fsyncs it, then ``os.replace``-s it onto the target (atomic on
POSIX and Windows), and fsyncs the folder so the rename itself survives a
crash. A failed write removes its temporary file and re-raises.

Enable it for checkpoints with (``configs/_base_/default_runtime.py`` does)::

    default_hooks = dict(checkpoint=dict(
        backend_args=dict(backend='atomic_local')))
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

TMP_PREFIX = '.tmp-'


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; checkpoints get the usual 0666 & ~umask.
FILE_MODE = 0o666 & ~_read_umask()


def atomic_write(data: Union[bytes, str], filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` so that it holds either the old or the
    new content, never a part of it.

    Args:
        data (bytes | str): content; ``str`` is encoded with ``encoding``.
        filepath (str | Path): target file; its folder is created if needed.
        encoding (str): text encoding. Defaults to 'utf-8'.
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    prefix = TMP_PREFIX + osp.basename(filepath) + '.'
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    """Persist a rename in ``folder`` (a no-op where it cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj, filepath, encoding=encoding)
