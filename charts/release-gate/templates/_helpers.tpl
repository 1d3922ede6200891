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
{{- /* How the webhook gets its serving certificate: self-managed, cert-manager or secret. */ -}}
{{- define "release-gate.certMode" -}}
{{- if .Values.webhook.tlsSecret -}}secret
{{- else -}}
{{- $mode := .Values.webhook.certificates.mode -}}
{{- if not (has $mode (list "self-managed" "cert-manager" "secret")) -}}
{{- fail (printf "webhook.certificates.mode: %q is not one of self-managed, cert-manager, secret" $mode) -}}
{{- end -}}
{{- if eq $mode "secret" -}}
{{- fail "webhook.certificates.mode: secret needs webhook.tlsSecret (and webhook.admission.caBundle)" -}}
{{- end -}}
{{- $mode -}}
{{- end -}}
{{- end -}}
