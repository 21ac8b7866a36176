{{/*
The non-secret environment of one service, as the `data` of its ConfigMap; called with
(dict "root" $ "component" "gateway"). Variable names are the services' settings (the settings.py of each service).
The pod template hashes the same output (checksum/config), so a change rolls only that service.
*/}}
{{- define "imagebot.configData" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $v := index $root.Values $c }}
{{- $data := dict
  "NATS_URL" (include "imagebot.natsUrl" $root)
  "NATS_REPLICAS" (include "imagebot.natsReplicas" $root)
  "LOG_LEVEL" $root.Values.config.logLevel
  "LOG_FORMAT" $root.Values.config.logFormat
  "OTEL_SERVICE_NAME" $c
  "OTEL_EXPORTER_OTLP_PROTOCOL" $root.Values.otel.protocol
  "OTEL_TRACES_SAMPLER" $root.Values.otel.tracesSampler
}}
{{- with $root.Values.otel.endpoint }}{{ $_ := set $data "OTEL_EXPORTER_OTLP_ENDPOINT" . }}{{ end }}
{{- with $root.Values.otel.tracesSamplerArg }}{{ $_ := set $data "OTEL_TRACES_SAMPLER_ARG" . }}{{ end }}
{{- $webhookBaseUrl := include "imagebot.webhookBaseUrl" $root }}
{{- if eq $c "gateway" }}
  {{- if and (eq $v.botMode "webhook") (not $webhookBaseUrl) }}
    {{- fail "gateway.botMode=webhook needs config.webhookBaseUrl (the public HTTPS URL Telegram posts to) or gateway.ingress with a host; or set gateway.botMode=polling" }}
  {{- end }}
  {{- $_ := set $data "TELEGRAM_API_URL" $root.Values.config.telegramApiUrl }}
  {{- $_ := set $data "BOT_MODE" $v.botMode }}
  {{- $_ := set $data "WEBHOOK_PATH" $v.webhookPath }}
  {{- $_ := set $data "HOST" "0.0.0.0" }}
  {{- $_ := set $data "PORT" $v.port }}
  {{- $_ := set $data "KIE_CALLBACK_PATH" $root.Values.config.kieCallbackPath }}
  {{- with $webhookBaseUrl }}{{ $_ := set $data "WEBHOOK_BASE_URL" . }}{{ end }}
{{- else if eq $c "dispatcher" }}
  {{- $_ := set $data "TELEGRAM_API_URL" $root.Values.config.telegramApiUrl }}
  {{- $_ := set $data "SINGLE_MODEL_ONLY" $root.Values.config.singleModelOnly }}
  {{- $_ := set $data "HEALTH_HOST" "0.0.0.0" }}
  {{- $_ := set $data "HEALTH_PORT" $v.healthPort }}
{{- else if eq $c "imagegen" }}
  {{- $_ := set $data "KIE_API_URL" $v.kieApiUrl }}
  {{- $_ := set $data "KIE_CALLBACK_PATH" $root.Values.config.kieCallbackPath }}
  {{- $_ := set $data "SINGLE_MODEL_ONLY" $root.Values.config.singleModelOnly }}
  {{- $_ := set $data "HEALTH_HOST" "0.0.0.0" }}
  {{- $_ := set $data "HEALTH_PORT" $v.healthPort }}
  {{- with $webhookBaseUrl }}{{ $_ := set $data "WEBHOOK_BASE_URL" . }}{{ end }}
  {{- with $v.kieCallbackBaseUrl }}{{ $_ := set $data "KIE_CALLBACK_BASE_URL" . }}{{ end }}
{{- end }}
{{- range $name, $value := $v.env }}
  {{- if has $name (list "TELEGRAM_BOT_TOKEN" "KIE_API_KEY" "WEBHOOK_SECRET_TOKEN" "KIE_CALLBACK_TOKEN" "KIE_WEBHOOK_HMAC_KEY") }}
    {{- fail (printf "%s.env.%s: secrets belong in secrets.* or secrets.existingSecret, not in a ConfigMap" $c $name) }}
  {{- end }}
  {{- $_ := set $data $name $value }}
{{- end }}
{{- range $name := keys $data | sortAlpha }}
{{ $name }}: {{ get $data $name | toString | quote }}
{{- end }}
{{- end }}

{{/*
The secret environment of one service: secretKeyRef entries for just the keys that service reads.
TELEGRAM_BOT_TOKEN and KIE_API_KEY are required; the rest are optional keys (the service then uses its
default, e.g. a webhook secret derived from the bot token).
*/}}
{{- define "imagebot.secretEnv" -}}
{{- $keys := dict
  "gateway" (list "TELEGRAM_BOT_TOKEN" "WEBHOOK_SECRET_TOKEN" "KIE_CALLBACK_TOKEN" "KIE_WEBHOOK_HMAC_KEY")
  "dispatcher" (list "TELEGRAM_BOT_TOKEN")
  "imagegen" (list "KIE_API_KEY" "KIE_CALLBACK_TOKEN")
}}
{{- $secretName := include "imagebot.secretName" .root }}
{{- range $key := get $keys .component }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
      {{- if not (has $key (list "TELEGRAM_BOT_TOKEN" "KIE_API_KEY")) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
