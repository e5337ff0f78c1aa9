"""Tiny configs from a transformers source checkout's own test classes, as upstream does.

With `--transformers-repo PATH`, the tiny config of a model type comes from the
ModelTester of `PATH/tests/models/<module>/test_modeling_<name>.py` (the one upstream's
script uses); when there is none or it fails, the config is shrunk from the defaults.
Which source was used is recorded in the entry as `config_source`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import types
import unittest
from pathlib import Path
from typing import Any

from tinymodels.config.walk import walk
from tinymodels.options import BuildOptions

SOURCE_TEST_CLASS = "test-class"
SOURCE_SHRUNK = "shrunk"

# Upstream clamps every position limit to max(200, min(values)) so text-generation runs.
_POSITION_KEYS = ("max_position_embeddings", "max_source_positions", "max_target_positions")
_MIN_POSITIONS = 200


def tiny_config_for(model_type: str, options: BuildOptions) -> tuple[dict[str, Any], str]:
    """(tiny config dict, source): the repo's test class when given and usable, else shrinking."""
    from tinymodels.config.tiny_config import tiny_config_dict

    if options.transformers_repo is not None:
        found = tiny_config_from_repo(model_type, Path(options.transformers_repo))
        if found is not None:
            return found, SOURCE_TEST_CLASS
    return tiny_config_dict(model_type), SOURCE_SHRUNK


def modeling_test_file(model_type: str, repo: Path) -> Path:
    """`tests/models/<module>/test_modeling_<name>.py`, named from the config's source file."""
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    from tinymodels.config.discover import config_class

    cfg = config_class(model_type)
    module = model_type_to_module_name(model_type)
    # The modeling name comes from the config's file: `clip_text_model` lives in configuration_clip.py.
    name = cfg.__module__.rsplit(".", 1)[-1].removeprefix("configuration_")
    package = cfg.__module__.split(".")[-2]
    if not name.startswith(module):
        module = package
    return repo / "tests" / "models" / module / f"test_modeling_{name}.py"


def tiny_config_from_repo(model_type: str, repo: Path) -> dict[str, Any] | None:
    """The tiny config of `model_type` from `repo`'s ModelTester as a dict, or None to fall back.

    Never raises: a missing test file, an import error in the test suite or a tester
    that fails all mean "shrink instead" (the builder records which source was used).
    """
    from tinymodels.config.discover import config_class

    try:
        path = modeling_test_file(model_type, repo)
        if not path.is_file():
            return None
        module = _import_test_module(path.resolve(), repo.resolve())
        cfg_cls = config_class(model_type)
        for tester in _testers_for(module, cfg_cls):
            config = _exact_config(_tester_config(tester), cfg_cls)
            if config is not None:
                d = config.to_dict()
                _clamp_positions(d)
                return d
    except Exception:  # noqa: BLE001 - the checkout's test suite is not ours to fix: fall back to shrinking
        return None
    return None


def _package_name(repo: Path) -> str:
    """A private top-level package name for one checkout's `tests/` (never clashes with ours)."""
    digest = hashlib.sha1(str(repo).encode()).hexdigest()[:10]
    return f"_tinymodels_upstream_tests_{digest}"


@functools.cache
def _import_test_module(path: Path, repo: Path) -> types.ModuleType:
    """Import a test file as `<private pkg>.models.<module>.<file>`, so its relative imports work.

    Upstream puts the checkout on sys.path and imports `tests.…`, which breaks when
    another `tests` package (ours, or one in site-packages) is already imported.
    """
    top = _package_name(repo)
    tests_dir = repo / "tests"
    parts = path.relative_to(tests_dir).with_suffix("").parts
    for i in range(len(parts)):
        name = ".".join((top, *parts[:i]))
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(tests_dir.joinpath(*parts[:i]))]
            pkg.__package__ = name
            sys.modules[name] = pkg
    full = ".".join((top, *parts))
    spec = importlib.util.spec_from_file_location(full, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full]
        raise
    return module


