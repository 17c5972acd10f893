"""--overwrite replaces only what is itself a preset or an export; every file is written whole or
not at all; a replaced folder comes back when its replacement fails (issue 19, items 3, 5, 8)."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_genai import cli, export, files, zoo
from keras_genai.zoo import preset


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _listing(folder):
    """The names in ``folder``, hidden ones included, but not the test's cache folder."""
    return sorted(name for name in os.listdir(folder) if name != "cache")


def _tree(folder):
    """{relative path: sha256} of every file under ``folder``, hidden ones included."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = _sha256(path)
    return found


@pytest.fixture
def tiny_preset(tiny_gan, tmp_path):
    folder = tmp_path / "tiny_preset"
    zoo.save_preset(tiny_gan, folder, {"name": "tiny", "family": "gan", "description": "test preset"})
    return folder


@pytest.fixture
def user_folder(tmp_path):
    """A folder of someone's own files (not a preset, not an export)."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    (folder / "metadata.json").write_text('{"mine": true}')
    return folder


# check_replaceable


def test_a_missing_target_is_fine_and_an_existing_one_needs_overwrite(tiny_preset, tmp_path):
    files.check_replaceable(tmp_path / "new", False, "preset")
    with pytest.raises(FileExistsError, match=r"exists; pass overwrite=True \(CLI: --overwrite\)"):
        files.check_replaceable(tiny_preset, False, "preset")
    files.check_replaceable(tiny_preset, True, "preset")
    with pytest.raises(ValueError, match="kind must be one of"):
        files.check_replaceable(tiny_preset, True, "folder")


def test_overwrite_refuses_a_folder_holding_other_files(user_folder, tiny_preset):
    with pytest.raises(ValueError, match=r"not a preset \(it holds data, notes.txt\)"):
        files.check_replaceable(user_folder, True, "preset")
    (tiny_preset / "my_plot.png").write_bytes(b"png")
    with pytest.raises(ValueError, match="it holds my_plot.png"):
        files.check_replaceable(tiny_preset, True, "preset")
    os.remove(tiny_preset / "my_plot.png")
    os.remove(tiny_preset / "metadata.json")
    with pytest.raises(ValueError, match="it has no metadata.json"):
        files.check_replaceable(tiny_preset, True, "preset")


def test_overwrite_refuses_the_current_directory_its_parents_and_protected_paths(tiny_preset, monkeypatch):
    monkeypatch.chdir(tiny_preset)  # a preset folder, but the one the user is working in
    with pytest.raises(ValueError, match="it is the current directory"):
        files.check_replaceable(".", True, "preset")
    with pytest.raises(ValueError, match="a parent of the current directory"):
        files.check_replaceable("..", True, "preset")
    monkeypatch.chdir(tiny_preset.parent)
    with pytest.raises(ValueError, match="which this run needs"):
        files.check_replaceable(tiny_preset, True, "preset", protected=(tiny_preset / "model.weights.h5",))
    files.check_replaceable(tiny_preset, True, "preset", protected=(tiny_preset.parent / "workdir",))


def test_overwrite_refuses_symbolic_links(tiny_preset, tmp_path):
    os.symlink(tiny_preset, tmp_path / "link")
    with pytest.raises(ValueError, match="symbolic link"):
        files.check_replaceable(tmp_path / "link", True, "preset")


# save_preset and exports


def test_save_preset_overwrite_keeps_a_users_folder_whole(tiny_gan, user_folder):
    before, around = _tree(user_folder), sorted(os.listdir(user_folder.parent))
    with pytest.raises(ValueError, match="refusing to replace"):
        zoo.save_preset(tiny_gan, user_folder, {"name": "tiny", "family": "gan"}, overwrite=True)
    assert _tree(user_folder) == before
    assert sorted(os.listdir(user_folder.parent)) == around  # no staging folder either


def test_save_preset_overwrite_replaces_a_real_preset(tiny_gan, tiny_preset):
    tiny_gan.generator.set_weights([w + 0.01 for w in tiny_gan.generator.get_weights()])
    zoo.save_preset(tiny_gan, tiny_preset, {"name": "tiny2", "family": "gan"}, overwrite=True)
    assert json.loads((tiny_preset / "metadata.json").read_text())["name"] == "tiny2"
    np.testing.assert_array_equal(zoo.load(str(tiny_preset)).sample(3, seed=1), tiny_gan.sample(3, seed=1))
    assert _listing(tiny_preset.parent) == ["tiny_preset"]  # no trash, no staging


