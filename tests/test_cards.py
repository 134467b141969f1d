"""The zoo read by people: statuses, headline rows, ``dgpose zoo info`` / ``list``, the zoo
README's generated table, papers cited by title and venue, signature methods with real
parameters, and the import directions the house keeps."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from dgpose_tf import zoo
from dgpose_tf.zoo_summary import headline_rows, status, summary, write_zoo_table
from dgpose_tf.cli import main

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dgpose_tf"


def test_zoo_readme_table_is_generated_from_the_cards():
    cards = [zoo.info(n) for n in zoo.list_models()]
    assert write_zoo_table(REPO / "zoo" / "README.md", cards, check=True), \
        "zoo/README.md's entry table is stale: run python -m dgpose_tf.zoo_summary"


def test_every_card_cites_its_paper_and_points_at_its_history():
    for name in zoo.list_models():
        card = zoo.info(name)
        paper = card["paper"]
        assert paper.get("title") and paper.get("venue") and paper.get("authors"), name
        assert "shared/papers" not in json.dumps(paper), name
        assert (REPO / card["history_notes"]).is_file(), name


def test_status_and_headlines_mark_what_loses():
    mocap = zoo.info("pose_sequence_aegan_mocap")
    word, why = status(mocap)
    assert word == "experimental" and any("real motion" in w for w in why)
    rows = headline_rows(mocap)
    assert rows and all(r.anchor is not None for r in rows)
    assert any(r.mark == "✗a" for r in rows)                 # below PCHIP on the CMU clips
    semi = zoo.info("semi_dgpose_synthetic")
    assert status(semi)[0] == "pretrained"
    assert all(r.mark == "" and r.model > r.trivial for r in headline_rows(semi))
    assert status(zoo.info("semi_dgpose_h36m"))[0] == "no weights"


def test_zoo_info_prints_a_summary_and_json_on_request(capsys):
    assert main(["zoo", "info", "semi_dgpose_synthetic"]) == 0
    text = capsys.readouterr().out
    for words in ("pretrained", "task", "skeleton", "licence", "train", "mean pose", "--json"):
        assert words in text
    assert main(["zoo", "info", "semi_dgpose_synthetic", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "semi_dgpose_synthetic"
    assert main(["zoo", "list"]) == 0
    listing = capsys.readouterr().out
    assert "experimental: ✗" in listing and "pretrained" in listing and "no weights" in listing
    assert summary(zoo.info("semi_dgpose_h36m")).startswith("semi_dgpose_h36m")


def test_signature_methods_have_real_parameters_and_broadcast_numbers():
    import inspect
    m = zoo.load("semi_dgpose_synthetic")
    params = list(inspect.signature(m.manipulate).parameters)
    assert params == ["images", "scale"] and "scale" in m.manipulate.__doc__
    assert m.manipulate.__name__ == "manipulate"
    x = np.zeros((2, 64, 64, 3), np.float32)
    one = m.manipulate(x, scale=1.2)["images"]
    each = m.manipulate(x, scale=np.array([1.2, 1.2], np.float32))["images"]
    np.testing.assert_allclose(one, each)


def _imports(path):
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(("." * node.level) + node.module)
            out |= {("." * node.level) + node.module + "." + a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_the_model_and_its_inpainting_procedure_do_not_import_each_other():
    model = _imports(PACKAGE / "models" / "pose_sequence_aegan.py")
    assert not any("inpainting" in m for m in model)
    assert any("pose_sequence_aegan" in m for m in _imports(PACKAGE / "models" / "inpainting.py"))


def test_the_photo_protocol_loads_without_tensorflow():
    import subprocess
    import sys
    code = ("import sys; sys.path.insert(0, %r); from dgpose_tf.evaluate import photos; "
            "assert 'tensorflow' not in sys.modules, 'TF loaded'" % str(REPO))
    subprocess.run([sys.executable, "-c", code], check=True)
