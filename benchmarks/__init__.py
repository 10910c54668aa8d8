"""Benchmarks and reference implementations (not part of the jaxgan
distribution). Run from the repository root, either way:

    python benchmarks/train_step.py --config configs/biggan_128.py --batch 8
    python -m benchmarks.train_step --config configs/biggan_128.py --batch 8

Scripts that take `--config configs/NAME.py[:variant]` also take
`--config.FIELD=VALUE` overrides, as `python -m jaxgan.main` does
(jaxgan.configs.parse_args).
"""
