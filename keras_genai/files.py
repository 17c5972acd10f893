"""Folders that appear whole or not at all: staging next to the target, then a rename."""

import os
import shutil
import tempfile


def staging_folder(target):
    """A new empty folder beside ``target`` (same file system, so a rename can publish it),
    with the usual permissions (0777 & ~umask; ``mkdtemp`` alone gives 0700, which a TF
    Serving container or another user of a shared cache could not read)."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}-")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    return folder


def publish_folder(staging, target):
    """Moves the finished ``staging`` folder to ``target``, replacing what was there."""
    if not os.path.exists(target):
        os.rename(staging, target)
        return
    trash = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=".old-")
    os.rename(target, os.path.join(trash, "old"))
    os.rename(staging, target)
    shutil.rmtree(trash, ignore_errors=True)
