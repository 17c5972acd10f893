"""Files behind URLs: downloaded once into a cache and checked against a sha256.

The cache (``cache_dir()``) holds ``downloads/<sha16>/<name>``, the verified download, and
``presets/<sha16>/``, the unpacked preset archive (``sha16``: the first 16 hex digits of the
pinned sha256). Nothing in the cache is trusted: the download is re-hashed on every use, and an
unpacked preset is compared on every use, file by file (names, sizes, sha256), with the members
of the verified archive; a folder that differs in any way (a changed, missing or extra file, a
symlink) is rebuilt from the archive, never loaded. The archive is read once per use, into a
private nameless copy hashed as it is read; the members are listed, compared and unpacked from
that copy, so a file swapped or rewritten after the check cannot be what is unpacked.

Bounds (far above any real preset, which is about 10 MB in at most 10 files): a download stops
past its Content-Length or ``MAX_DOWNLOAD_BYTES``; an archive is refused, before anything is
written, when its members declare or actually unpack to more than ``MAX_UNPACK_BYTES`` or when
it has more than ``MAX_UNPACK_MEMBERS`` members. Each bound can be changed per call or with its
environment variable. A refused or interrupted download or unpack leaves nothing in the cache:
partial files are deleted, and what a killed process left (a hidden staging folder or partial
download, named with its pid) is removed by the next unpack or download once that process is gone.
"""

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

from keras_genai.zoo.errors import ChecksumError, PresetError

CACHE_ENV = "KERAS_GENAI_CACHE"
URL_SCHEMES = ("https", "http", "file")
DOWNLOAD_TIMEOUT_S = 60

MAX_DOWNLOAD_BYTES = 2 << 30  # 2 GiB per download; env KERAS_GENAI_MAX_DOWNLOAD_BYTES
MAX_UNPACK_BYTES = 1 << 30  # 1 GiB of unpacked files per archive; env KERAS_GENAI_MAX_UNPACK_BYTES
MAX_UNPACK_MEMBERS = 1000  # files and folders per archive; env KERAS_GENAI_MAX_UNPACK_MEMBERS
MAX_DOWNLOAD_BYTES_ENV = "KERAS_GENAI_MAX_DOWNLOAD_BYTES"
MAX_UNPACK_BYTES_ENV = "KERAS_GENAI_MAX_UNPACK_BYTES"
MAX_UNPACK_MEMBERS_ENV = "KERAS_GENAI_MAX_UNPACK_MEMBERS"
# A staging folder or partial download whose process is gone and that has not changed for this
# long is left over from a killed process (the age guards against a live process in another pid
# namespace sharing the cache); one unchanged for STALE_ANY_S is removed whatever its pid.
STALE_DEAD_PID_S = 600
STALE_ANY_S = 24 * 3600

_BLOCK = 1 << 20


def is_url(value):
    return isinstance(value, str) and urllib.parse.urlparse(value).scheme in URL_SCHEMES


