import json

import cv2
import numpy as np
import pytest

from dgpose_tf import cli
from dgpose_tf.data import shards
from dgpose_tf.data.synthetic import SyntheticPeople


def test_shards_round_trip_and_contact_sheet(tmp_path):
    out = tmp_path / "ds"
    shards.write_synthetic(out, 30, size=64, seed=4, shard_size=12, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n"] == 30 and len(meta["shards"]) == 3
    assert not list(out.glob("*.partial"))
    recs = list(shards.read_shards(out).as_numpy_iterator())
    ref = SyntheticPeople(64, seed=4).batch(0, 30)
    assert len(recs) == 30
    for i in (0, 13, 29):
        np.testing.assert_array_equal(recs[i]["image"], ref["image"][i])
        np.testing.assert_array_equal(recs[i]["joints2d"], ref["joints2d"][i])
        np.testing.assert_array_equal(recs[i]["visible"], ref["visible"][i])
        assert recs[i]["appearance_id"] == ref["appearance_id"][i]
    sheet = tmp_path / "sheet.png"
    assert cli.main(["data", "show", str(out), "--out", str(sheet), "--n", "4"]) == 0
    img = cv2.imread(str(sheet))
    assert img.shape[0] > 200 and img.shape[1] > 8 * 200


def test_unfinished_directories_are_refused(tmp_path):
    (tmp_path / "x.tfrecord.partial").write_bytes(b"junk")
    with pytest.raises(FileNotFoundError, match="interrupted"):
        shards.read_shards(tmp_path)
    done = tmp_path / "done"
    shards.write_synthetic(done, 3, progress=False)
    with pytest.raises(FileExistsError):
        shards.write_synthetic(done, 3, progress=False)
