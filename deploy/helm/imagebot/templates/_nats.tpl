{{/* nats.conf of the bundled NATS (nats.bundled.*), rendered once for the ConfigMap and its checksum. */}}
{{- define "imagebot.natsConf" -}}
{{- $n := .Values.nats.bundled }}
{{- $name := include "imagebot.natsName" . }}
{{- $headless := include "imagebot.natsHeadlessName" . }}
{{- $replicas := int $n.replicas }}
# Rendered by the imagebot chart from nats.bundled.config (deploy/nats/nats.conf is the Compose twin).
# SERVER_NAME comes from the pod name (env), so every server of the StatefulSet has its own.
server_name: $SERVER_NAME
port: 4222
http_port: 8222
pid_file: "/var/run/nats/nats.pid"
max_payload: {{ $n.config.maxPayload }}
max_connections: {{ $n.config.maxConnections }}
max_pending: {{ $n.config.maxPending }}
write_deadline: "10s"
ping_interval: "20s"
lame_duck_duration: "30s"
lame_duck_grace_period: "10s"
jetstream {
  store_dir: "/data/jetstream"
  max_memory_store: {{ $n.config.maxMemoryStore }}
  max_file_store: {{ $n.config.maxFileStore }}
}
{{- if gt $replicas 1 }}
cluster {
  name: {{ $name }}
  port: 6222
  routes: [
    {{- range $i := until $replicas }}
    "nats://{{ $name }}-{{ $i }}.{{ $headless }}.{{ $.Release.Namespace }}.svc:6222"
    {{- end }}
  ]
  connect_retries: 120
}
{{- end }}
{{- end }}