def _testers_for(module: types.ModuleType, cfg_cls: type) -> list[Any]:
    """Instantiated testers of the module: those covering `cfg_cls` first, each group shortest name first.

    Upstream picks the shortest tester name then alphabetical, so that e.g.
    `T5EncoderOnlyModelTester` does not win over `T5ModelTester`. Testers not covering
    `cfg_cls` come last: a composite tester's config may hold it as a sub-config
    (`clip_vision_model` inside the CLIPModelTester's CLIPConfig).
    """
    covering: dict[str, type] = {}
    others: dict[str, type] = {}
    for obj in vars(module).values():
        if not (isinstance(obj, type) and issubclass(obj, unittest.TestCase)):
            continue
        models = getattr(obj, "all_model_classes", None)
        test = None
        if models is None:
            test = _set_up(obj)
            models = getattr(test, "all_model_classes", None) if test is not None else None
        if not models:
            continue
        test = test or _set_up(obj)
        tester = getattr(test, "model_tester", None) if test is not None else None
        if tester is None:
            continue
        group = covering if any(_config_class_of(m) is cfg_cls for m in models) else others
        group[type(tester).__name__] = type(tester)
    out = []
    for group in (covering, others):
        for name in sorted(group, key=lambda n: (len(n), n)):
            tester = _new_tester(group[name])
            if tester is not None:
                out.append(tester)
    return out


def _config_class_of(model_class: Any) -> Any:
    return getattr(model_class, "config_class", None)


def _set_up(test_class: type) -> Any:
    """An instance of a TestCase after `setUp()` (None when it fails)."""
    try:
        test = test_class()
        test.setUp()
        return test
    except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
        return None


def _new_tester(tester_class: type) -> Any:
    """`Tester(parent=None)`: the tiny defaults are the tester's own keyword defaults."""
    try:
        return tester_class(parent=None)
    except TypeError:
        try:
            return tester_class(None)
        except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
            return None
    except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
        return None


def _tester_config(tester: Any) -> Any:
    """Upstream's order: get_pipeline_config, prepare_config_and_inputs()[0], get_config."""
    if hasattr(tester, "get_pipeline_config"):
        try:
            return tester.get_pipeline_config()
        except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
            pass
    if hasattr(tester, "prepare_config_and_inputs"):
        try:
            return tester.prepare_config_and_inputs()[0]
        except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
            pass
    if hasattr(tester, "get_config"):
        try:
            return tester.get_config()
        except Exception:  # noqa: BLE001 - upstream test code may raise anything: fall back to the next way
            return None
    return None


def _exact_config(config: Any, cfg_cls: type) -> Any:
    """`config` if it is a `cfg_cls`, else the first such sub-config (`*_config`, encoder, decoder)."""
    if config is None:
        return None
    return next((c for c in (config, *walk(config, _named_sub_configs, depth_first=True)) if type(c) is cfg_cls),
                None)


def _named_sub_configs(config: Any) -> list[Any]:
    """The values of a test's config (an object or a dict) held under a sub-config name."""
    items = config.items() if isinstance(config, dict) else vars(config).items()
    return [value for key, value in items if (key.endswith("_config") or key in ("encoder", "decoder"))
            and value is not None and not isinstance(value, str | int)]


def _clamp_positions(d: dict[str, Any]) -> None:
    """Set every position limit (top level and text_config) to max(200, the smallest of them)."""
    holders = [h for h in (d, d.get("text_config")) if isinstance(h, dict)]
    values = [h[k] for h in holders for k in _POSITION_KEYS if isinstance(h.get(k), int)]
    if not values:
        return
    limit = max(_MIN_POSITIONS, min(values))
    for h in holders:
        for k in _POSITION_KEYS:
            if isinstance(h.get(k), int):
                h[k] = limit