def test_saved_model_overwrite_refuses_a_folder_that_is_not_an_export(tiny_gan, tmp_path):
    version = tmp_path / "m" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"x")
    (version / "results.csv").write_text("keep")
    with pytest.raises(ValueError, match=r"not a saved model \(it holds results.csv\)"):
        export.saved_model(tiny_gan, tmp_path / "m", overwrite=True)
    assert sorted(os.listdir(version)) == ["results.csv", "saved_model.pb"]
    assert sorted(os.listdir(tmp_path / "m")) == ["1"]
    os.remove(version / "results.csv")
    os.makedirs(version / "variables")
    (version / "variables" / "my.ckpt").write_text("keep")
    with pytest.raises(ValueError, match="variables/my.ckpt"):
        export.saved_model(tiny_gan, tmp_path / "m", overwrite=True)


def test_tflite_overwrite_replaces_only_a_litert_file_and_follows_the_umask(tiny_gan, tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"keep me, I am not a flatbuffer")
    with pytest.raises(ValueError, match="not a LiteRT flatbuffer"):
        export.tflite(tiny_gan, tmp_path / "m.tflite", overwrite=True)
    assert (tmp_path / "m.tflite").read_bytes() == b"keep me, I am not a flatbuffer"
    previous = os.umask(0o022)
    try:
        path = export.tflite(tiny_gan, tmp_path / "n.tflite")
        export.tflite(tiny_gan, path, overwrite=True, batch_size=2)  # a real LiteRT file: replaced
    finally:
        os.umask(previous)
    assert os.stat(path).st_mode & 0o777 == 0o644  # readable by a serving container of another user
    assert _listing(tmp_path) == ["m.tflite", "n.tflite"]  # no .part left


# CLI


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
def test_train_output_dot_overwrite_keeps_the_users_files(user_folder):
    before = _tree(user_folder)
    result = subprocess.run([sys.executable, "-m", "keras_genai.cli", "train", "gan_mnist", "--output", ".",
                             "--overwrite", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8"],
                            capture_output=True, text=True, cwd=user_folder)
    assert result.returncode == 1 and "refusing to replace" in result.stderr, result.stderr[-2000:]
    assert _tree(user_folder) == before


def test_export_overwrite_into_a_folder_that_is_not_an_export_writes_nothing(tiny_preset, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "1").mkdir(parents=True)
    (out / "1" / "notes.txt").write_text("mine")
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--overwrite", "--no-check")
    assert code == 1 and "refusing to replace" in err and "notes.txt" in err
    assert _tree(out) == {os.path.join("1", "notes.txt"): _sha256(out / "1" / "notes.txt")}


def test_export_checks_every_argument_and_target_before_writing(tiny_preset, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--quantize", "float16,bogus")
    assert code == 1 and "unknown variant(s) 'bogus'" in err
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--quantize", " , ")
    assert code == 1 and "lists no variant" in err
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--tflite-batch-size", "0")
    assert code == 1 and "batch_size must be None or a positive integer" in err
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--version", "0")
    assert code == 1 and "positive integer" in err
    assert not out.exists()
    out.mkdir()
    (out / "model_float16.tflite").write_bytes(b"an older export")
    code, err = _cli(capsys, "export", tiny_preset, "--output", out, "--no-check")
    assert code == 1 and "--overwrite" in err
    assert sorted(os.listdir(out)) == ["model_float16.tflite"]  # the SavedModel was not written first


def test_sample_checks_both_outputs_before_sampling(tiny_preset, tmp_path, capsys):
    png = tmp_path / "s.png"
    code, err = _cli(capsys, "sample", tiny_preset, "-n", "4", "--output", png, "--npy", tmp_path / "missing" / "x.npy")
    assert code == 1 and "does not exist; create it first" in err
    code, err = _cli(capsys, "sample", tiny_preset, "-n", "4", "--output", tmp_path, "--npy", tmp_path / "x.npy")
    assert code == 1 and "is a folder" in err
    code, err = _cli(capsys, "sample", tiny_preset, "-n", "4", "--output", tmp_path / "s.xyz")
    assert code == 1 and "cannot write images as .xyz" in err
    assert _listing(tmp_path) == ["tiny_preset"]
    code, err = _cli(capsys, "sample", tiny_preset, "-n", "4", "--seed", "3", "--output", png, "--npy", tmp_path / "x")
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), zoo.load(str(tiny_preset)).sample(4, seed=3))
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


