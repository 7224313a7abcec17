"""Structured JSON logs through structlog, one event per line on stdout.

JSON lines are what a SIEM or log shipper ingests without parsing rules;
`redaction` processors (added by the data-protection controls) run before
rendering so secrets never reach the output.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor

from .security.redaction import default_redactor


def configure_logging(*, level: str = "INFO") -> None:
    """Route structlog and the standard library through one JSON renderer, secrets redacted."""
    redact = default_redactor()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
