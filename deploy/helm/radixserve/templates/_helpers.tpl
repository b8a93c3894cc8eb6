{{/* Names, labels, image, model volume: shared by every template. */}}

{{- define "radixserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; components append -router, -prefill, -decode, -unified, -redis, -nats. */}}
{{- define "radixserve.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "radixserve.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "radixserve.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "radixserve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "radixserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: radixserve
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "router"). */}}
{{- define "radixserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "radixserve.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "radixserve.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The worker roles this release runs: "unified", or "prefill" and "decode". */}}
{{- define "radixserve.workerRoles" -}}
{{- if eq .Values.disaggMode "unified" -}}
unified
{{- else if eq .Values.disaggMode "disagg" -}}
prefill decode
{{- else -}}
{{- fail (printf "disaggMode must be unified or disagg, got %q" .Values.disaggMode) -}}
{{- end -}}
{{- end -}}

{{- define "radixserve.redisUrl" -}}
{{- if .Values.redis.externalUrl -}}
{{- .Values.redis.externalUrl -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:%d" (include "radixserve.fullname" .) (int .Values.redis.port) -}}
{{- else -}}
{{- fail "cluster.enabled needs Redis: set redis.enabled=true or redis.externalUrl" -}}
{{- end -}}
{{- end -}}

{{- define "radixserve.natsUrl" -}}
{{- if .Values.nats.externalUrl -}}
{{- .Values.nats.externalUrl -}}
{{- else if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:%d" (include "radixserve.fullname" .) (int .Values.nats.port) -}}
{{- end -}}
{{- end -}}

{{/* The model volume of a pod (source: generate | pvc | hostPath). */}}
{{- define "radixserve.modelVolume" -}}
- name: model
{{- if eq .Values.model.source "generate" }}
  emptyDir: {}
{{- else if eq .Values.model.source "pvc" }}
  {{- if not .Values.model.pvc.claimName }}
  {{- fail "model.source=pvc needs model.pvc.claimName" }}
  {{- end }}
  persistentVolumeClaim:
    claimName: {{ .Values.model.pvc.claimName }}
    readOnly: true
{{- else if eq .Values.model.source "hostPath" }}
  {{- if not .Values.model.hostPath.path }}
  {{- fail "model.source=hostPath needs model.hostPath.path" }}
  {{- end }}
  hostPath:
    path: {{ .Values.model.hostPath.path }}
    type: {{ .Values.model.hostPath.type }}
{{- else }}
{{- fail (printf "model.source must be generate, pvc or hostPath, got %q" .Values.model.source) }}
{{- end }}
{{- end -}}

{{- define "radixserve.modelMount" -}}
- name: model
  mountPath: {{ .Values.model.mountPath }}
  readOnly: {{ ne .Values.model.source "generate" }}
{{- end -}}

{{/* With source=generate: an init container that writes the tiny model into the pod's emptyDir. */}}
{{- define "radixserve.modelInit" -}}
{{- if eq .Values.model.source "generate" -}}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" .Values.model.mountPath)) .Values.model.path) -}}
{{- fail "model.path must be inside model.mountPath" -}}
{{- end -}}
- name: make-model
  image: {{ include "radixserve.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    {{- include "radixserve.makeModelArgs" . | nindent 4 }}
  volumeMounts:
    - name: model
      mountPath: {{ .Values.model.mountPath }}
    {{- include "radixserve.tmpMount" . | nindent 4 }}
  resources:
    requests: { cpu: 200m, memory: 256Mi }
    limits: { memory: 1Gi }
  securityContext:
    {{- include "radixserve.containerSecurityContext" . | nindent 4 }}
{{- end -}}
{{- end -}}

{{/*
Pod Security "restricted": the pod-level part (call with a uid). Non-root, the runtime's default
seccomp profile, files written into volumes owned by the pod's group.
*/}}
{{- define "radixserve.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod Security "restricted": the container-level part, plus a read-only root filesystem. */}}
{{- define "radixserve.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* What every pod of the release shares: the ServiceAccount without a token, pull secrets. */}}
{{- define "radixserve.podIdentity" -}}
serviceAccountName: {{ include "radixserve.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "radixserve.serviceAccountName" -}}
{{- default (include "radixserve.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The writable scratch space of a read-only container: /tmp. */}}
{{- define "radixserve.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "radixserve.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{/* The workers' image: the CUDA image with gpu.enabled, else the CPU one. */}}
{{- define "radixserve.workerImage" -}}
{{- if .Values.gpu.enabled -}}
{{- $repo := default .Values.image.repository .Values.gpu.image.repository -}}
{{- $tag := default (printf "%s-cuda" (default .Chart.AppVersion .Values.image.tag)) .Values.gpu.image.tag -}}
{{- printf "%s:%s" $repo $tag -}}
{{- else -}}
{{- include "radixserve.image" . -}}
{{- end -}}
{{- end -}}

{{/* Whether worker pods get a memory-backed /dev/shm: "true" or "". */}}
{{- define "radixserve.devShm" -}}
{{- $mode := .Values.workers.devShm.mode -}}
{{- if eq $mode "always" -}}
true
{{- else if eq $mode "auto" -}}
{{- if or (gt (int .Values.tp) 1) (eq .Values.kvTransport "auto") }}true{{ end -}}
{{- else if ne $mode "never" -}}
{{- fail (printf "workers.devShm.mode must be auto, always or never, got %q" $mode) -}}
{{- end -}}
{{- end -}}

{{/* The cluster secret (clusterSecret.name): a Secret mounted read-only as a file into the router
     and every worker, which read it with --cluster-secret-file. Empty name: nothing mounted. */}}
{{- define "radixserve.clusterSecretPath" -}}
{{- printf "/etc/radixserve/cluster-secret/%s" .Values.clusterSecret.key -}}
{{- end -}}

{{- define "radixserve.clusterSecretMount" -}}
{{- if .Values.clusterSecret.name }}
- name: cluster-secret
  mountPath: /etc/radixserve/cluster-secret
  readOnly: true
{{- end }}
{{- end -}}

{{- define "radixserve.clusterSecretVolume" -}}
{{- if .Values.clusterSecret.name }}
- name: cluster-secret
  secret:
    secretName: {{ .Values.clusterSecret.name }}
    # Readable by the pod's group (fsGroup 1000, the user the processes run as), nobody else.
    defaultMode: 0440
{{- end }}
{{- end -}}
