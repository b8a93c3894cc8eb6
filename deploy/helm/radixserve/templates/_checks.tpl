{{/*
Values the schema cannot refuse alone: checked at template time, so `helm install` fails with a
message instead of a pod crash-looping.
*/}}

{{/*
The shapes of `radixserve make-model`'s presets (packages/core/src/model/presets.ts; a test keeps
the two equal): attention heads, KV heads, MLP width.
*/}}
{{- define "radixserve.presetShapes" -}}
tiny: { attentionHeads: 6, kvHeads: 6, intermediateSize: 768 }
small: { attentionHeads: 12, kvHeads: 12, intermediateSize: 2048 }
tiny-gqa: { attentionHeads: 6, kvHeads: 2, intermediateSize: 768 }
tiny-qwen2: { attentionHeads: 6, kvHeads: 3, intermediateSize: 768 }
{{- end -}}

{{/*
The engine splits attention heads, KV heads and the MLP across `tp` ranks and refuses a tp that
does not divide all three (the worker would exit at start-up, again and again). Refused here where
the chart knows the model's shape: the generated preset's, or model.shape.
*/}}
{{- define "radixserve.checkTp" -}}
{{- $tp := int .Values.tp -}}
{{- if lt $tp 1 -}}
{{- fail "tp must be >= 1" -}}
{{- end -}}
{{- $shape := dict -}}
{{- $what := "" -}}
{{- if eq .Values.model.source "generate" -}}
{{- $presets := include "radixserve.presetShapes" . | fromYaml -}}
{{- $shape = index $presets .Values.model.generate.preset | default dict -}}
{{- if not $shape -}}
{{- fail (printf "model.generate.preset must be one of %s, got %q" (keys $presets | sortAlpha | join ", ") .Values.model.generate.preset) -}}
{{- end -}}
{{- $what = printf "the %s preset" .Values.model.generate.preset -}}
{{- else -}}
{{- $shape = .Values.model.shape -}}
{{- $what = printf "model.shape (%s)" .Values.model.path -}}
{{- end -}}
{{- $bad := list -}}
{{- range $key, $label := dict "attentionHeads" "attention heads" "kvHeads" "KV heads" "intermediateSize" "intermediate size" -}}
{{- $n := index $shape $key -}}
{{- if and (not (kindIs "invalid" $n)) (ne (mod (int $n) $tp) 0) -}}
{{- $bad = append $bad (printf "%s %d" $label (int $n)) -}}
{{- end -}}
{{- end -}}
{{- if $bad -}}
{{- fail (printf "tp=%d does not divide the %s of %s: pick a tp that divides each" $tp (join ", " $bad) $what) -}}
{{- end -}}
{{- end -}}

{{/* A NetworkPolicy in front of the workers would drop the PodMonitor's scrapes without metricsFrom. */}}
{{- define "radixserve.checkMonitoring" -}}
{{- if and .Values.monitoring.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.metricsFrom) -}}
{{- fail "monitoring.enabled with networkPolicy.enabled needs networkPolicy.metricsFrom: the peers your Prometheus scrapes from (e.g. a namespaceSelector), or the workers' metrics port stays closed to it" -}}
{{- end -}}
{{- end -}}
