{{/*
Command lines of every RadixServe process. All the flags the chart writes itself live in this
file, so test/deploy/dashboards.test.ts can check each `--flag` literal here against the CLI's
--help (router flags in the "radixserve.routerArgs" block, worker flags in "radixserve.workerArgs").
*/}}

{{/* A values `flags` map as args: `--key value`; true = bare flag; null and false are left out. */}}
{{- define "radixserve.flagArgs" -}}
{{- range $key, $value := . }}
{{- if kindIs "bool" $value }}
{{- if $value }}
- {{ printf "--%s" $key | quote }}
{{- end }}
{{- else if not (kindIs "invalid" $value) }}
{{- $text := toString $value }}
{{- /* YAML numbers arrive as float64: print 1048576, not 1.048576e+06. */}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) }}
{{- $text = toString (int64 $value) }}
{{- end }}
- {{ printf "--%s" $key | quote }}
- {{ $text | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* host:port of every worker pod, for --worker-urls (StatefulSet pods behind headless Services). */}}
{{- define "radixserve.workerUrls" -}}
{{- $urls := list -}}
{{- $full := include "radixserve.fullname" . -}}
{{- range $role := splitList " " (include "radixserve.workerRoles" .) -}}
{{- $group := index $.Values.workers $role -}}
{{- range $i := until (int $group.replicas) -}}
{{- $urls = append $urls (printf "%s-%s-%d.%s-%s.%s.svc:%d" $full $role $i $full $role $.Release.Namespace (int $.Values.workers.grpcPort)) -}}
{{- end -}}
{{- end -}}
{{- if eq (len $urls) 0 -}}
{{- fail "the router needs at least one worker: raise the worker replicas" -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{- define "radixserve.routerArgs" -}}
- router
- --host
- "0.0.0.0"
- --port
- {{ .Values.router.port | quote }}
# The tokenizer and chat template come from the same model directory the workers load.
- --tokenizer-path
- {{ .Values.model.path | quote }}
{{- if .Values.cluster.enabled }}
- --redis-url
- {{ include "radixserve.redisUrl" . | quote }}
{{- with include "radixserve.natsUrl" . }}
- --nats-url
- {{ . | quote }}
{{- end }}
- --policy
- {{ .Values.cluster.policy | quote }}
{{- else }}
- --worker-urls
- {{ include "radixserve.workerUrls" . | quote }}
{{- end }}
{{- if .Values.router.apiKeySecret.name }}
# Kubernetes expands $(VAR) in args: the key stays in the Secret, not in the pod spec.
- --api-key
- $(RADIXSERVE_API_KEY)
{{- end }}
{{- if .Values.clusterSecret.name }}
# Calls to the workers carry the cluster secret (a Secret mounted as a file, never an argument).
- --cluster-secret-file
- {{ include "radixserve.clusterSecretPath" . | quote }}
{{- end }}
{{- include "radixserve.flagArgs" .Values.router.flags }}
{{- with .Values.router.extraArgs }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}

{{/* Worker args: call with (dict "ctx" $ "role" "unified|prefill|decode"). */}}
{{- define "radixserve.workerArgs" -}}
{{- $v := .ctx.Values -}}
{{- $group := index $v.workers .role -}}
{{- if not (has $v.kvTransport (list "tcp" "auto" "grpc" "rdma")) -}}
{{- fail (printf "kvTransport must be tcp, auto, grpc or rdma, got %q (shm alone needs both workers in one pod)" $v.kvTransport) -}}
{{- end -}}
{{- include "radixserve.checkTp" .ctx -}}
- worker
- --disagg-mode
- {{ .role | quote }}
- --model-path
- {{ $v.model.path | quote }}
- --host
- "0.0.0.0"
- --port
- {{ $v.workers.grpcPort | quote }}
- --metrics-port
- {{ $v.workers.metricsPort | quote }}
- --tp
- {{ $v.tp | quote }}
{{- if ne .role "unified" }}
- --kv-transport
- {{ $v.kvTransport | quote }}
{{- if eq .role "decode" }}
# The tcp data plane listens on 0.0.0.0: prefill workers in other pods dial the pod's own IP.
- --kv-advertise-host
- "$(POD_IP)"
{{- if has $v.kvTransport (list "tcp" "auto") }}
# A fixed port (the container's "kv" port) so network policies can name it.
- --kv-port
- {{ $v.workers.kvPort | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.clusterSecret.name }}
# gRPC calls and KV tcp connections must carry / prove the cluster secret (mounted as a file).
- --cluster-secret-file
- {{ include "radixserve.clusterSecretPath" .ctx | quote }}
{{- end }}
{{- if $v.cluster.enabled }}
- --redis-url
- {{ include "radixserve.redisUrl" .ctx | quote }}
{{- with include "radixserve.natsUrl" .ctx }}
- --nats-url
- {{ . | quote }}
{{- end }}
# The address routers dial and the worker's id in discovery and KV events.
- --advertise-address
- {{ printf "$(POD_IP):%d" (int $v.workers.grpcPort) | quote }}
{{- end }}
{{- $flags := merge (deepCopy ($group.flags | default dict)) (deepCopy $v.workers.flags) }}
{{- /* Engine threads default to every core Node sees, which in a pod is the node's core count,
     not the pod's CPU request: oversubscribed spinning threads collapse. Use the request instead. */}}
{{- $cpu := toString (dig "requests" "cpu" "" ($group.resources | default dict)) }}
{{- if and (kindIs "invalid" (index $flags "threads")) (ne $cpu "") }}
{{- $threads := 0 }}
{{- if hasSuffix "m" $cpu }}
{{- $threads = div (add (atoi (trimSuffix "m" $cpu)) 999) 1000 }}
{{- else }}
{{- $threads = int (ceil (float64 $cpu)) }}
{{- end }}
{{- $_ := set $flags "threads" (max 1 $threads) }}
{{- end }}
{{- include "radixserve.flagArgs" $flags }}
{{- with $v.workers.extraArgs }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}

{{- define "radixserve.makeModelArgs" -}}
- make-model
- --preset
- {{ .Values.model.generate.preset | quote }}
- --dtype
- {{ .Values.model.generate.dtype | quote }}
- --out
- {{ .Values.model.path | quote }}
{{- if not (kindIs "invalid" .Values.model.generate.seed) }}
- --seed
- {{ .Values.model.generate.seed | quote }}
{{- end }}
{{- end -}}
