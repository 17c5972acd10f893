"""Files and folders that appear whole or not at all, and the rule for replacing them.

- ``atomic_write``: a file is written to a temporary file beside it and renamed over it when
  complete, so readers (and a later run after a crash) see the old file or the new one.
- ``staging_folder`` + ``publish_folder``: a folder is built beside its target and renamed into
  place. Replacing an existing folder takes two renames: the old one moves into a trash folder
  ``.<name>.<random>.old/old`` beside it, then the new one takes its name. When the second rename
  fails the old folder is put back; when the process is killed in between, the next
  ``check_replaceable`` or ``publish_folder`` for that target (or ``recover_stranded``) puts it
  back. Both hold a lock on the parent folder, so they never race another publisher.
- ``check_replaceable``: what ``overwrite=True`` may replace: only a preset folder, a SavedModel
  version folder or a LiteRT file, never a folder holding anything else, the current directory or
  a folder that holds a path the run needs. Call it before writing anything. A preset folder may
  also hold what a killed ``atomic_write`` of one of its files left (``is_part_of``: exactly the
  names ``atomic_write`` makes); replacing the folder sweeps those away with it.
"""

import contextlib
import os
import re
import secrets
import shutil
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: publishes are not serialized against each other
    fcntl = None

# What each kind of replaceable target may hold (see ``check_replaceable``).
PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "README.md", "samples.png")
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt", "fingerprint.pb", "keras_metadata.pb")
SAVED_MODEL_FOLDERS = ("variables", "assets", "assets.extra")
_VARIABLES_FILE = re.compile(r"variables\.(index|data-\d+-of-\d+)\Z")
TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, bytes 4-8 of every LiteRT model
# atomic_write's temporary files: ``.<name>-<8 of these>.part`` (the characters and length of
# ``tempfile.mkstemp``'s names, which older versions used, so their leftovers are recognised too).
PART_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
PART_RANDOM_LENGTH = 8
KINDS = {
    "preset": "preset folder (" + ", ".join(PRESET_FILES) + ")",
    "saved_model": "SavedModel version folder (saved_model.pb, fingerprint.pb, variables/, assets/)",
    "tflite": "LiteRT flatbuffer file (.tflite)",
}


def current_umask():
    """The process's umask (read by setting it and putting it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding=None):
    """Writes the file ``path`` whole or not at all.

    Yields a file object opened with ``mode`` ("w" text or "wb" binary) on a temporary file
    beside ``path`` (``.<name>-<8 random characters>.part``, same folder, so the rename is
    atomic; a kill can leave it behind, and ``is_part_of`` recognises exactly these names). When
    the ``with`` block ends without an exception the data is flushed to disk (fsync), the file gets
    the permissions of a newly created file (0666 & ~umask) and ``os.replace`` moves it to
    ``path``: readers see the old file or the new one, never a part. On an exception the
    temporary file is removed, ``path`` is left as it was and the exception propagates.
    The parent folder must exist.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    handle, temporary = _create_part(path)
    try:
        with os.fdopen(handle, mode, encoding=encoding if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~current_umask())  # created 0600
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(parent)


def part_name(name):
    """A new name for a temporary file of ``atomic_write`` writing ``name``: ``.<name>-<random>.part``."""
    token = "".join(secrets.choice(PART_CHARACTERS) for _ in range(PART_RANDOM_LENGTH))
    return f".{name}-{token}.part"


def is_part_of(entry, name):
    """Whether the folder entry ``entry`` is named as a temporary file of ``atomic_write`` writing
    the file ``name`` in the same folder (``part_name``), and nothing else is: a user's
    ``.metadata.json-notes.part`` or ``.metadata.json-abcdefgh.part.bak`` is not."""
    token = f"[{re.escape(PART_CHARACTERS)}]{{{PART_RANDOM_LENGTH}}}"
    return re.fullmatch(rf"\.{re.escape(name)}-{token}\.part", entry) is not None


