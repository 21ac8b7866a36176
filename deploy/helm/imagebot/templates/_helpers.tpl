{{/*
Names, labels and derived values, each computed in exactly one place (like the NATS chart's helpers).
Templates never build a name or a label set themselves; they include one of these.
*/}}

{{/* The three services, in the order their objects are rendered. */}}
{{- define "imagebot.components" -}}
gateway dispatcher imagegen
{{- end }}

{{- define "imagebot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "imagebot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "imagebot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "imagebot.labels" -}}
helm.sh/chart: {{ include "imagebot.chart" . }}
{{ include "imagebot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: imagebot
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "imagebot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "imagebot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Per component; called with (dict "root" $ "component" "gateway"). */}}
{{- define "imagebot.componentName" -}}
{{- printf "%s-%s" (include "imagebot.fullname" .root | trunc 52 | trimSuffix "-") .component }}
{{- end }}

{{- define "imagebot.componentLabels" -}}
{{ include "imagebot.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "imagebot.componentSelectorLabels" -}}
{{ include "imagebot.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "imagebot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "imagebot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the service secrets: ours, or the one named in secrets.existingSecret. */}}
{{- define "imagebot.secretName" -}}
{{- default (printf "%s-secrets" (include "imagebot.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* Image of a component; image.registry is required (the images are not published anywhere). */}}
{{- define "imagebot.image" -}}
{{- $registry := required "image.registry is required: the registry and path you pushed the imagebot images to (e.g. registry.example.com/imagebot)" .root.Values.image.registry }}
{{- $values := index .root.Values .component }}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) $values.image.repository (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end }}

{{/* Port of a component's HTTP server (the gateway's app, the others' health server). */}}
{{- define "imagebot.port" -}}
{{- $values := index .root.Values .component }}
{{- if eq .component "gateway" }}{{ $values.port }}{{ else }}{{ $values.healthPort }}{{ end }}
{{- end }}

{{/* ---- NATS ---- */}}
{{/* At most 50 characters, so the StatefulSet's revision-hash label and "<name>-headless" stay valid. */}}
{{- define "imagebot.natsName" -}}
{{- printf "%s-nats" (include "imagebot.fullname" . | trunc 45 | trimSuffix "-") }}
{{- end }}

{{- define "imagebot.natsHeadlessName" -}}
{{- printf "%s-headless" (include "imagebot.natsName" .) }}
{{- end }}

{{- define "imagebot.natsLabels" -}}
{{ include "imagebot.labels" . }}
app.kubernetes.io/component: nats
{{- end }}

{{- define "imagebot.natsSelectorLabels" -}}
{{ include "imagebot.selectorLabels" . }}
app.kubernetes.io/component: nats
{{- end }}

{{/* NATS_URL: the bundled server's Service, else nats.url. */}}
{{- define "imagebot.natsUrl" -}}
{{- if .Values.nats.bundled.enabled }}
{{- printf "nats://%s.%s.svc:4222" (include "imagebot.natsName" .) .Release.Namespace }}
{{- else }}
{{- required "nats.url is required when nats.bundled.enabled is false" .Values.nats.url }}
{{- end }}
{{- end }}

{{/* NATS_REPLICAS: nats.streamReplicas, else the bundled server count, else 1. */}}
{{- define "imagebot.natsReplicas" -}}
{{- if not (kindIs "invalid" .Values.nats.streamReplicas) }}
{{- .Values.nats.streamReplicas }}
{{- else if .Values.nats.bundled.enabled }}
{{- .Values.nats.bundled.replicas }}
{{- else }}1{{- end }}
{{- end }}

{{/* WEBHOOK_BASE_URL: config.webhookBaseUrl, else https://<first Ingress host>, else empty. */}}
{{- define "imagebot.webhookBaseUrl" -}}
{{- if .Values.config.webhookBaseUrl }}
{{- .Values.config.webhookBaseUrl | trimSuffix "/" }}
{{- else if and .Values.gateway.ingress.enabled .Values.gateway.ingress.hosts }}
{{- printf "https://%s" (first .Values.gateway.ingress.hosts).host }}
{{- end }}
{{- end }}

{{/* OTEL_RESOURCE_ATTRIBUTES (uses the K8S_* env vars defined before it in the container). */}}
{{- define "imagebot.otelResourceAttributes" -}}
{{- $attrs := list "service.namespace=imagebot" (printf "service.version=%s" .Chart.AppVersion) "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.pod.name=$(K8S_POD_NAME)" "k8s.node.name=$(K8S_NODE_NAME)" }}
{{- with .Values.otel.resourceAttributes }}{{ $attrs = append $attrs . }}{{ end }}
{{- join "," $attrs }}
{{- end }}

{{/* sha256 of a rendered template, for the checksum/* pod annotations (a change rolls the pods). */}}
{{- define "imagebot.checksum" -}}
{{- include (print .root.Template.BasePath .file) .root | sha256sum }}
{{- end }}
