{{/* Chart name. */}}
{{- define "ao.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-agent-orchestrator unless the release name already has it. */}}
{{- define "ao.fullname" -}}
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

{{/* Selector labels: stable across upgrades. */}}
{{- define "ao.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Standard labels. */}}
{{- define "ao.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ao.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agent-orchestrator
{{- end -}}

{{- define "ao.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ao.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image by digest when one is set (released charts), else by tag. */}}
{{- define "ao.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "ao.runnerImage" -}}
{{- if .Values.runner.digest -}}
{{- printf "%s@%s" .Values.runner.repository .Values.runner.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.runner.repository (default .Chart.AppVersion .Values.runner.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the operator watches when not cluster-wide: the release namespace first. */}}
{{- define "ao.watchedNamespaces" -}}
{{- $list := list .Release.Namespace -}}
{{- range .Values.operator.namespaces -}}{{- if not (has . $list) -}}{{- $list = append $list . -}}{{- end -}}{{- end -}}
{{- join "," $list -}}
{{- end -}}

{{/* Namespaces that get the default profiles and plan. */}}
{{- define "ao.profileNamespaces" -}}
{{- if .Values.profiles.namespaces -}}
{{- join "," .Values.profiles.namespaces -}}
{{- else -}}
{{- include "ao.watchedNamespaces" . -}}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security Standard container settings. */}}
{{- define "ao.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The operator's leader Lease: operator.leaderElection.leaseName, else the full name. */}}
{{- define "ao.leaseName" -}}
{{- default (include "ao.fullname" .) .Values.operator.leaderElection.leaseName -}}
{{- end -}}

{{/* The dashboard's read-only rules: the three kinds, attempt Jobs and pods, their logs,
and Events. Never Secrets, never a write. */}}
{{- define "ao.dashboardRules" -}}
- apiGroups: ["orchestration.coditect.ai"]
  resources: ["agenttasks", "agentplans", "agentprofiles"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods", "pods/log", "events"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/* A map as comma-separated key=value pairs, keys sorted. */}}
{{- define "ao.keyValues" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The operator's limits (security.*) as AGENT_OPERATOR_* variables: the operator applies
them, the dashboard shows the same reasons. */}}
{{- define "ao.securityEnv" -}}
- name: AGENT_OPERATOR_ALLOWED_API_URLS
  value: {{ join "," .Values.security.allowedApiURLs | quote }}
- name: AGENT_OPERATOR_ALLOWED_REPOSITORY_URLS
  value: {{ join "," .Values.security.allowedRepositoryURLs | quote }}
- name: AGENT_OPERATOR_ALLOWED_FORGE_API_URLS
  value: {{ join "," .Values.security.allowedForgeAPIURLs | quote }}
- name: AGENT_OPERATOR_ALLOWED_IMAGES
  value: {{ join "," (concat (list (printf "%s:" .Values.runner.repository) (printf "%s@" .Values.runner.repository)) .Values.security.allowedImages | uniq) | quote }}
- name: AGENT_OPERATOR_ALLOWED_SERVICE_ACCOUNTS
  value: {{ join "," .Values.security.allowedServiceAccounts | quote }}
- name: AGENT_OPERATOR_ALLOWED_RUNTIME_CLASSES
  value: {{ join "," .Values.security.allowedRuntimeClasses | quote }}
- name: AGENT_OPERATOR_ALLOWED_PRIORITY_CLASSES
  value: {{ join "," .Values.security.allowedPriorityClasses | quote }}
- name: AGENT_OPERATOR_ALLOWED_TOLERATION_KEYS
  value: {{ join "," .Values.security.allowedTolerationKeys | quote }}
- name: AGENT_OPERATOR_ALLOW_TOLERATE_ALL
  value: {{ .Values.security.allowTolerateAll | quote }}
- name: AGENT_OPERATOR_ALLOWED_LABEL_PREFIXES
  value: {{ join "," .Values.security.allowedLabelPrefixes | quote }}
- name: AGENT_OPERATOR_ALLOWED_ANNOTATION_PREFIXES
  value: {{ join "," .Values.security.allowedAnnotationPrefixes | quote }}
{{- end -}}
