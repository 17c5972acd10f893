"""Files behind URLs: downloaded once into a cache and checked against a sha256."""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from keras_genai import files
from keras_genai.zoo.errors import ChecksumError

CACHE_ENV = "KERAS_GENAI_CACHE"
URL_SCHEMES = ("https", "http", "file")
DOWNLOAD_TIMEOUT_S = 60


def is_url(value):
    return isinstance(value, str) and urllib.parse.urlparse(value).scheme in URL_SCHEMES


def cache_dir():
    """Where downloads are kept: ``$KERAS_GENAI_CACHE`` or ``~/.keras/keras_genai``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".keras", "keras_genai")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
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


def fetch(url, sha256):
    """Downloads ``url`` (https://, http:// or file://) once and returns the cached path.

    The sha256 is required and checked on every call; a cached file with the wrong hash is
    downloaded again. Each download goes to a private temporary file beside the cache entry
    and is renamed into place only after its sha256 matched, so processes fetching the same
    URL at once never see a partial file and leave exactly one good file; a download with
    the wrong hash is deleted and nothing is cached.
    """
    if not sha256:
        raise ValueError(f"a sha256 is required to load {url}; pass sha256=... (hex digest)")
    sha256 = sha256.lower()
    if len(sha256) != 64 or set(sha256) - set("0123456789abcdef"):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    path = os.path.join(cache_dir(), "downloads", sha256[:16], name)
    if os.path.isfile(path) and sha256_of(path) == sha256:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{name}-", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{url} has sha256 {digest.hexdigest()}, expected {sha256}; nothing was loaded "
                                "or cached")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(partial, path)  # atomic: readers see the old good file or the new good file
    except BaseException as error:
        if os.path.exists(partial):
            os.remove(partial)
        if isinstance(error, (urllib.error.URLError, OSError)) and not isinstance(error, ChecksumError):
            raise OSError(f"could not download {url}: {error}") from error
        raise
    return path


def unpack_preset(archive, sha256):
    """Extracts a preset archive (.zip, .tar, .tar.gz) once; returns the preset folder.

    The archive holds the preset files at its top level or inside a single folder.
    """
    target = os.path.join(cache_dir(), "presets", sha256.lower()[:16])
    if not os.path.isdir(target):
        staging = files.staging_folder(target)
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as z:
                    z.extractall(staging)
            elif tarfile.is_tarfile(archive):
                with tarfile.open(archive) as t:
                    t.extractall(staging, filter="data")
            else:
                raise ValueError(f"{archive} is not a .zip or .tar(.gz) preset archive")
            try:
                os.rename(staging, target)
            except OSError:  # another process unpacked it first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    entries = [e for e in os.listdir(target) if not e.startswith(".")]
    if "metadata.json" not in entries and len(entries) == 1:
        return os.path.join(target, entries[0])
    return target
