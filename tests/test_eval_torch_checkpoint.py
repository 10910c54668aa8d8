"""The torch-free reader of torch.save files, checked against torch itself."""

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from jaxgan.convert import torch_checkpoint

import torch

pytestmark = pytest.mark.parity


def _tensors():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return collections.OrderedDict(
        contiguous=base,
        transposed=base.t(),                      # same storage, other strides
        strided_view=base[1:3, ::2],              # offset + step into a shared storage
        float64=torch.randn(3, dtype=torch.float64),
        float16=torch.randn(4).half(),
        bfloat16=torch.randn(5).to(torch.bfloat16),
        int64=torch.tensor([1, -2, 3]),
        uint8=torch.tensor([0, 255], dtype=torch.uint8),
        boolean=torch.tensor([True, False]),
        scalar=torch.tensor(3.5),
        empty=torch.zeros(0, 3),
        parameter=torch.nn.Parameter(torch.randn(2, 2)),
    )


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reads_what_torch_wrote(tmp_path, zip_format):
    sd = _tensors()
    obj = {"state_dict": sd, "epoch": 7, "nested": [sd["contiguous"][2], (1, "x")]}
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    out = torch_checkpoint.load(path)
    assert out["epoch"] == 7 and out["nested"][1] == (1, "x")
    np.testing.assert_array_equal(out["nested"][0], sd["contiguous"][2].numpy())
    for name, t in sd.items():
        got = out["state_dict"][name]
        ref = t.detach().float().numpy() if t.dtype == torch.bfloat16 else t.detach().numpy()
        assert got.shape == ref.shape, name
        if t.dtype == torch.bfloat16:
            assert got.dtype.name == "bfloat16"
            got = got.astype(np.float32)
        else:
            assert got.dtype == ref.dtype, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
    # Arrays own their memory: writing one does not change another view of the storage.
    out["state_dict"]["contiguous"][0, 0] = -1
    assert out["state_dict"]["transposed"][0, 0] == 0


def test_load_state_dict_unwraps_and_checks(tmp_path):
    path = tmp_path / "m.pth"
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    torch.save({"model": model.state_dict(), "step": 3}, path)
    sd = torch_checkpoint.load_state_dict(path)
    assert set(sd) == set(model.state_dict())
    np.testing.assert_array_equal(sd["0.weight"], model[0].weight.detach().numpy())


def test_refuses_pickled_code(tmp_path):
    # A whole module pickles its class: must be refused, not imported.
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(torch_checkpoint.CheckpointError, match="refusing to unpickle"):
        torch_checkpoint.load(path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pth"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(Evil()))
    with pytest.raises(torch_checkpoint.CheckpointError, match="refusing to unpickle"):
        torch_checkpoint.load(evil)


def test_clear_errors_for_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        torch_checkpoint.load(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(torch_checkpoint.CheckpointError, match="not a PyTorch checkpoint"):
        torch_checkpoint.load(junk)
    # A legacy file cut short in its raw storage bytes.
    buf = io.BytesIO()
    torch.save({"w": torch.randn(100)}, buf, _use_new_zipfile_serialization=False)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(buf.getvalue()[:-40])
    with pytest.raises(torch_checkpoint.CheckpointError, match="truncated"):
        torch_checkpoint.load(cut)


def test_download_checks_the_hash_prefix_in_the_name(tmp_path):
    """The first-use download, exercised offline with a file:// URL."""
    import hashlib

    from jaxgan.eval import weights

    payload = b"pretend weights"
    digest = hashlib.sha256(payload).hexdigest()
    src = tmp_path / "src"
    src.mkdir()
    good = src / f"weights-{digest[:8]}.pth"
    good.write_bytes(payload)
    got = weights.download(good.as_uri(), tmp_path / "cache")
    assert got.read_bytes() == payload and got.name == good.name
    bad = src / "weights-00000000.pth"
    bad.write_bytes(payload)
    with pytest.raises(RuntimeError, match="does not start with 00000000"):
        weights.download(bad.as_uri(), tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [good.name]  # nothing partial kept
    with pytest.raises(RuntimeError, match="could not download"):
        weights.download((src / "missing-12345678.pth").as_uri(), tmp_path / "cache")
