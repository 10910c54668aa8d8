"""configs/*.py and jaxgan.configs: every config and variant loads, unknown
variants are refused, every field the code reads is declared (so that it can be
overridden), and jaxgan.main and the benchmarks read overrides the same way.
No training, no compiling."""

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags

from jaxgan import configs, trainers
from jaxgan.configs import base, biggan
from jaxgan.data import DEFAULTS as DATA_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.py"))
VARIANTS = ("", "smoke")
# The fields the README tells users to set on the command line: for every
# config, and for the BigGAN family's.
README_OVERRIDES = {"data.tfds_data_dir": "/data/tfds", "data.folder": "/data/images"}
BIGGAN_OVERRIDES = {"model.g.activation": "silu", "model.d.activation": "gelu"}


def path(name: str, variant: str = "") -> str:
    return f"{REPO / 'configs' / name}:{variant}"


def get(config, field: str):
    for part in field.split("."):
        config = config[part]
    return config


def family(name: str) -> str:
    return configs.load(path(name)).trainer


def readme_overrides(name: str) -> dict:
    return {**README_OVERRIDES, **(BIGGAN_OVERRIDES if family(name) == "biggan" else {})}


def test_there_are_configs():
    assert {"biggan_128.py", "biggan_deep_256.py", "quickstart.py"} <= set(CONFIGS)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_and_variant_loads_locked(name, variant):
    config = configs.load(path(name, variant))
    assert config.is_locked
    assert config.trainer in trainers.registered()
    with pytest.raises(AttributeError):
        config.train.num_stpes = 1  # locked: a misspelt field is an error
    if config.trainer == "biggan" or config.model.arch in ("dcgan", "began", "ebgan"):
        assert config.model.resolution == config.data.image_size
    if variant == "smoke":
        # The WGAN-GP reference's networks keep their built-in 64x64 and 28x28.
        assert config.train.num_steps <= 4 and config.data.image_size <= (32 if config.trainer == "biggan" else 64)
        # oracle: synthetic token sequences; single_image: a photo inside scikit-image's wheel
        assert config.data.source in ("synthetic", "mnist5k", "oracle", "single_image")
    # Without `:variant`, as `--config configs/NAME.py`, it is the full run.
    if not variant:
        assert configs.load(path(name).rstrip(":")).to_dict() == config.to_dict()


@pytest.mark.parametrize("name", CONFIGS)
def test_an_unknown_variant_is_an_error_naming_the_known_ones(name):
    with pytest.raises(configs.UnknownVariantError) as e:
        configs.load(path(name, "smok"))
    assert isinstance(e.value, ValueError)
    assert "unknown variant 'smok'" in str(e.value) and name in str(e.value)
    more = {"singan.py": ", 'sr', 'animation', 'sr_smoke', 'animation_smoke'",
            "consingan.py": ", 'editing', 'editing_smoke'"}.get(name, "")
    assert str(e.value).endswith("known: '' (the full run), 'smoke'" + more)


def test_variants_are_declared_once():
    @configs.with_variants(small=lambda c: c)
    def get_config():
        return base.base_config("biggan")

    assert get_config.variants == ("", "small")
    with pytest.raises(ValueError, match="the full run itself"):
        configs.with_variants(**{"": lambda c: c})


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", CONFIGS)
def test_fields_the_readme_documents_can_be_overridden(name, variant):
    want = readme_overrides(name)
    overrides = [f"--config.{field}={value}" for field, value in want.items()]
    config, applied = configs.load_with_overrides(path(name, variant), overrides)
    assert applied == want
    assert {field: get(config, field) for field in want} == want


def _constructor_fields(module_class) -> set[str]:
    return {f.name for f in dataclasses.fields(module_class)} - {"parent", "name"}


@pytest.mark.parametrize("name", [n for n in CONFIGS if family(n) == "classic"])
def test_classic_model_g_and_d_declare_every_keyword_of_the_models(name):
    # The classic trainer passes model.resolution, model.z_dim and the data's
    # channels where a network takes them, and model.g / model.d as keywords.
    from jaxgan.trainers.classic import build_models

    config = configs.load(path(name))
    g, d = build_models(config)
    from_elsewhere = {"resolution", "z_dim", "channels"}
    assert set(config.model.g) == _constructor_fields(type(g)) - from_elsewhere
    assert set(config.model.d) == _constructor_fields(type(d)) - from_elsewhere


@pytest.mark.parametrize("name", [n for n in CONFIGS if family(n) == "biggan"])
def test_model_g_and_d_declare_every_keyword_of_the_models(name):
    # The trainer builds G(resolution, num_classes, sn_eps, sn_iters, dtype,
    # bn_eps, **model.g) and D(..., **model.d): everything else the modules take
    # must be in model.g / model.d to be settable from the command line.
    from jaxgan.trainers.biggan import ARCHS

    config = configs.load(path(name))
    G, D = ARCHS[config.model.arch]
    from_elsewhere = {"resolution", "num_classes", "sn_eps", "sn_iters", "dtype", "bn_eps"}
    assert set(config.model.g) == _constructor_fields(G) - from_elsewhere
    no_batch_norm = {"bn_momentum"}  # D has no BatchNorm: its BN settings do nothing
    assert set(config.model.d) == _constructor_fields(D) - from_elsewhere - no_batch_norm


