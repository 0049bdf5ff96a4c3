"""The run folder's files (one name each, on RunFolder), the one atomic writer, and checkpoints of
other code versions."""
import json
import math
import pickle
import sys
import types

import pytest
import torch

from laftr_cl.run.atomic import RunFolderUnwritable, write_atomically, write_json_atomic
from laftr_cl.run.checkpoint import CHECKPOINT_FORMAT, CheckpointError, read_checkpoint
from laftr_cl.run.folder import RunFolder


def test_run_folder_names_each_file_once(tmp_path):
    folder = RunFolder(tmp_path)
    paths = [folder.lock, folder.checkpoint, folder.record, folder.results, folder.wandb_id]
    assert [p.name for p in paths] == ["laftr-cl.lock", "checkpoint.pt", "checkpoint.config.yaml", "results.json",
                                       "wandb_run_id"]
    assert all(p.parent == tmp_path for p in paths)
    folder.wandb_id.write_text("abc\n")
    folder.forget_wandb_id()
    assert not folder.wandb_id.exists()


def test_json_is_written_whole_with_nan_as_null(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomic(path, {"a": [1.0, math.nan], "b": {"c": math.inf}, "d": (2, -math.inf)})
    assert json.loads(path.read_text()) == {"a": [1.0, None], "b": {"c": None}, "d": [2, None]}
    assert not (tmp_path / "results.json.tmp").exists()


def test_a_failed_write_keeps_the_previous_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomic(path, {"rows": 1})

    def full_disk(tmp, data):
        tmp.write_bytes(data[:3])
        raise OSError(28, "No space left on device")

    with pytest.raises(RunFolderUnwritable, match="is full"):
        write_atomically(path, b'{"rows": 2}', write=full_disk)
    assert json.loads(path.read_text()) == {"rows": 1}
    assert list(tmp_path.iterdir()) == [path]


def test_a_checkpoint_whose_pickled_class_moved_is_refused_naming_the_format(tmp_path, monkeypatch):
    module = types.ModuleType("laftr_cl_moved_module")
    exec("class Old:\n    pass\n", module.__dict__)
    module.Old.__module__ = module.__name__
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "state": {"plugin": module.Old()}}, path, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    monkeypatch.delitem(sys.modules, module.__name__)  # the class is gone from where it was pickled
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path, {}, torch.device("cpu"))
    message = str(err.value)
    assert "\n" not in message and "laftr_cl_moved_module" in message
    assert f"checkpoint format {CHECKPOINT_FORMAT}" in message and "resume=false" in message
