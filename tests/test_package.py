import os
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


def test_wheel_installs_and_works_outside_the_checkout(tmp_path):
    """Build a wheel from the tracked sources, install it into a fresh virtualenv (TensorFlow
    and the other dependencies lent from this environment by a .pth file, not dgpose_tf), and
    from an unrelated folder: list the zoo (the cards are package data), load a shipped entry
    from a local HTTP mirror of saved_models/ (sha256-verified into $DGPOSE_HOME) and train a
    tiny config that has no fit script beside it."""
    import functools
    import http.server
    import json
    import shutil
    import site
    import threading
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    listed = subprocess.run(["git", "ls-files", "setup.cfg", "pyproject.toml", "README.md",
                             "dgpose_tf", "zoo"], cwd=repo, capture_output=True, text=True)
    files = listed.stdout.split() if listed.returncode == 0 else []
    files += [str(p.relative_to(repo)) for p in (repo / "dgpose_tf").rglob("*.py")]
    for rel in sorted(set(files)):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / rel, src / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("dgpose_tf-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True)
    target = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    Path(target, "lent_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(repo / "saved_models"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tmp_path / "somewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DGPOSE_SAVED_MODELS")}
    env.update(DGPOSE_HOME=str(tmp_path / "home"), TF_CPP_MIN_LOG_LEVEL="2",
               DGPOSE_MIRROR=f"http://127.0.0.1:{server.server_address[1]}")
    run = lambda *args: subprocess.run([str(a) for a in args], cwd=work, env=env,
                                       capture_output=True, text=True, timeout=600)
    try:
        where = run(py, "-c", "import dgpose_tf; print(dgpose_tf.__file__)")
        assert where.returncode == 0 and where.stdout.startswith(target), where
        listing = run(venv / "bin" / "dgpose", "zoo", "list")
        assert listing.returncode == 0, listing.stderr[-2000:]
        assert "conditional_dgpose_synthetic" in listing.stdout
        assert "vunet25d_synthetic" in listing.stdout
        load = run(py, "-c", "import numpy as np; from dgpose_tf import zoo; "
                   "m = zoo.load('conditional_dgpose_synthetic'); print(m.directory); "
                   "print(sorted(m.methods))")
        assert load.returncode == 0, load.stderr[-3000:]
        assert str(tmp_path / "home" / "conditional_dgpose_synthetic") in load.stdout
        assert "transfer" in load.stdout
        config = {"name": "mine", "family": "conditional_dgpose", "model": {"width": 0.0625},
                  "data": {"source": "synthetic", "seed": 3},
                  "train": {"steps": 2, "steps_per_epoch": 2, "batch_size": 2},
                  "seed": 0, "output": "runs/mine"}
        (work / "mine.json").write_text(json.dumps(config))
        train = run(venv / "bin" / "dgpose", "train", "mine.json")
        assert train.returncode == 0, train.stderr[-3000:]
        assert (work / "runs" / "mine" / "conditional_dgpose.weights.h5").exists()
    finally:
        server.shutdown()