def _create_part(path):
    """``(file descriptor, path)`` of a new temporary file (0600, created exclusively) beside ``path``."""
    parent, name = os.path.split(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    for optional in ("O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):  # as tempfile.mkstemp opens its files
        flags |= getattr(os, optional, 0)
    for _ in range(100):
        temporary = os.path.join(parent, part_name(name))
        try:
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}: 100 random names were taken")


def check_writable_file(path, what="output"):
    """Refuses (ValueError) a file path that could not be written: its folder is missing or
    not writable, or the path is a folder. ``what`` names it in the message (e.g. "--npy")."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        raise ValueError(f"{what} {path} is a folder; give a file path")
    if not os.path.isdir(parent):
        raise ValueError(f"{what} {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"{what} {path}: the folder {parent} is not writable")


def check_replaceable(target, overwrite, kind, protected=()):
    """Refuses, before anything is written, to write ``target`` where that would lose data.

    Args:
        target: the file or folder about to be written.
        overwrite: whether an existing ``target`` may be replaced.
        kind: what ``target`` is: "preset" (a folder holding only ``PRESET_FILES``, with
            metadata.json), "saved_model" (a SavedModel version folder) or "tflite" (a LiteRT file).
        protected: paths the caller still needs (e.g. a training workdir); a target that is or
            contains one of them is refused, whether or not either exists yet.
    Raises:
        FileExistsError: ``target`` exists and not ``overwrite``.
        ValueError: ``target`` exists and ``overwrite``, but it is the current directory or a parent
            of it, is or contains a ``protected`` path, is a symbolic link, or is not itself a
            ``kind`` (it holds other files).
    A publish of ``target`` that was killed between its two renames is undone first (the old
    folder is put back), so that it counts as existing.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    target = os.path.abspath(os.fspath(target))
    real = os.path.realpath(target)
    for path in protected:  # whether or not either exists yet: writing target would take it over
        if path is not None and _is_within(os.path.realpath(os.fspath(path)), real):
            raise ValueError(f"refusing to write {target}: it is or contains {os.path.abspath(os.fspath(path))}, "
                             "which this run needs; choose an output outside it")
    if not os.path.lexists(target):
        recover_stranded(target)
        if not os.path.lexists(target):
            return
    if not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    refusal = f"refusing to replace {target}"
    advice = (f"overwrite replaces only a {KINDS[kind]}, never anything else; choose a new path or move "
              "your files away first")
    cwd = os.path.realpath(os.getcwd())
    if _is_within(cwd, real):
        where = "the current directory" if cwd == real else f"a parent of the current directory {cwd}"
        raise ValueError(f"{refusal}: it is {where}; {advice}")
    if os.path.islink(target):
        raise ValueError(f"{refusal}: it is a symbolic link; {advice}")
    reason = _not_a(kind, target)
    if reason:
        raise ValueError(f"{refusal}: it is not a {kind.replace('_', ' ')} ({reason}); {advice}")


def _is_within(path, folder):
    """Whether ``path`` is ``folder`` or inside it (both real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _not_a(kind, target):
    """Why ``target`` is not a ``kind`` (None when it is one)."""
    if kind == "tflite":
        if not os.path.isfile(target):
            return "it is a folder" if os.path.isdir(target) else "it is not a regular file"
        with open(target, "rb") as f:
            header = f.read(8)
        return None if header[4:8] == TFLITE_IDENTIFIER else "its content is not a LiteRT flatbuffer"
    if not os.path.isdir(target):
        return "it is a file"
    entries = sorted(os.listdir(target))
    if kind == "preset":
        others = [e for e in entries if not _is_preset_entry(os.path.join(target, e))]
        if others:
            return "it holds " + _names(others)
        return None if "metadata.json" in entries else "it has no metadata.json"
    others = [e for e in entries
              if not (e in SAVED_MODEL_FILES and os.path.isfile(os.path.join(target, e)))
              and not (e in SAVED_MODEL_FOLDERS and os.path.isdir(os.path.join(target, e)))]
    if os.path.isdir(os.path.join(target, "variables")):
        others += [os.path.join("variables", e) for e in sorted(os.listdir(os.path.join(target, "variables")))
                   if not _VARIABLES_FILE.match(e)]
    if others:
        return "it holds " + _names(others)
    return None if "saved_model.pb" in entries else "it has no saved_model.pb"


def _is_preset_entry(path):
    """Whether ``path`` belongs in a preset folder: one of ``PRESET_FILES``, or a regular file (not
    a link) that a killed ``atomic_write`` of one of them left."""
    entry = os.path.basename(path)
    if entry in PRESET_FILES:
        return os.path.isfile(path)
    return any(is_part_of(entry, name) for name in PRESET_FILES) and os.path.isfile(path) and not os.path.islink(path)


def _names(entries, shown=5):
    more = f" and {len(entries) - shown} more" if len(entries) > shown else ""
    return ", ".join(entries[:shown]) + more


def staging_folder(target):
    """A new empty folder beside ``target`` (same file system, so a rename can publish it),
    with the usual permissions (0777 & ~umask; ``mkdtemp`` alone gives 0700, which a TF
    Serving container or another user of a shared cache could not read)."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}-")
    os.chmod(folder, 0o777 & ~current_umask())
    return folder


