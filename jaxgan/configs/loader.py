"""One way to read `--config configs/NAME.py[:variant] --config.FIELD=VALUE ...`
for every entry point: jaxgan.main (absl flags), the benchmarks (argparse) and
Python (`load`). Overrides are parsed by ml_collections' config_flags, so their
syntax is the same everywhere; the config is locked, so a misspelt field is an
error, not a new field.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import re
import sys
from typing import Any, Sequence

import ml_collections
from absl import flags
from ml_collections import config_flags

from jaxgan.configs.variants import UnknownVariantError


def from_file(path: str) -> ml_collections.ConfigDict:
    """`get_config(variant)` of `configs/NAME.py[:variant]`, not locked, no overrides.
    Raises FileNotFoundError, or the config file's UnknownVariantError."""
    file, colon, variant = path.partition(":")
    if not os.path.isfile(file):
        raise FileNotFoundError(f"no config file {file}")
    name = "jaxgan_config_" + os.path.splitext(os.path.basename(file))[0]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant) if colon else module.get_config()


def check_override_fields(config: ml_collections.ConfigDict, argv: Sequence[str], name: str = "config") -> None:
    """Raises absl.flags.IllegalFlagValueError, naming the closest declared
    field, for a `--config.FIELD=VALUE` in argv whose FIELD the config does not
    declare (config_flags raises a bare AttributeError or KeyError for it)."""
    for arg in argv:
        m = re.match(rf"-{{1,2}}(?:no)?{re.escape(name)}\.([^=]+)", arg)
        if not m:
            continue
        node, where = config, name
        for part in m.group(1).split("."):
            if "[" in part or not isinstance(node, ml_collections.ConfigDict):
                break  # an index into a sequence: config_flags checks it
            if part not in node:
                close = difflib.get_close_matches(part, list(node.keys()), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; it has {', '.join(sorted(node.keys()))}"
                raise flags.IllegalFlagValueError(f"--{name}.{m.group(1)}: {where} has no field {part!r}{hint}")
            node, where = node[part], f"{where}.{part}"


class _ConfigFileParser(flags.ArgumentParser):
    """The file part of config_flags' --config flag, reading with `from_file`:
    an unknown variant or a missing file is a one-line flag error at parse time
    (config_flags' own parser puts a traceback into the message, or defers a
    missing file's error to the first use of the config)."""

    def __init__(self, name: str, lock_config: bool = True, sys_argv: Sequence[str] | None = None):
        self.name, self.lock_config, self.sys_argv = name, lock_config, sys_argv

    def parse(self, path: str) -> ml_collections.ConfigDict:
        try:
            config = from_file(path)
        except (FileNotFoundError, UnknownVariantError) as e:
            raise flags.IllegalFlagValueError(f"--{self.name}: {e}") from e
        check_override_fields(config, sys.argv if self.sys_argv is None else self.sys_argv, self.name)
        if self.lock_config:
            config.lock()
        return config

    def flag_type(self) -> str:
        return "config object"


def DEFINE_config_file(name: str, help_string: str, flag_values: flags.FlagValues = flags.FLAGS, *,  # noqa: N802
                       lock_config: bool = True, sys_argv: Sequence[str] | None = None) -> flags.FlagHolder:
    """`config_flags.DEFINE_config_file(name, None, help_string, ...)` reading
    the file with `from_file`."""
    holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values,
                                             lock_config=lock_config, sys_argv=sys_argv)
    flag_values[name].parser = _ConfigFileParser(name, lock_config=lock_config, sys_argv=sys_argv)
    return holder


def load_with_overrides(path: str, overrides: Sequence[str] = (), *,
                        lock: bool = True) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, {field: value} of the overrides applied): see `load`."""
    config = from_file(path)
    argv = ["jaxgan", *overrides]
    check_override_fields(config, argv)
    flag_values = flags.FlagValues()
    holder = config_flags.DEFINE_config_dict("config", config, path, flag_values, lock_config=lock, sys_argv=argv)
    rest = flag_values(argv)
    if len(rest) > 1:
        raise flags.Error(f"not --config.FIELD=VALUE overrides: {' '.join(rest[1:])}")
    return holder.value, dict(flag_values["config"].override_values)


def load(path: str, overrides: Sequence[str] = (), *, lock: bool = True) -> ml_collections.ConfigDict:
    """The config of `configs/NAME.py[:variant]` with `--config.FIELD=VALUE`
    overrides applied, as `python -m jaxgan.main --config PATH OVERRIDES...`
    reads it. Raises FileNotFoundError, UnknownVariantError (a ValueError) or,
    for a bad override, absl.flags.Error."""
    return load_with_overrides(path, overrides, lock=lock)[0]


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None,
               ) -> tuple[argparse.Namespace, ml_collections.ConfigDict]:
    """`parser.parse_args(argv)` for a script whose parser has a `--config`
    option, also taking `--config.FIELD=VALUE` overrides, and the config they
    give (`load`). `args.config_overrides` is {field: value} of the overrides,
    `args.config_argv` the override arguments as given (for a subprocess); a bad
    path, variant or override is a usage error (`parser.error`)."""
    args, args.config_argv = parser.parse_known_args(argv)
    try:
        config, args.config_overrides = load_with_overrides(args.config, args.config_argv)
    except (FileNotFoundError, UnknownVariantError, flags.Error) as e:
        parser.error(str(e))
    return args, config
