"""structlog set-up: JSON lines in production, console on a TTY; stdlib logs included."""
from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict

from .settings import Settings

_STAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)


def _timestamp(logger: Any, name: str, event_dict: EventDict) -> EventDict:
    """structlog's ISO UTC timestamp, unless the event brings its own: access lines are written
    in batches (core/access.py) and carry the time their response finished."""
    return event_dict if "timestamp" in event_dict else _STAMP(logger, name, event_dict)


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    _timestamp,
]


def _drop_color_message(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn passes an ANSI-coloured copy of each message as an extra; the line needs one."""
    event_dict.pop("color_message", None)
    return event_dict


def _renderer(fmt: str) -> Any:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer(serializer=lambda obj, **_: orjson.dumps(obj).decode())


def _structlog_output(fmt: str) -> tuple[Any, Any]:
    """Renderer and logger factory for structlog's own lines. JSON goes out as orjson's bytes
    straight to stdout's binary buffer (no str round trip: this runs once per request)."""
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(), structlog.WriteLoggerFactory(sys.stdout)
    sys.stdout.flush()  # anything already written as text goes first
    return (
        structlog.processors.JSONRenderer(serializer=orjson.dumps),
        structlog.BytesLoggerFactory(sys.stdout.buffer),
    )


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib (uvicorn included) through one pipeline to stdout."""
    fmt = settings.log_format or ("console" if sys.stdout.isatty() else "json")
    level = logging.getLevelName(settings.log_level)
    renderer, logger_factory = _structlog_output(fmt)
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder(), _drop_color_message],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _renderer(fmt),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Our request middleware writes the one access line per request; uvicorn's would duplicate it.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