def publish_folder(staging, target):
    """Moves the finished ``staging`` folder to ``target``, replacing what was there.

    The old ``target`` moves to a trash folder beside it first (``.<name>.<random>.old/old``);
    if the second rename fails the old one is moved back and the error propagates (the caller
    removes ``staging``). A trash folder left by a killed publish is recovered first.
    """
    target = os.path.abspath(os.fspath(target))
    with _parent_lock(target):
        _recover(target)
        if not os.path.lexists(target):
            os.rename(staging, target)
            return
        trash = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".old")
        old = os.path.join(trash, "old")
        os.rename(target, old)
        try:
            os.rename(staging, target)
        except BaseException as error:
            try:
                os.rename(old, target)
            except OSError as restore_error:
                raise OSError(f"could not publish {target} ({error}) nor move its old version back from {old} "
                              f"({restore_error}); move it back by hand") from error
            shutil.rmtree(trash, ignore_errors=True)
            raise
        shutil.rmtree(trash, ignore_errors=True)


def recover_stranded(target):
    """Puts back the old version of ``target`` that a killed ``publish_folder`` left in its trash
    folder (``target`` missing, ``.<name>.<random>.old/old`` present); removes trash folders left
    after a completed publish. Returns whether an old version was put back."""
    target = os.path.abspath(os.fspath(target))
    if not os.path.isdir(os.path.dirname(target)) or not _trash_folders(target):
        return False
    with _parent_lock(target):
        return _recover(target)


def _trash_folders(target):
    """The trash folders of ``target`` (``.<name>.<8 mkdtemp characters>.old`` holding at most an
    ``old`` entry; no other target's trash or staging folder, and no user's folder, matches),
    oldest first."""
    parent, name = os.path.split(target)
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.old\Z")  # exactly what mkdtemp makes
    try:
        found = [os.path.join(parent, e) for e in os.listdir(parent) if pattern.match(e)]
    except FileNotFoundError:
        return []
    # A folder of that name holding anything but our "old" entry is someone else's: never touched.
    ours = [f for f in found if os.path.isdir(f) and not os.path.islink(f) and set(os.listdir(f)) <= {"old"}]
    return sorted(ours, key=lambda f: os.stat(f).st_mtime_ns)


def _recover(target):
    """``recover_stranded`` with the parent lock held."""
    restored = False
    for trash in reversed(_trash_folders(target)):  # newest first: the version published last
        old = os.path.join(trash, "old")
        if not os.path.lexists(target) and os.path.lexists(old):
            os.rename(old, target)
            restored = True
        shutil.rmtree(trash, ignore_errors=True)
    return restored


@contextlib.contextmanager
def _parent_lock(target):
    """An exclusive lock (flock) on the folder that holds ``target``, released when the block ends
    or the process dies."""
    parent = os.path.dirname(target)
    if fcntl is None or not os.path.isdir(parent):
        yield
        return
    handle = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _fsync_folder(folder):
    """Makes a rename in ``folder`` durable (best effort: not every system can fsync a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
