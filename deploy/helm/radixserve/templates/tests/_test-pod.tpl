{{/*
A `helm test` pod: runs a Node script (the CPU image's node) against the router's Service and
exits non-zero on a wrong answer. Call with (dict "ctx" $ "name" "health" "script" "...").
*/}}
{{- define "radixserve.testPod" -}}
{{- $ctx := .ctx -}}
{{- $full := include "radixserve.fullname" $ctx -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ $full }}-test-{{ .name }}
  labels:
    {{- include "radixserve.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: test
  annotations:
    helm.sh/hook: test
    # Kept after a failure (its log says why) until the next `helm test` replaces it.
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  {{- include "radixserve.podIdentity" $ctx | nindent 2 }}
  securityContext:
    {{- include "radixserve.podSecurityContext" 1000 | nindent 4 }}
  containers:
    - name: {{ .name }}
      image: {{ include "radixserve.image" $ctx }}
      imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
      command: ["node", "--input-type=module", "-e"]
      args:
        - {{ .script | quote }}
      env:
        - name: BASE_URL
          value: {{ printf "http://%s-router:%d" $full (int $ctx.Values.router.service.port) | quote }}
        {{- if $ctx.Values.router.apiKeySecret.name }}
        - name: API_KEY
          valueFrom:
            secretKeyRef:
              name: {{ $ctx.Values.router.apiKeySecret.name }}
              key: {{ $ctx.Values.router.apiKeySecret.key }}
        {{- end }}
        - name: MAX_TOKENS
          value: {{ $ctx.Values.tests.maxTokens | quote }}
      resources:
        requests: { cpu: 50m, memory: 64Mi }
        limits: { memory: 256Mi }
      securityContext:
        {{- include "radixserve.containerSecurityContext" $ctx | nindent 8 }}
{{- end -}}
