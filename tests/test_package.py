import subprocess
import sys

import cv2

import dgpose_tf
from dgpose_tf import cli


def test_import_is_fast_and_does_not_load_tensorflow():
    code = ("import sys, time; t = time.perf_counter(); import dgpose_tf, dgpose_tf.pose, "
            "dgpose_tf.metrics, dgpose_tf.geometry, dgpose_tf.cli; "
            "print(time.perf_counter() - t); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, tf_loaded = out.stdout.split()
    assert tf_loaded == "False"
    assert float(seconds) < 3.0


def test_version_on_the_command_line():
    out = subprocess.run([sys.executable, "-m", "dgpose_tf.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"dgpose_tf {dgpose_tf.__version__}"


def test_help_lists_subcommands(capsys):
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_skeletons_command(capsys):
    assert cli.main(["skeletons"]) == 0
    assert "mpi_inf_3dhp28" in capsys.readouterr().out
    assert cli.main(["skeletons", "coco17"]) == 0
    out = capsys.readouterr().out
    assert "-> lsp14" in out and "missing head_top" in out
    assert cli.main(["skeletons", "nope"]) == 2
    assert "unknown skeleton" in capsys.readouterr().err


def test_demo_writes_a_sheet_and_reports_exact_round_trips(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert cli.main(["geometry-demo", "--out", str(out), "--n", "8"]) == 0
    text = capsys.readouterr().out
    rows = {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1])
            for line in text.splitlines() if line.startswith("  ")}
    assert rows["heatmap round trip: max error (px)"] < 1e-3
    assert rows["Procrustes with 40% joints masked: max error (px)"] < 1e-6
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 4 * 64 and img.std() > 5


def test_every_lazily_listed_module_imports():
    import dgpose_tf.data as data

    for name in dgpose_tf._SUBMODULES:
        assert getattr(dgpose_tf, name).__name__ == f"dgpose_tf.{name}"
    for name in data._SUBMODULES:
        assert getattr(data, name).__name__ == f"dgpose_tf.data.{name}"
