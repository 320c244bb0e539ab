{{/*
Names and labels shared by every template. Names are cut to 63 characters (the DNS label limit
of most Kubernetes names) and never end in a dash.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "webmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, or "<release>-<chart>", or just "<release>"
when the release name already contains the chart name (`helm install webmesh ./charts/webmesh`
gives "webmesh", not "webmesh-webmesh").
*/}}
{{- define "webmesh.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label ("+" is not allowed in label values). */}}
{{- define "webmesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object the chart creates. */}}
{{- define "webmesh.commonLabels" -}}
helm.sh/chart: {{ include "webmesh.chart" . }}
app.kubernetes.io/name: {{ include "webmesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: webmesh
{{- end }}

{{/*
The labels that select the operator's pods; they must never change after install. The component
keeps them apart from the mesh's own pods, which the operator labels name=webmesh,
instance=<mesh>, component=server|node-group.
*/}}
{{- define "webmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webmesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of the operator's objects (Deployment, pods, ServiceAccount, RBAC). */}}
{{- define "webmesh.labels" -}}
{{ include "webmesh.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount: created by the chart or named by the user. */}}
{{- define "webmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "webmesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Leader election: asked for, or forced by more than one replica. */}}
{{- define "webmesh.leaderElection" -}}
{{- if or .Values.operator.leaderElection.enabled (gt (int .Values.operator.replicas) 1) }}true{{ end }}
{{- end }}