@pytest.mark.parametrize("command", [("evaluate", "dcgan_mnist"), ("floor", "mnist")])
def test_evaluation_checks_its_json_output_before_evaluating(command, tmp_path, capsys, monkeypatch):
    from keras_genai.metrics import evaluate

    def never(*args, **kwargs):
        raise AssertionError("evaluated before checking --output")

    monkeypatch.setattr(evaluate, "evaluate", never)
    monkeypatch.setattr(evaluate, "real_data_floor", never)
    code, err = _cli(capsys, *command, "--num-samples", "100", "--output", tmp_path / "missing" / "r.json")
    assert code == 1 and "does not exist; create it first" in err
    assert _listing(tmp_path) == []


# atomic files


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with files.atomic_write(path) as f:
            f.write("new, but only half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    previous = os.umask(0o027)
    try:
        with files.atomic_write(path, "wb") as f:
            f.write(b"new")
    finally:
        os.umask(previous)
    assert path.read_bytes() == b"new" and os.stat(path).st_mode & 0o777 == 0o640
    with pytest.raises(ValueError, match="mode must be"):
        with files.atomic_write(path, "a"):
            pass


def test_failed_card_update_leaves_the_old_metadata_and_the_preset_loads(tiny_preset):
    before = (tiny_preset / "metadata.json").read_bytes(), (tiny_preset / "README.md").read_bytes()
    meta = json.loads(before[0])
    meta["metrics"] = {"fid": 1.0, "command": object()}  # JSON fails after the keys before it
    with pytest.raises(TypeError, match="not JSON serializable"):
        preset.write_metadata(tiny_preset, meta)
    assert ((tiny_preset / "metadata.json").read_bytes(), (tiny_preset / "README.md").read_bytes()) == before
    assert sorted(os.listdir(tiny_preset)) == ["README.md", "config.json", "metadata.json", "model.weights.h5",
                                               "samples.png"]
    zoo.load(str(tiny_preset))
    meta["metrics"] = {"fid": 1.0}
    preset.write_metadata(tiny_preset, meta)
    assert zoo.info(str(tiny_preset))["metrics"] == {"fid": 1.0}
    assert "- fid: 1" in (tiny_preset / "README.md").read_text()


# replacing a folder: the old one comes back


def test_a_failed_second_rename_puts_the_old_preset_back(tiny_gan, tiny_preset, monkeypatch):
    before = _tree(tiny_preset)
    rename, calls = os.rename, []

    def failing_second_rename(source, destination):
        calls.append((source, destination))
        if len(calls) == 2:  # staging -> target
            raise OSError("simulated failure")
        return rename(source, destination)

    monkeypatch.setattr(os, "rename", failing_second_rename)
    with pytest.raises(OSError, match="simulated failure"):
        zoo.save_preset(tiny_gan, tiny_preset, {"name": "tiny2", "family": "gan"}, overwrite=True)
    monkeypatch.setattr(os, "rename", rename)
    assert len(calls) == 3  # target -> trash, staging -> target (failed), trash -> target
    assert _tree(tiny_preset) == before
    assert _listing(tiny_preset.parent) == ["tiny_preset"]
    assert zoo.info(str(tiny_preset))["name"] == "tiny"
    zoo.load(str(tiny_preset))


def _kill_a_publish_between_its_renames(tiny_preset, tmp_path):
    staging = tmp_path / "new"
    staging.mkdir()
    (staging / "metadata.json").write_text("{}")
    killed = textwrap.dedent(f"""
        import os
        from keras_genai import files
        rename, calls = os.rename, []
        def rename_then_die(source, destination):
            calls.append(source)
            if len(calls) == 2:
                os._exit(9)  # killed between the two renames
            rename(source, destination)
        os.rename = rename_then_die
        files.publish_folder({str(staging)!r}, {str(tiny_preset)!r})
    """)
    assert subprocess.run([sys.executable, "-c", killed]).returncode == 9
    assert not tiny_preset.exists()  # stranded: only the trash folder holds it


def test_a_publish_killed_between_its_renames_is_undone_by_the_next_save(tiny_gan, tiny_preset, tmp_path):
    before = _tree(tiny_preset)
    _kill_a_publish_between_its_renames(tiny_preset, tmp_path)
    with pytest.raises(FileExistsError):
        zoo.save_preset(tiny_gan, tiny_preset, {"name": "other", "family": "gan"})
    assert _tree(tiny_preset) == before
    assert _listing(tmp_path) == ["new", "tiny_preset"]
    assert zoo.info(str(tiny_preset))["name"] == "tiny"


def test_a_publish_killed_between_its_renames_is_undone_by_the_next_load(tiny_gan, tiny_preset, tmp_path):
    before = _tree(tiny_preset)
    _kill_a_publish_between_its_renames(tiny_preset, tmp_path)
    np.testing.assert_array_equal(zoo.load(str(tiny_preset)).sample(2, seed=0), tiny_gan.sample(2, seed=0))
    assert _tree(tiny_preset) == before


def test_a_users_folder_named_like_trash_is_never_touched(tmp_path):
    target = tmp_path / "results"
    lookalikes = [tmp_path / ".results.v2.old", tmp_path / ".results.abcd1234.old"]
    for folder in lookalikes:
        (folder / "old").mkdir(parents=True)
        (folder / "notes.txt").write_text("mine")
    assert not files.recover_stranded(target)
    files.check_replaceable(target, False, "preset")
    assert not target.exists() and all((folder / "notes.txt").read_text() == "mine" for folder in lookalikes)


def test_an_output_that_would_hold_the_workdir_is_refused_before_either_exists(tmp_path):
    with pytest.raises(ValueError, match="which this run needs"):
        files.check_replaceable(tmp_path / "out", False, "preset", protected=(tmp_path / "out" / "run",))
    with pytest.raises(ValueError, match="which this run needs"):
        files.check_replaceable(tmp_path / "same", True, "preset", protected=(tmp_path / "same",))
    assert _listing(tmp_path) == []


def test_trash_left_after_a_completed_publish_is_removed(tiny_preset):
    trash = tiny_preset.parent / ".tiny_preset.abc12345.old"
    (trash / "old").mkdir(parents=True)
    other = tiny_preset.parent / ".tiny_preset.old.xyz12345.old"  # the trash of a target named tiny_preset.old
    (other / "old").mkdir(parents=True)
    assert files.recover_stranded(tiny_preset) is False
    assert not trash.exists() and other.exists() and (tiny_preset / "metadata.json").exists()


# what a killed atomic_write leaves

def _kill_an_atomic_write(path):
    """Runs ``files.atomic_write(path)`` in a process killed halfway through the write; returns the
    temporary file it left."""
    before = set(os.listdir(os.path.dirname(path)))
    killed = textwrap.dedent(f"""
        import os
        from keras_genai import files
        with files.atomic_write({str(path)!r}) as f:
            f.write('{{"half": ')
            f.flush()
            os._exit(9)
    """)
    assert subprocess.run([sys.executable, "-c", killed]).returncode == 9
    (left,) = set(os.listdir(os.path.dirname(path))) - before
    return left


def test_what_a_killed_atomic_write_left_in_a_preset_is_replaced_with_it(tiny_gan, tiny_preset):
    left = _kill_an_atomic_write(tiny_preset / "metadata.json")
    assert files.is_part_of(left, "metadata.json") and left.startswith(".metadata.json-") and left.endswith(".part")
    files.check_replaceable(tiny_preset, True, "preset")
    zoo.save_preset(tiny_gan, tiny_preset, {"name": "again", "family": "gan"}, overwrite=True)
    assert sorted(os.listdir(tiny_preset)) == ["README.md", "config.json", "metadata.json", "model.weights.h5",
                                               "samples.png"]  # swept with the old folder
    assert zoo.info(str(tiny_preset))["name"] == "again"


@pytest.mark.parametrize("lookalike", [".metadata.json-notes.part", ".metadata.json-abcdefgh.part.bak",
                                       ".metadata.json-ABCDEFGH.part", ".notes.txt-abcdefgh.part",
                                       "metadata.json-abcdefgh.part", "link", "folder"])
def test_a_users_file_named_like_a_part_still_keeps_the_folder(tiny_preset, lookalike):
    path = tiny_preset / lookalike
    if lookalike == "link":  # a link named exactly as a part, or a folder, is not one
        path = tiny_preset / ".config.json-abcdefgh.part"
        path.symlink_to(tiny_preset / "config.json")
    elif lookalike == "folder":
        path = tiny_preset / ".config.json-abcdefgh.part"
        path.mkdir()
    else:
        path.write_text("mine")
    with pytest.raises(ValueError, match=f"refusing to replace .*it holds {path.name}"):
        files.check_replaceable(tiny_preset, True, "preset")
    assert not files.is_part_of(lookalike, "metadata.json")
