"""Issue 19 hardening of the registry: a pinned archive's cache entry is checked on every use,
unpacking and downloading are bounded, malformed presets give a PresetError naming the field,
and names neither replace a shipped preset nor silently shadow a local folder."""

import contextlib
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import warnings
import zipfile

import keras
import numpy as np
import pytest

from keras_genai import zoo
from keras_genai.models import dcgan
from keras_genai.zoo import preset, registry, remote


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def tiny_preset(tiny_gan, tmp_path):
    folder = tmp_path / "tiny_preset"
    zoo.save_preset(tiny_gan, folder, {"name": "tiny", "family": "gan", "description": "test preset"},
                    samples=False)
    return folder


@pytest.fixture
def other_preset(tmp_path):
    """A preset of the same architecture as ``tiny_preset`` with other weights."""
    keras.utils.set_random_seed(1)
    model = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    model.compile()
    folder = tmp_path / "other_preset"
    zoo.save_preset(model, folder, {"name": "planted", "family": "gan", "description": "not the pinned one"},
                    samples=False)
    return folder


def _tar(folder, path, arcname="tiny"):
    with tarfile.open(path, "w:gz") as t:
        t.add(folder, arcname=arcname)
    return path, _sha256(path)


def _tree(folder):
    """{relative path: bytes} of every file under ``folder`` (symlinks listed as such)."""
    found = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[relative] = "symlink"
            elif os.path.isfile(path):
                found[relative] = open(path, "rb").read()
    return found


def _presets_cache(tmp_path):
    return tmp_path / "cache" / "presets"


@contextlib.contextmanager
def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _payload_handler(payload, content_length=None, chunk=1 << 16):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes

        def do_GET(self):
            self.send_response(200)
            if content_length is not None:
                self.send_header("Content-Length", str(content_length))
            self.end_headers()
            try:
                for start in range(0, len(payload), chunk):
                    self.wfile.write(payload[start:start + chunk])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading

        def log_message(self, *args):
            pass

    return Handler


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# 1. Cache trust -------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["file", "http"])
def test_a_planted_cache_entry_is_never_loaded_for_a_pinned_archive(scheme, tiny_gan, tiny_preset, other_preset,
                                                                     tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    planted = _presets_cache(tmp_path) / sha[:16] / "tiny"
    shutil.copytree(other_preset, planted)
    with contextlib.ExitStack() as stack:
        if scheme == "file":
            url = archive.as_uri()
        else:
            directory = str(tmp_path)

            class Handler(http.server.SimpleHTTPRequestHandler):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, directory=directory, **kwargs)

                def log_message(self, *args):
                    pass

            url = f"{stack.enter_context(_serve(Handler))}/{archive.name}"
        model = zoo.load(url, sha256=sha, compile=False)
    genuine = tiny_gan.sample(4, seed=3)
    np.testing.assert_array_equal(model.sample(4, seed=3), genuine)
    assert json.loads((planted / "metadata.json").read_text())["name"] == "tiny"  # the entry was rebuilt
    assert _tree(planted) == _tree(tiny_preset)


