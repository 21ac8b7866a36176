"""Tracing set up once per process from the standard OTEL_* variables.

OTLP export happens only when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific one) is set; otherwise
spans are still created (trace ids in logs and NATS headers) but nothing leaves the process.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import PackageNotFoundError, version

from opentelemetry import trace
from opentelemetry.sdk.resources import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
    OTELResourceDetector,
    Resource,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from imagebot_common.telemetry.redacting_exporter import RedactingSpanExporter

log = logging.getLogger("imagebot.telemetry")

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def _package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "0.0.0"


def _otlp_exporter_processor() -> SpanProcessor | None:
    # OTEL_* are the SDK's own contract; reading them here only decides whether to export at all.
    if not any(os.environ.get(var) for var in _ENDPOINT_VARS):  # noqa: TID251
        return None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(  # noqa: TID251
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported; using http/protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(RedactingSpanExporter(OTLPSpanExporter()))


def setup_tracing(service_name: str, instance_id: str) -> TracerProvider:
    """Install the global TracerProvider. OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override ours."""
    ours = Resource.create(
        {
            SERVICE_NAME: service_name,
            SERVICE_VERSION: _package_version(f"imagebot-{service_name}"),
            SERVICE_INSTANCE_ID: instance_id,
        }
    )
    processor = _otlp_exporter_processor()
    # What the environment says wins over our defaults (resource attributes, OTEL_TRACES_SAMPLER).
    resource = ours.merge(OTELResourceDetector().detect())
    if processor is None and not os.environ.get("OTEL_TRACES_SAMPLER"):  # noqa: TID251
        # Nothing is exported, so record nothing: ids are still generated and propagated (log lines and NATS
        # headers keep their trace ids) at a fraction of the cost of recording spans nobody will see.
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    else:
        provider = TracerProvider(resource=resource)
        if processor is not None:
            provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def describe_export() -> str:
    endpoint = next((os.environ.get(v) for v in _ENDPOINT_VARS if os.environ.get(v)), None)  # noqa: TID251
    return f"OTLP to {endpoint}" if endpoint else "not exported (OTEL_EXPORTER_OTLP_ENDPOINT unset)"


def shutdown_tracing(provider: TracerProvider) -> None:
    """Flush what is buffered; called last on shutdown."""
    provider.shutdown()
