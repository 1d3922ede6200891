{{- define "release-gate.name" -}}release-gate{{- end -}}
{{- define "release-gate.fullname" -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "release-gate.labels" -}}
app.kubernetes.io/name: {{ include "release-gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "release-gate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "release-gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