@pytest.mark.parametrize("name", CONFIGS)
def test_every_data_field_the_sources_read_is_declared(name):
    config = configs.load(path(name))
    assert set(DATA_DEFAULTS) <= set(config.data)


def test_the_base_declares_the_data_sources_defaults():
    data = base.base_config("biggan").data.to_dict()
    assert {k: data[k] for k in DATA_DEFAULTS if k not in ("name", "num_classes")} == \
        {k: v for k, v in DATA_DEFAULTS.items() if k not in ("name", "num_classes")}
    assert data["name"] == "imagenet2012" and data["num_classes"] == 1000  # the base's dataset: ImageNet


def test_the_neutral_smoke_leaves_the_family_fields_alone():
    full = biggan.get_config()
    smoke = base.smoke(biggan.get_config())
    for field in ("model", "optim", "ema", "reg", "loss"):
        assert get(smoke, field) == get(full, field)
    assert smoke.train.grad_accum_steps == full.train.grad_accum_steps
    assert smoke.data.source == "synthetic" and smoke.train.num_steps == 4


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_biggan_deep_configs_differ_only_in_resolution(variant):
    loaded = {r: configs.load(path(f"biggan_deep_{r}.py", variant)).to_dict() for r in (128, 256, 512)}
    for r, c in loaded.items():
        want = r if not variant else 32
        assert c["model"]["resolution"] == c["data"]["image_size"] == want
        assert c["model"]["arch"] == "biggan_deep"
        c["model"]["resolution"] = c["data"]["image_size"] = None
    assert loaded[128] == loaded[256] == loaded[512]


def test_undeclared_and_badly_typed_overrides_are_flag_errors():
    with pytest.raises(flags.IllegalFlagValueError, match="did you mean 'activation'"):
        configs.load(path("biggan_128.py"), ["--config.model.g.activatoin=silu"])
    with pytest.raises(flags.IllegalFlagValueError, match="batch_size"):
        configs.load(path("biggan_128.py"), ["--config.train.batch_size=many"])
    with pytest.raises(flags.Error, match="stray"):
        configs.load(path("biggan_128.py"), ["stray"])
    with pytest.raises(FileNotFoundError, match="no config file"):
        configs.load(str(REPO / "configs" / "nope.py"))


def _parse_like_main(argv):
    """--config as jaxgan.main defines it, on a fresh set of flags."""
    flag_values = flags.FlagValues()
    holder = configs.DEFINE_config_file("config", "config file", flag_values, sys_argv=argv)
    flag_values(argv)
    return holder.value


def test_the_command_line_flag_reads_overrides_and_refuses_unknown_variants_in_one_line():
    argv = ["main", "--config", path("biggan_deep_256.py", "smoke"), "--config.model.g.activation=silu",
            "--config.data.tfds_data_dir=gs://bucket/tfds", "--config.model.g.to_rgb_features=3"]
    config = _parse_like_main(argv)
    assert config.is_locked and config.model.g.activation == "silu" and config.model.g.to_rgb_features == 3
    assert config.data.tfds_data_dir == "gs://bucket/tfds" and config.model.resolution == 32

    for argv, message in [
        (["main", "--config", path("biggan_128.py", "smok")], "unknown variant 'smok'"),
        (["main", "--config", str(REPO / "configs" / "nope.py")], "no config file"),
        (["main", "--config", path("biggan_128.py"), "--config.data.fodler=x"], "did you mean 'folder'"),
    ]:
        # absl's app.run prints a flags.Error's message as it is: one line, no traceback.
        with pytest.raises(flags.Error, match=message) as e:
            _parse_like_main(argv)
        assert "\n" not in str(e.value) and "Traceback" not in str(e.value)


def test_the_benchmarks_loader_applies_overrides_before_their_own_flags():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--batch", type=int)
    args, config = configs.parse_args(p, ["--config", path("biggan_128.py", "smoke"), "--batch", "8",
                                          "--config.optim.d.lr=2e-4", "--config.data.num_workers", "0"])
    assert args.batch == 8 and config.optim.d.lr == 2e-4 and config.data.num_workers == 0
    assert args.config_overrides == {"optim.d.lr": 2e-4, "data.num_workers": 0}
    assert args.config_argv == ["--config.optim.d.lr=2e-4", "--config.data.num_workers", "0"]
    with pytest.raises(SystemExit):  # a usage error, as for the script's own flags
        configs.parse_args(p, ["--config", path("biggan_128.py", "smok")])


def test_aot_memory_takes_config_overrides():
    from benchmarks import aot_memory

    args, config = aot_memory.parse_args(["--config", path("biggan_128.py", "smoke"), "--batch", "16",
                                          "--config.train.num_d_steps=3", "--config.model.d.activation=elu"])
    assert args.batch == 16 and config.train.num_d_steps == 3 and config.model.d.activation == "elu"


def test_benchmarks_import_as_a_package_without_touching_sys_path():
    code = ("import sys; before = list(sys.path); "
            "from benchmarks import aot_memory, step_flops, train_step, torch_biggan_reference; "
            "assert sys.path == before, set(sys.path) ^ set(before)")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_benchmark_scripts_run_as_files_and_report_a_bad_variant_as_a_usage_error():
    run = subprocess.run([sys.executable, "benchmarks/aot_memory.py", "--config", "configs/biggan_128.py:smok"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "unknown variant 'smok' of configs/biggan_128.py; known: '' (the full run), 'smoke'" in run.stderr
    assert "Traceback" not in run.stderr