def test_a_cache_entry_that_is_a_symlink_to_a_planted_folder_is_replaced(tiny_preset, other_preset, tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    planted = tmp_path / "planted"
    shutil.copytree(other_preset, planted / "tiny")
    _presets_cache(tmp_path).mkdir(parents=True)
    os.symlink(planted, _presets_cache(tmp_path) / sha[:16])
    folder = registry.resolve(archive.as_uri(), sha)
    assert not os.path.islink(_presets_cache(tmp_path) / sha[:16])
    assert _tree(folder) == _tree(tiny_preset)
    assert _tree(planted / "tiny") == _tree(other_preset)  # the link was replaced; what it pointed to is untouched


def _change_weights_consistently(folder, replacement):
    """Swaps in other weights and fixes metadata.json's sha256 too, so the preset's own check passes."""
    shutil.copy(replacement / "model.weights.h5", folder / "model.weights.h5")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["weights"]["sha256"] = _sha256(folder / "model.weights.h5")
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("alteration", ["changed", "extra", "missing", "symlink", "subfolder"])
def test_an_altered_cache_entry_is_rebuilt(alteration, tiny_preset, other_preset, tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    folder = registry.resolve(archive.as_uri(), sha)
    entry = _presets_cache(tmp_path) / sha[:16] / "tiny"
    assert os.path.samefile(folder, entry) and _tree(entry) == _tree(tiny_preset)
    if alteration == "changed":
        _change_weights_consistently(entry, other_preset)
    elif alteration == "extra":
        (entry / ".hidden.py").write_text("print('planted')")
    elif alteration == "missing":
        (entry / "README.md").unlink()
    elif alteration == "symlink":  # same bytes, but a link that could be pointed elsewhere later
        shutil.copy(entry / "config.json", tmp_path / "elsewhere.json")
        (entry / "config.json").unlink()
        os.symlink(tmp_path / "elsewhere.json", entry / "config.json")
    else:
        (entry / "extra_folder").mkdir()
    assert _tree(entry) != _tree(tiny_preset) or alteration == "subfolder"
    again = registry.resolve(archive.as_uri(), sha)
    assert os.path.samefile(again, entry)
    assert _tree(entry) == _tree(tiny_preset) and not (entry / "extra_folder").exists()
    assert not [name for name in os.listdir(_presets_cache(tmp_path)) if name.startswith(".")]


def test_a_swapped_cached_archive_is_downloaded_again(tiny_preset, other_preset, tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    cached = remote.fetch(archive.as_uri(), sha)
    _tar(other_preset, cached)  # the cache's copy of the archive is replaced by another one
    folder = registry.resolve(archive.as_uri(), sha)
    assert _sha256(cached) == sha and _tree(folder) == _tree(tiny_preset)


def test_the_archive_unpacked_is_the_one_checked_read_once(tiny_preset, other_preset, tmp_path, monkeypatch):
    """The archive is rewritten in place right after its bytes were hashed: what is unpacked must
    still be the archive that was checked, and the archive is opened and read once."""
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    planted, _ = _tar(other_preset, tmp_path / "planted.tar.gz")
    reads = {"opens": 0, "bytes": 0}
    real_open = open

    class RewrittenAfterItsEnd:
        def __init__(self, f):
            self._f, self._rewritten = f, False

        def read(self, *size):
            data = self._f.read(*size)
            reads["bytes"] += len(data)
            if not data and not self._rewritten:  # hashed to its end: now the file changes under it
                self._rewritten = True
                with real_open(archive, "r+b") as out:
                    out.write(planted.read_bytes())
                    out.truncate()
            return data

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *error):
            self._f.close()

    def watched_open(path, *args, **kwargs):
        f = real_open(path, *args, **kwargs)
        if os.fspath(path) == str(archive):
            reads["opens"] += 1
            return RewrittenAfterItsEnd(f)
        return f

    size = archive.stat().st_size
    monkeypatch.setattr(remote, "open", watched_open, raising=False)
    folder = remote.unpack_preset(str(archive), sha)
    assert _tree(folder) == _tree(tiny_preset)
    assert reads == {"opens": 1, "bytes": size}
    monkeypatch.undo()
    with pytest.raises(zoo.ChecksumError):  # the rewritten archive itself is refused on the next use
        remote.unpack_preset(str(archive), sha)


# 2. Bounds ------------------------------------------------------------------------------------

def _zeros_tar(path, size, count=1):
    with tarfile.open(path, "w:gz") as t:
        for index in range(count):
            info = tarfile.TarInfo(f"bomb/part{index}.bin")
            info.size = size
            t.addfile(info, io.BytesIO(bytes(size)))
        meta = json.dumps({"name": "bomb"}).encode()
        info = tarfile.TarInfo("bomb/metadata.json")
        info.size = len(meta)
        t.addfile(info, io.BytesIO(meta))
    return path, _sha256(path)


def _zeros_zip(path, size, count=1):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for index in range(count):
            z.writestr(f"bomb/part{index}.bin", bytes(size))
        z.writestr("bomb/metadata.json", json.dumps({"name": "bomb"}))
    return path, _sha256(path)


def _cache_is_empty_of_unpacked_files(tmp_path):
    presets = _presets_cache(tmp_path)
    return not presets.exists() or os.listdir(presets) == []


@pytest.mark.parametrize("make", [_zeros_tar, _zeros_zip])
def test_an_archive_that_unpacks_past_the_bound_is_refused_and_leaves_nothing(make, tmp_path):
    archive, sha = make(tmp_path / ("bomb.tar.gz" if make is _zeros_tar else "bomb.zip"), 3 << 20)
    assert archive.stat().st_size < 100_000  # a small archive ...
    with pytest.raises(zoo.PresetError, match=r"over the limit of 1048576 bytes.*max_bytes"):
        remote.unpack_preset(str(archive), sha, max_bytes=1 << 20)  # ... of 3 MB of zeros
    assert _cache_is_empty_of_unpacked_files(tmp_path)
    assert os.path.isdir(remote.unpack_preset(str(archive), sha, max_bytes=4 << 20))  # within a larger bound


def test_the_unpack_bound_applies_to_zoo_load_through_its_environment_variable(monkeypatch, tmp_path):
    archive, sha = _zeros_tar(tmp_path / "bomb.tar.gz", 3 << 20)
    monkeypatch.setenv("KERAS_GENAI_MAX_UNPACK_BYTES", str(1 << 20))
    with pytest.raises(zoo.PresetError, match="KERAS_GENAI_MAX_UNPACK_BYTES"):
        zoo.load(archive.as_uri(), sha256=sha)
    assert _cache_is_empty_of_unpacked_files(tmp_path)
    monkeypatch.setenv("KERAS_GENAI_MAX_UNPACK_BYTES", "lots")
    with pytest.raises(ValueError, match="must be a positive integer"):
        zoo.load(archive.as_uri(), sha256=sha)


def test_a_zip_whose_headers_understate_its_sizes_is_refused(tmp_path):
    archive = tmp_path / "liar.zip"
    _zeros_zip(archive, 3 << 20)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("bomb/part0.bin")
        offset = info.header_offset
    # Uncompressed size: at 22 in the local header, at 24 in the central directory entry.
    data[offset + 22:offset + 26] = (1000).to_bytes(4, "little")
    central = data.index(b"PK\x01\x02")
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    sha = _sha256(archive)
    with pytest.raises(zoo.PresetError):  # zipfile stops at the declared size, and the CRC then fails
        remote.unpack_preset(str(archive), sha, max_bytes=1 << 20)
    assert _cache_is_empty_of_unpacked_files(tmp_path)


@pytest.mark.parametrize("make", [_zeros_tar, _zeros_zip])
def test_an_archive_with_too_many_members_is_refused(make, tmp_path):
    archive, sha = make(tmp_path / ("many.tar.gz" if make is _zeros_tar else "many.zip"), 1, count=30)
    with pytest.raises(zoo.PresetError, match="members, over the limit of 10"):
        remote.unpack_preset(str(archive), sha, max_members=10)
    assert _cache_is_empty_of_unpacked_files(tmp_path)


def test_archives_with_links_or_escaping_names_are_refused(tiny_preset, tmp_path):
    linked = tmp_path / "linked.tar.gz"
    with tarfile.open(linked, "w:gz") as t:
        t.add(tiny_preset, arcname="tiny")
        info = tarfile.TarInfo("tiny/link.h5")
        info.type, info.linkname = tarfile.SYMTYPE, "model.weights.h5"
        t.addfile(info)
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as z:
        z.writestr("tiny/metadata.json", "{}")
        z.writestr("../outside.txt", "x")
    for archive, message in ((linked, "link"), (escaping, "outside the archive")):
        with pytest.raises(zoo.PresetError, match=message):
            remote.unpack_preset(str(archive), _sha256(archive))
    assert _cache_is_empty_of_unpacked_files(tmp_path) and not (tmp_path / "cache" / "outside.txt").exists()


def _downloads_are_empty(tmp_path):
    downloads = tmp_path / "cache" / "downloads"
    return [f for _, _, names in os.walk(downloads) for f in names] == [] if downloads.exists() else True


def test_a_download_without_content_length_is_stopped_at_the_bound(monkeypatch, tmp_path):
    payload = os.urandom(3 << 20)
    monkeypatch.setenv("KERAS_GENAI_MAX_DOWNLOAD_BYTES", str(1 << 20))
    with _serve(_payload_handler(payload)) as base:
        with pytest.raises(zoo.PresetError, match="download limit of 1048576 bytes"):
            remote.fetch(f"{base}/big.tar.gz", hashlib.sha256(payload).hexdigest())  # the right sha256, too big
    assert _downloads_are_empty(tmp_path)


def test_a_download_that_declares_more_than_the_bound_is_refused_before_reading(tmp_path):
    started = time.monotonic()
    with _serve(_payload_handler(b"x" * 1000, content_length=(2 << 30) + 1)) as base:  # past the 2 GiB default
        with pytest.raises(zoo.PresetError, match="more than the download limit"):
            remote.fetch(f"{base}/huge.tar.gz", "0" * 64)
    assert time.monotonic() - started < 30 and _downloads_are_empty(tmp_path)


def test_a_file_url_past_the_bound_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(2 << 20))
    with pytest.raises(zoo.PresetError, match="more than the download limit"):
        remote.fetch(big.as_uri(), _sha256(big), max_bytes=1 << 20)
    assert _downloads_are_empty(tmp_path)


def test_a_body_longer_than_its_content_length_is_cut_off_there(tiny_preset, tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    genuine = archive.read_bytes()
    with _serve(_payload_handler(genuine + os.urandom(2 << 20), content_length=len(genuine))) as base:
        path = remote.fetch(f"{base}/tiny.tar.gz", sha)
    assert os.path.getsize(path) == len(genuine)
    with _serve(_payload_handler(genuine + b"tail", content_length=len(genuine) + 4)) as base:
        with pytest.raises(zoo.ChecksumError):  # what the server sent is not the pinned archive
            remote.fetch(f"{base}/other.tar.gz", sha)
    assert [f for _, _, names in os.walk(tmp_path / "cache" / "downloads") for f in names] == ["tiny.tar.gz"]


def test_staging_left_by_killed_processes_is_removed_by_the_next_unpack(tiny_preset, tmp_path):
    archive, sha = _tar(tiny_preset, tmp_path / "tiny.tar.gz")
    presets = _presets_cache(tmp_path)
    an_hour_ago = time.time() - 3600
    dead, alive = _dead_pid(), os.getpid()

    def plant(name, age=an_hour_ago):
        folder = presets / name / "tiny"
        folder.mkdir(parents=True)
        (folder / "model.weights.h5").write_bytes(bytes(1 << 16))
        for path in (folder / "model.weights.h5", folder, folder.parent):
            os.utime(path, (age, age))
        return folder.parent

    stale = plant(f".{sha[:16]}-{dead}-abcd1234")
    stale_other_archive = plant(f".{'e' * 16}-{dead}-abcd1234.old")
    stale_old_style = plant(f".{sha[:16]}-abcd1234", age=time.time() - 2 * 86400)
    running = plant(f".{sha[:16]}-{alive}-abcd1234")
    fresh = plant(f".{sha[:16]}-{dead}-efgh5678", age=time.time())  # may be a live unpack in another pid namespace
    downloads = tmp_path / "cache" / "downloads" / sha[:16]
    downloads.mkdir(parents=True)
    partial = downloads / f".tiny.tar.gz-{dead}-abcd1234.part"
    partial.write_bytes(bytes(1 << 16))
    os.utime(partial, (an_hour_ago, an_hour_ago))

    folder = registry.resolve(archive.as_uri(), sha)
    assert _tree(folder) == _tree(tiny_preset)
    assert not stale.exists() and not stale_other_archive.exists() and not stale_old_style.exists()
    assert running.exists() and fresh.exists()
    assert not partial.exists()


# 3. Malformed presets -------------------------------------------------------------------------

def _edit_metadata(folder, edit):
    meta = json.loads((folder / "metadata.json").read_text())
    edit(meta)
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("edit,field", [
    (lambda meta: meta["weights"].update(sha256=12345), "weights.sha256"),
    (lambda meta: meta["weights"].update(sha256="abc"), "weights.sha256"),
    (lambda meta: meta["weights"].update(sha256=None), "weights.sha256"),
    (lambda meta: meta.update(weights="model.weights.h5"), "'weights' must be an object"),
    (lambda meta: meta["weights"].update(file=7), "weights.file"),
    (lambda meta: meta["weights"].update(bytes="big"), "weights.bytes"),
    (lambda meta: meta.update(dataset=["mnist"]), "'dataset' must be an object"),
    (lambda meta: meta.update(training="long"), "'training' must be an object"),
    (lambda meta: meta.update(metrics=3), "'metrics' must be an object"),
    (lambda meta: meta.update(name=["tiny"]), "'name' must be a string"),
])
def test_malformed_metadata_gives_a_preset_error_naming_the_field(edit, field, tiny_preset):
    _edit_metadata(tiny_preset, edit)
    for call in (zoo.load, zoo.info):
        with pytest.raises(zoo.PresetError, match=field) as error:
            call(str(tiny_preset))
        assert "metadata.json" in str(error.value)


@pytest.mark.parametrize("text,message", [
    ("[1, 2, 3]", "must hold a JSON object, got a list"),
    ('"tiny"', "must hold a JSON object, got a string"),
    ("{not json", "is not valid JSON"),
    (b"\xff\xfe{}", "is not valid JSON"),
])
def test_metadata_that_is_not_a_json_object_gives_a_preset_error(text, message, tiny_preset):
    path = tiny_preset / "metadata.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(zoo.PresetError, match=message) as error:
        zoo.load(str(tiny_preset))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_a_deeply_nested_config_gives_a_preset_error(depth, tiny_preset):
    config = json.loads((tiny_preset / "config.json").read_text())
    text = json.dumps(config)
    nested = "[" * depth + "]" * depth
    (tiny_preset / "config.json").write_text(text[:-1] + f', "extra": {nested}}}')
    with pytest.raises(zoo.PresetError, match="config.json nests") as error:
        zoo.load(str(tiny_preset))
    assert not isinstance(error.value, RecursionError)
    with pytest.raises(zoo.PresetError, match="config.json nests"):
        zoo.training_recipe(str(tiny_preset))


def test_a_config_that_is_not_a_model_config_gives_a_preset_error(tiny_preset):
    (tiny_preset / "config.json").write_text('{"class_name": "GAN", "config": [1]}')
    with pytest.raises(zoo.PresetError, match="not a Keras model config"):
        zoo.load(str(tiny_preset))


@pytest.mark.parametrize("where", ["absolute", "dotdot", "subfolder"])
def test_weights_outside_the_preset_folder_are_refused(where, tiny_preset, other_preset, tmp_path):
    outside = tmp_path / "outside.weights.h5"
    shutil.copy(other_preset / "model.weights.h5", outside)  # loadable weights: without the rule they would load
    file_name = {"absolute": str(outside), "dotdot": "../outside.weights.h5", "subfolder": "sub/model.weights.h5"}
    _edit_metadata(tiny_preset, lambda meta: meta["weights"].update(file=file_name[where], sha256=_sha256(outside)))
    with pytest.raises(zoo.PresetError, match="weights.file"):
        zoo.load(str(tiny_preset))
    with pytest.raises(zoo.PresetError, match="weights.file"):
        zoo.info(str(tiny_preset))


def test_a_weights_symlink_that_leads_outside_the_folder_is_refused(tiny_preset, other_preset, tmp_path):
    outside = tmp_path / "outside.weights.h5"
    shutil.copy(other_preset / "model.weights.h5", outside)
    (tiny_preset / "model.weights.h5").unlink()
    os.symlink(outside, tiny_preset / "model.weights.h5")
    _edit_metadata(tiny_preset, lambda meta: meta["weights"].update(sha256=_sha256(outside)))
    with pytest.raises(zoo.PresetError, match="leads outside the preset folder"):
        zoo.load(str(tiny_preset))


def test_a_preset_folder_reached_through_a_symlink_still_loads(tiny_gan, tiny_preset, tmp_path):
    os.symlink(tiny_preset, tmp_path / "linked_preset")
    model = zoo.load(str(tmp_path / "linked_preset"), compile=False)
    np.testing.assert_array_equal(model.sample(2, seed=0), tiny_gan.sample(2, seed=0))


def test_a_weights_sha256_of_the_wrong_type_is_refused(tiny_preset):
    with pytest.raises(ValueError, match="64 hexadecimal"):
        zoo.load(str(tiny_preset), weights=str(tiny_preset / "model.weights.h5"), weights_sha256=123)


def test_every_shipped_preset_passes_the_metadata_rules():
    for name in zoo.list():
        folder = registry.resolve(name)
        preset.validate_metadata(preset.read_json(folder, preset.METADATA_FILE))
        preset.read_json(folder, preset.CONFIG_FILE)
        assert os.path.dirname(preset.weights_path(folder, zoo.info(name))) == folder


# 4. Names -------------------------------------------------------------------------------------

def test_registering_a_shipped_or_taken_name_needs_overwrite(tiny_gan, tiny_preset, other_preset):
    with pytest.raises(ValueError, match="'dcgan_mnist' is a shipped preset.*overwrite=True"):
        zoo.register("dcgan_mnist", str(tiny_preset))
    assert zoo.info("dcgan_mnist")["name"] == "dcgan_mnist"
    zoo.register("dcgan_mnist", str(tiny_preset), overwrite=True)
    np.testing.assert_array_equal(zoo.load("dcgan_mnist", compile=False).sample(2, seed=0),
                                  tiny_gan.sample(2, seed=0))

    zoo.register("mine", str(tiny_preset))
    zoo.register("mine", str(tiny_preset))  # the same again: fine
    with pytest.raises(ValueError, match="'mine' is already registered.*overwrite=True"):
        zoo.register("mine", str(other_preset))
    assert zoo.info("mine")["name"] == "tiny"
    zoo.register("mine", str(other_preset), overwrite=True)
    assert zoo.info("mine")["name"] == "planted"


@pytest.mark.parametrize("name", ["", "a/b", "./x", "https://example.com/x.tar.gz", 7])
def test_a_preset_name_must_be_a_plain_name(name, tiny_preset):
    with pytest.raises(ValueError, match="plain name"):
        zoo.register(name, str(tiny_preset))


def test_a_local_folder_shadowed_by_a_shipped_name_is_named_in_a_warning(tiny_preset, tmp_path, monkeypatch):
    shutil.copytree(tiny_preset, tmp_path / "gan_mnist")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match=r"shipped preset 'gan_mnist'.*not the folder .*gan_mnist.*pass './gan_mnist'"):
        meta = zoo.info("gan_mnist")
    assert meta["name"] == "gan_mnist" and meta["path"] == os.path.join(registry.builtin_root(), "gan_mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.info("./gan_mnist")["name"] == "tiny"
        assert zoo.info(str(tmp_path / "gan_mnist"))["name"] == "tiny"
        zoo.info("dcgan_mnist")  # no folder of that name here
        monkeypatch.chdir(registry.builtin_root())
        zoo.info("gan_mnist")  # the folder in the working directory is the shipped preset itself
