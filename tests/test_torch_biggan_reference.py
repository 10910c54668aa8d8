"""benchmarks/torch_biggan_reference.py, the plain-PyTorch BigGAN 128 and
BigGAN-deep 256 the trainer's CPU speed is compared with: at width 8 their
trainable tensors match jaxgan's, one iteration trains both nets, the deep256
command line checks the sizes and the config's settings and prints its JSON
line, and the orthogonal-regularisation gradient is the gradient of jaxgan's
penalty."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.parity

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "torch_biggan_reference.py"
spec = importlib.util.spec_from_file_location("torch_biggan_reference", SCRIPT)
ref_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref_mod)


@pytest.mark.parametrize("arch", ["biggan128", "deep256"])
def test_small_reference_matches_jaxgan_and_one_iteration_trains(arch):
    ref = ref_mod.Reference(ch=8, batch=2, arch=arch)
    expected = ref_mod.jaxgan_param_sizes(ch=8, arch=arch)
    ref_mod.check_settings(arch, expected["settings"])
    assert ref_mod.sizes(ref.G) == expected["g"]
    assert ref_mod.sizes(ref.D) == expected["d"]

    snapshot = lambda m: {k: t.detach().clone() for k, t in (*m.named_parameters(), *m.named_buffers())}
    before = {"G": snapshot(ref.G), "D": snapshot(ref.D), "G_ema": snapshot(ref.G_ema)}
    losses = ref.train_step()
    assert all(math.isfinite(v) for v in losses.values()), losses
    for net in ("G", "D"):
        after = snapshot(getattr(ref, net))
        unchanged = {k for k in after if torch.equal(before[net][k], after[k])}
        # Every trainable tensor and BN statistic changes, but maybe the
        # attention convs' weights: with gamma = 0 at init their loss gradient
        # is exactly 0 (as in jaxgan), and G's ortho gradient (biggan128's
        # only) is ~0 on their orthogonal init. D's output bias: its hinge
        # gradient is exactly 0 while all logits are inside the margin. SN
        # vectors are not checked:
        # power iteration on an orthogonal init can be an exact fixed point.
        attention = {k for k in after if any(f".{c}.weight" in k for c in ("theta", "phi", "g", "o"))}
        exempt = attention | {"linear.bias"} if net == "D" else attention
        params = {k for k, _ in getattr(ref, net).named_parameters()}
        stats = {k for k in after if k.endswith(("running_mean", "running_var"))}
        assert len(attention) == 4 and (net == "D" or stats)
        assert not unchanged & params - exempt, (net, sorted(unchanged & params - exempt))
        assert not unchanged & stats, (net, sorted(unchanged & stats))
    ema = snapshot(ref.G_ema)
    assert any(not torch.equal(before["G_ema"][k], ema[k]) for k in ema)


def test_deep256_command_line_checks_sizes_and_prints_json(capsys):
    # The whole script path at width 8: jaxgan's sizes and config settings from
    # the subprocess, the asserts, one warm-up and one timed iteration.
    ref_mod.main(["--arch", "deep256", "--ch", "8", "--batch", "2", "--steps", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    out = json.loads(lines[0])
    expected = ref_mod.jaxgan_param_sizes(8, arch="deep256")
    assert (out["arch"], out["ch"], out["batch"]) == ("deep256", 8, 2)
    assert (out["params_g"], out["params_d"]) == (sum(expected["g"]), sum(expected["d"]))
    assert len(out["step_s_all"]) == 1 and out["step_s_median"] > 0


def test_settings_mismatch_is_reported():
    settings = ref_mod.ARCHS["deep256"].settings()
    ref_mod.check_settings("deep256", settings)
    with pytest.raises(AssertionError, match="ortho"):
        ref_mod.check_settings("deep256", {**settings, "ortho": 1e-4})


@pytest.mark.parametrize("shape", [(6, 4, 3, 3), (50, 5)])  # out <= fan_in, and out > fan_in (G's first linear)
def test_ortho_gradient_is_the_gradient_of_the_penalty(shape):
    torch.manual_seed(0)
    layer = torch.nn.Module()
    layer.weight = torch.nn.Parameter(torch.randn(shape))
    w = layer.weight.flatten(1)
    gram = w @ w.t()
    penalty = 0.5 * (gram * (1 - torch.eye(gram.shape[0]))).square().sum()  # jaxgan's, torch layout
    expected = torch.autograd.grad(penalty, layer.weight)[0]
    layer.weight.grad = torch.zeros(shape)
    ref_mod.add_ortho_grad(layer, 1.0)
    torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-4, atol=1e-4)
