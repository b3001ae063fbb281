{{/* Names and labels shared by the chart's templates. */}}

{{- define "gproxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gproxy.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gproxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gproxy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gproxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret holding the keys: the user's, or the chart's. */}}
{{- define "gproxy.secretName" -}}
{{- default (include "gproxy.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Several pods need a shared database; SQLite cannot be shared. */}}
{{- define "gproxy.validate" -}}
{{- $several := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
{{- if and $several (not .Values.database.dsn) (not .Values.secrets.existingSecret) -}}
{{- fail "more than one replica (replicaCount > 1 or autoscaling.enabled) needs database.dsn: a PostgreSQL or MySQL every replica shares" -}}
{{- end -}}
{{- if and $several .Values.persistence.enabled -}}
{{- fail "persistence (SQLite on a ReadWriteOnce volume) serves one replica: set database.dsn and persistence.enabled=false to run several" -}}
{{- end -}}
{{- if and .Values.redis.url (contains "[circuit_breaker]" .Values.config) -}}
{{- fail "config has a [circuit_breaker] section while redis.url is set: put backend = \"redis\" and redis_url = \"${GPROXY_REDIS_URL}\" in it yourself, or leave redis.url empty" -}}
{{- end -}}
{{- end -}}

{{/* The config file the chart mounts: the user's TOML, plus shared state in Redis. */}}
{{- define "gproxy.config" -}}
{{- with .Values.config }}
{{ . }}
{{- end }}
{{- if .Values.redis.url }}

[circuit_breaker]
# Added by the chart (redis.url): state shared by every replica.
backend = "redis"
redis_url = "${GPROXY_REDIS_URL}"
redis_key_prefix = {{ .Values.redis.keyPrefix | quote }}
{{- end }}
{{- end -}}
