"""Shape expressions: integer expressions over "batch"/"seq" and a config's attributes.

Read for the `shape` and `high` of synthesized inputs (`inputs.synthesize` data, see
`validate.synthesized`) and for the fields of a package's generation config (`generation.yaml`
`configs`, evaluated against the tiny config).
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from tinymodels.validate.levels import ValidationError

# Shape entries of a synthesized input that are not config attributes.
_DIM_WORDS = ("batch", "seq")


def _config_value(config: Any, dotted: str) -> Any:
    """`config.a.b` for "a.b" (sub-configs may be objects or dicts)."""
    value = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
        if value is None:
            raise ValidationError(f"synthesized input: config has no {dotted!r}")
    return value


# Operators a shape expression may use (integer arithmetic only).
_DIM_OPS: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                             ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


def _dim(entry: int | str, config: Any, dims: dict[str, int]) -> int:
    """One shape entry: an int, or an integer expression over "batch"/"seq", dotted config
    attributes and ints with + - * // ** and max()/len() (a time series' past length is
    `context_length + max(lags_sequence)`); a list-valued attribute stands for its largest item
    unless len() asks for its length."""
    if isinstance(entry, int):
        return entry

    def name(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = name(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def value(node: ast.expr, raw: bool = False) -> Any:
        dotted = name(node)
        if dotted is not None:
            found = dims[dotted] if dotted in _DIM_WORDS else _config_value(config, dotted)
            return found if raw or not isinstance(found, list | tuple) else max(found)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _DIM_OPS:
            return _DIM_OPS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "len") \
                and len(node.args) == 1:
            items = value(node.args[0], raw=True)
            items = list(items) if isinstance(items, list | tuple) else [items]
            return max(items) if node.func.id == "max" else len(items)
        raise ValidationError(f"synthesized input: unsupported shape expression {entry!r}")

    return int(value(ast.parse(str(entry), mode="eval").body))