def cache_dir():
    """Where downloads are kept: ``$KERAS_GENAI_CACHE`` or ``~/.keras/keras_genai``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".keras", "keras_genai")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, sha256, what):
    """Raises ``ChecksumError`` unless the file at ``path`` has the given sha256."""
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise ChecksumError(
            f"{what} at {path} has sha256 {actual}, expected {sha256}: the file is corrupted or "
            "was changed; nothing was loaded"
        )


def _checked_sha256(sha256, what):
    if not sha256:
        raise ValueError(f"a sha256 is required to load {what}; pass sha256=... (hex digest)")
    if not isinstance(sha256, str):
        raise ValueError(f"sha256 must be a string of 64 hexadecimal characters, got {sha256!r}")
    sha256 = sha256.lower()
    if len(sha256) != 64 or set(sha256) - set("0123456789abcdef"):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    return sha256


def _limit(value, env, default, what):
    """A positive integer bound: ``value`` if given, else ``$env`` if set, else ``default``."""
    source = "argument"
    if value is None:
        value, source = os.environ.get(env), f"${env}"
        if value in (None, ""):
            return default
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"{env} must be a positive integer ({what}), got {os.environ.get(env)!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} ({source}) must be a positive integer, got {value!r}")
    return value


def fetch(url, sha256, max_bytes=None):
    """Downloads ``url`` (https://, http:// or file://) once and returns the cached path.

    The sha256 is required and checked on every call; a cached file with the wrong hash is
    downloaded again. Each download goes to a private temporary file beside the cache entry
    and is renamed into place only after its sha256 matched, so processes fetching the same
    URL at once never see a partial file and leave exactly one good file; a download with
    the wrong hash is deleted and nothing is cached.

    ``max_bytes`` (default ``$KERAS_GENAI_MAX_DOWNLOAD_BYTES`` or ``MAX_DOWNLOAD_BYTES``, 2 GiB):
    a body that declares (Content-Length) or sends more is refused with ``PresetError`` as soon
    as that is known, and the partial file is deleted.
    """
    sha256 = _checked_sha256(sha256, url)
    max_bytes = _limit(max_bytes, MAX_DOWNLOAD_BYTES_ENV, MAX_DOWNLOAD_BYTES, "the download limit in bytes")
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    path = os.path.join(cache_dir(), "downloads", sha256[:16], name)
    _remove_stale(os.path.dirname(path), re.escape(f".{name}-"))  # partial downloads of killed processes
    if os.path.isfile(path) and not os.path.islink(path) and sha256_of(path) == sha256:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{name}-{os.getpid()}-", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            declared = response.headers.get("Content-Length")
            declared = int(declared) if declared and declared.strip().isdigit() else None
            if declared is not None and declared > max_bytes:
                raise PresetError(f"{url} is {declared} bytes, more than the download limit of {max_bytes} bytes "
                                  f"(raise it with ${MAX_DOWNLOAD_BYTES_ENV}); nothing was downloaded")
            received = 0
            for block in iter(lambda: response.read(_BLOCK), b""):
                received += len(block)
                if declared is not None and received > declared:
                    raise PresetError(f"{url} sent more than its Content-Length of {declared} bytes; "
                                      "nothing was loaded or cached")
                if received > max_bytes:
                    raise PresetError(f"{url} sent more than the download limit of {max_bytes} bytes (raise it "
                                      f"with ${MAX_DOWNLOAD_BYTES_ENV}); the download was stopped, nothing was "
                                      "cached")
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{url} has sha256 {digest.hexdigest()}, expected {sha256}; nothing was loaded "
                                "or cached")
        os.chmod(partial, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(partial, path)  # atomic: readers see the old good file or the new good file
    except BaseException as error:
        if os.path.exists(partial):
            os.remove(partial)
        if isinstance(error, (urllib.error.URLError, OSError, http.client.HTTPException)):
            raise OSError(f"could not download {url}: {error}") from error
        raise
    return path


def unpack_preset(archive, sha256, max_bytes=None, max_members=None):
    """The preset folder of a preset archive (.zip, .tar, .tar.gz), unpacked once into the cache.

    The archive holds the preset files at its top level or inside a single folder, and nothing
    but plain files and folders (no links or devices, no absolute or ``..`` names). On every call
    the archive is read once, into a private copy that must have ``sha256`` (else
    ``ChecksumError``) and is the one listed and unpacked; the cached folder
    ``presets/<sha16>`` must hold exactly the archive's files, byte for byte; anything else found
    there is replaced by a fresh unpack, so a planted or altered folder is never returned.

    Args:
        archive: path of the archive (``fetch``'s result).
        sha256: its expected sha256 (64 hex digits).
        max_bytes: the most bytes the members may hold together (default
            ``$KERAS_GENAI_MAX_UNPACK_BYTES`` or ``MAX_UNPACK_BYTES``, 1 GiB); checked against the
            declared sizes before anything is written and against the bytes actually unpacked.
        max_members: the most members (files and folders) (default
            ``$KERAS_GENAI_MAX_UNPACK_MEMBERS`` or ``MAX_UNPACK_MEMBERS``, 1000).
    Returns:
        The path of the preset folder (the one that holds metadata.json).
    Raises:
        PresetError: the archive breaks a bound or a rule above; nothing is left in the cache.
    """
    sha256 = _checked_sha256(sha256, archive)
    limits = (_limit(max_bytes, MAX_UNPACK_BYTES_ENV, MAX_UNPACK_BYTES, "the unpacked size limit in bytes"),
              _limit(max_members, MAX_UNPACK_MEMBERS_ENV, MAX_UNPACK_MEMBERS, "the member count limit"))
    key = sha256[:16]
    presets = os.path.join(cache_dir(), "presets")
    target = os.path.join(presets, key)
    os.makedirs(presets, exist_ok=True)
    with _verified_copy(archive, sha256, presets, prefix=f".{key}-{os.getpid()}-") as f:
        manifest = _read_archive(f, archive, limits)
        _remove_stale(presets, r"\.[0-9a-f]{16}-")  # staging and replaced folders of killed unpacks
        if not _folder_matches(target, manifest):
            staging = tempfile.mkdtemp(dir=presets, prefix=f".{key}-{os.getpid()}-")
            try:
                os.chmod(staging, 0o777 & ~_umask())  # mkdtemp creates 0700; a shared cache needs the umask's
                _read_archive(f, archive, limits, destination=staging)
                _publish(staging, target, manifest, presets, key)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    top = {name.split("/")[0] for name in manifest["files"]} | {name.split("/")[0] for name in manifest["dirs"]}
    visible = [name for name in top if not name.startswith(".")]
    if "metadata.json" not in manifest["files"] and len(visible) == 1 and visible[0] in manifest["dirs"]:
        return os.path.join(target, visible[0])
    return target


@contextlib.contextmanager
def _verified_copy(path, sha256, folder, prefix):
    """An open private copy of the file ``path``, made in one read of it and checked against
    ``sha256`` (``ChecksumError`` otherwise): what is checked is what the caller reads.

    The copy is an anonymous temporary file in ``folder`` (``tempfile.TemporaryFile``: no name
    another process could open, write or swap; where the system cannot make one nameless, it is
    named ``<prefix>...`` and unlinked at once), gone when the block ends.
    """
    with tempfile.TemporaryFile(dir=folder, prefix=prefix) as copy:
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(_BLOCK), b""):
                digest.update(block)
                copy.write(block)
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"preset archive {path} has sha256 {digest.hexdigest()}, expected {sha256}; "
                                "nothing was loaded")
        copy.flush()
        copy.seek(0)
        yield copy


def _read_archive(f, archive, limits, destination=None):
    """The members of the open archive ``f``: ``{"files": {name: (bytes, sha256)}, "dirs": set}``
    (names relative, "/"-separated); with ``destination``, also writes them there.

    Refuses (``PresetError``) links, devices, unsafe or repeated names, more than ``limits[1]``
    members, and more than ``limits[0]`` bytes, declared or read.
    """
    max_bytes, max_members = limits
    f.seek(0)
    files, dirs = {}, set()
    try:
        if zipfile.is_zipfile(f):
            f.seek(0)
            with zipfile.ZipFile(f) as z:
                infos = z.infolist()
                if len(infos) > max_members:
                    raise _too_many(archive, len(infos), max_members)
                declared = sum(info.file_size for info in infos)
                if declared > max_bytes:
                    raise _too_big(archive, f"its members declare {declared} bytes", max_bytes)
                members = []
                for info in infos:
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise _not_plain(archive, info.filename, "a symbolic link")
                    members.append((info.filename, info.is_dir(), info.file_size, lambda info=info: z.open(info)))
                return _unpack_members(members, archive, max_bytes, destination, files, dirs)
        f.seek(0)
        if not tarfile.is_tarfile(f):
            raise PresetError(f"{archive} is not a .zip or .tar(.gz) preset archive")
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:*") as t:
            def members():
                count, declared = 0, 0
                for member in t:  # streams the headers: a huge member list is refused early
                    count += 1
                    if count > max_members:
                        raise _too_many(archive, f"more than {max_members}", max_members)
                    if not (member.isfile() or member.isdir()):
                        raise _not_plain(archive, member.name, "a link or special file")
                    declared += member.size if member.isfile() else 0
                    if declared > max_bytes:
                        raise _too_big(archive, f"its members declare more than {max_bytes} bytes", max_bytes)
                    yield member.name, member.isdir(), member.size, lambda member=member: t.extractfile(member)

            return _unpack_members(members(), archive, max_bytes, destination, files, dirs)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
        raise PresetError(f"could not read preset archive {archive}: {error}") from error


def _unpack_members(members, archive, max_bytes, destination, files, dirs):
    total = 0
    for raw_name, is_dir, size, open_member in members:
        name = _member_name(raw_name, archive)
        if name is None:
            continue
        if name in files or name in dirs and not is_dir:
            raise PresetError(f"preset archive {archive} holds {raw_name!r} twice; nothing was unpacked")
        parents = name.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            parent = "/".join(parents[:depth])
            if parent in files:
                raise PresetError(f"preset archive {archive} holds {parent!r} as a file and as a folder")
            dirs.add(parent)
        if is_dir:
            if name in files:
                raise PresetError(f"preset archive {archive} holds {name!r} as a file and as a folder")
            dirs.add(name)
            if destination is not None:
                os.makedirs(os.path.join(destination, *name.split("/")), exist_ok=True)
            continue
        out = None
        if destination is not None:
            path = os.path.join(destination, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            out = open(path, "xb")
        digest, count = hashlib.sha256(), 0
        try:
            with open_member() as data:
                for block in iter(lambda: data.read(_BLOCK), b""):
                    count += len(block)
                    total += len(block)
                    if total > max_bytes:  # counted, not declared: headers can lie
                        raise _too_big(archive, f"it unpacks to more than {max_bytes} bytes (at {raw_name!r})",
                                       max_bytes)
                    digest.update(block)
                    if out is not None:
                        out.write(block)
        finally:
            if out is not None:
                out.close()
        files[name] = (count, digest.hexdigest())
    return {"files": files, "dirs": dirs}


def _member_name(raw_name, archive):
    """The "/"-separated relative name of an archive member; None for the archive's root."""
    if "\\" in raw_name or "\0" in raw_name or raw_name.startswith("/"):
        raise PresetError(f"preset archive {archive} holds {raw_name!r}, which is not a plain relative path; "
                          "nothing was unpacked")
    parts = [part for part in raw_name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PresetError(f"preset archive {archive} holds {raw_name!r}, which points outside the archive; "
                          "nothing was unpacked")
    return "/".join(parts) or None


def _folder_matches(folder, manifest):
    """Whether ``folder`` holds exactly the manifest's folders and plain files, with their sizes
    and sha256 (no symlinks, nothing else)."""
    if os.path.islink(folder) or not os.path.isdir(folder):
        return False
    found_files, found_dirs = [], set()
    for root, subfolders, names in os.walk(folder):
        for entry in subfolders + names:
            path = os.path.join(root, entry)
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                found_dirs.add(relative)
            elif stat.S_ISREG(mode):
                found_files.append(relative)
            else:
                return False  # a symlink (os.walk lists one to a folder among the folders) or a special file
    if found_dirs != manifest["dirs"] or set(found_files) != set(manifest["files"]):
        return False
    for relative, (size, sha256) in manifest["files"].items():
        path = os.path.join(folder, *relative.split("/"))
        if os.lstat(path).st_size != size or sha256_of(path) != sha256:
            return False
    return True


def _publish(staging, target, manifest, presets, key):
    """Moves the checked ``staging`` folder to ``target``, replacing whatever is there unless
    another process has just put the same good folder in place."""
    try:
        os.rename(staging, target)
        return
    except OSError:  # something is there: another process's good unpack, or a bad entry
        pass
    if _folder_matches(target, manifest):
        return
    trash = tempfile.mkdtemp(dir=presets, prefix=f".{key}-{os.getpid()}-", suffix=".old")
    try:
        os.rename(target, os.path.join(trash, "old"))
        try:
            os.rename(staging, target)
        except OSError:
            if not _folder_matches(target, manifest):
                raise PresetError(f"could not replace the bad cache entry {target}; remove it and try again") from None
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _remove_stale(folder, prefix):
    """Removes the entries ``<prefix><pid>-...`` in ``folder`` (``prefix``: a regular expression)
    that a killed process left: its pid no longer runs and the entry has not changed for
    ``STALE_DEAD_PID_S``, or it has not changed for ``STALE_ANY_S`` (this also removes
    ``<prefix>...`` entries without a pid, which older versions left)."""
    pattern = re.compile(prefix + r"(?:(\d+)-)?")
    now = time.time()
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        path = os.path.join(folder, entry)
        try:
            age = now - _newest_mtime(path)
        except OSError:
            continue  # removed meanwhile
        pid = match.group(1)
        if age > STALE_ANY_S or (pid and age > STALE_DEAD_PID_S and not _pid_alive(int(pid))):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    pass


def _newest_mtime(path):
    newest = os.lstat(path).st_mtime
    if os.path.isdir(path) and not os.path.islink(path):
        for root, subfolders, names in os.walk(path):
            for entry in subfolders + names:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, entry)).st_mtime)
                except OSError:
                    pass
    return newest


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # no process has such a pid
    except OSError:
        return True  # another user's process (PermissionError), or not ours to judge
    return True


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _too_big(archive, what, max_bytes):
    return PresetError(f"preset archive {archive} is refused: {what}, over the limit of {max_bytes} bytes "
                       f"(raise it with max_bytes=... or ${MAX_UNPACK_BYTES_ENV}); nothing was unpacked")


def _too_many(archive, count, max_members):
    return PresetError(f"preset archive {archive} is refused: it has {count} members, over the limit of "
                       f"{max_members} (raise it with max_members=... or ${MAX_UNPACK_MEMBERS_ENV}); nothing was "
                       "unpacked")


def _not_plain(archive, name, what):
    return PresetError(f"preset archive {archive} is refused: {name!r} is {what}; a preset archive holds only "
                       "plain files and folders; nothing was unpacked")
