"""notebooks/quickstart.ipynb runs end to end in a real Jupyter kernel (so its
`%pip` / `!` lines and IPython display calls are exercised as on Colab), with
the smoke settings it reads from JAXGAN_NOTEBOOK_* variables: a random
BigGAN-deep 128 written in pytorch-pretrained-biggan's file format instead of
the downloaded weights, and a few training steps of the quickstart config."""

import json
from pathlib import Path

import nbclient
import nbformat
import pytest
import torch

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    from jaxgan.convert.pytorch_pretrained_biggan import expected_layers

    pretrained = tmp_path / "biggan-deep-128-random"
    pretrained.mkdir()
    config = BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128))
    torch.manual_seed(0)
    torch.save(BigGAN(config).state_dict(), pretrained / "pytorch_model.bin")
    (pretrained / "config.json").write_text(config.to_json_string(), encoding="utf-8")

    workdir = tmp_path / "workdir"
    # The kernel inherits this environment (and conftest's XLA flags and cache).
    monkeypatch.setenv("JAXGAN_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("JAXGAN_NOTEBOOK_PRETRAINED", str(pretrained))
    monkeypatch.setenv("JAXGAN_NOTEBOOK_WORKDIR", str(workdir))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # `import jaxgan` finds this checkout; the install cell is skipped

    notebook = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4)
    # Run from a scratch copy of the repo root's view: files the notebook writes
    # (grids, GIF) land in tmp_path, configs/ is reached through a link.
    (tmp_path / "configs").symlink_to(REPO / "configs")
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and
              ({"image/png", "image/gif"} & set(o.get("data", {})))]
    # truncation grid, interpolation grid and GIF, training grid, trained samples
    assert len(images) == 5, [list(o.get("data", {})) for o in outputs]
    assert any("image/gif" in o.data for o in images)
    for name in ("pretrained_truncation.png", "pretrained_interpolation.png", "pretrained_interpolation.gif",
                 "quickstart_samples.png"):
        assert (tmp_path / name).stat().st_size > 0
    # The training cell trained to its step count and left a checkpoint with
    # the standing statistics the last cell saved.
    assert (workdir / "checkpoints").is_dir()
    assert list(workdir.glob("checkpoints/*/standing_stats/psi_0.5.npz"))
    json.loads((workdir / "config.json").read_text())
