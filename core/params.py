"""Reading a route's path, query or header parameters as FastAPI does, with per-field facts
settled once (used by `core.routing.FastRoute`)."""
from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi.dependencies.utils import request_params_to_args
from pydantic import Json

_SCALARS = (int, str, float, bool)


def _scalar_type(annotation: Any) -> bool:
    if annotation in _SCALARS:
        return True
    args = get_args(annotation)
    return get_origin(annotation) in (Union, UnionType) and all(
        arg in _SCALARS or arg is type(None) for arg in args
    )


def _request_name(field: Any) -> str | None:
    """The one name a path or query value is read under, as FastAPI reads it (its
    `validation_alias` if a plain string, else its alias); None when FastAPI would try several
    (alias choices or paths, or a config that also accepts the field's own name)."""
    alias = field.field_info.validation_alias
    config = getattr(field, "config", None) or {}
    if (alias is not None and not isinstance(alias, str)) or any(
        config.get(key) is not None for key in
        ("validate_by_alias", "validate_by_name", "populate_by_name")
    ):
        return None
    return alias or field.alias  # type: ignore[no-any-return]


class Params:
    """Reads one location's parameters (path, query or header) as FastAPI's
    `request_params_to_args` does. That function settles, for every field on every request,
    whether it is a sequence, a model, a JSON field or has several request names (3-4 us for
    one int). Here that is settled once: when every field is a plain scalar with one request
    name and a present value, each is validated with the field's own `validate`; anything
    else (a missing required value included: FastAPI words its error) is FastAPI's function."""

    def __init__(self, fields: Any, where: str) -> None:
        self.fields = fields
        self.scalars: list[tuple[Any, str, tuple[str, str], bool]] | None = []
        for field in fields:
            info = field.field_info
            name = _request_name(field)
            if (
                where == "header" or name is None
                or not _scalar_type(info.annotation)
                or any(type(item) is Json for item in info.metadata)
                or not (info.is_required() or isinstance(field.default, (*_SCALARS, type(None))))
            ):
                self.scalars = None
                break
            self.scalars.append((field, name, (where, name), info.is_required()))

    def read(self, received: Any) -> tuple[dict[str, Any], list[Any]]:
        if self.scalars is None:
            return request_params_to_args(self.fields, received)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for field, key, loc, required in self.scalars:
            raw = received.get(key)
            if raw is None:
                if required:
                    return request_params_to_args(self.fields, received)
                if not field.field_info.validate_default:
                    values[field.name] = field.default
                    continue
                raw = field.default
            value, field_errors = field.validate(raw, values, loc=loc)
            if field_errors:
                errors.extend(field_errors)
            else:
                values[field.name] = value
        return values, errors
