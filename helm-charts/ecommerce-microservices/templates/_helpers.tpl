{{/*
Shared definitions. Every object name is the plain component name the operations manual uses
(service-discovery, user-service, postgres, ...), never prefixed with the release name: other components,
scripts and the manual find each other by these names.
*/}}

{{/* The namespace every namespaced object goes to: values.namespace, else the release namespace. */}}
{{- define "ecommerce.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "ecommerce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every object of the chart. */}}
{{- define "ecommerce.commonLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ecommerce
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "ecommerce.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Labels of one component (object metadata and pod templates).
Call with (dict "ctx" $ "name" "user-service" "tier" "business").
*/}}
{{- define "ecommerce.labels" -}}
app: {{ .name }}
tier: {{ .tier }}
version: {{ .ctx.Values.version | quote }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .tier }}
app.kubernetes.io/version: {{ include "ecommerce.imageTag" .ctx | quote }}
{{ include "ecommerce.commonLabels" .ctx }}
{{- end -}}

{{/* Selector labels of one component: the manual's `-l app=<name>` plus the release. */}}
{{- define "ecommerce.selectorLabels" -}}
app: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/*
The blue-green colour. Pods of every component but the registry (a StatefulSet the scripts never switch) carry
`color`, and their Service selects it. Deployment selectors stay without it (they are immutable); the colour
Deployments blue-green-deploy.sh creates add theirs.
*/}}
{{- define "ecommerce.hasColor" -}}
{{- if ne .name "service-discovery" }}true{{ end -}}
{{- end -}}

{{/*
The colour a component's Service selects: the one the live Service already selects (blue-green-deploy.sh may
have switched it; an upgrade must not switch it back), else values.color. Call with (dict "ctx" $ "name" N).
*/}}
{{- define "ecommerce.serviceColor" -}}
{{- $live := lookup "v1" "Service" (include "ecommerce.namespace" .ctx) .name -}}
{{- if and $live $live.spec $live.spec.selector (hasKey $live.spec.selector "color") -}}
{{- index $live.spec.selector "color" -}}
{{- else -}}
{{- .ctx.Values.color -}}
{{- end -}}
{{- end -}}

{{- define "ecommerce.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* The one image every component runs: repository:tag, or repository@digest when a digest is pinned. */}}
{{- define "ecommerce.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "ecommerce.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/*
The component's settings: the shared defaults, then the component table's facts (files/components.yaml: tier, port,
actuatorBase, database name and username; generated from src/ecommerce/components.py), then its values.
Call with (dict "ctx" $ "name" NAME); returns YAML.
*/}}
{{- define "ecommerce.component" -}}
{{- $table := index (.ctx.Files.Get "files/components.yaml" | fromYaml) .name | default dict -}}
{{- $c := index .ctx.Values.components .name -}}
{{- $merged := mergeOverwrite (deepCopy .ctx.Values.defaults) (deepCopy $table) (deepCopy $c) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Where the components find the registry, the config server and the storefront's keys: the values, else each
component's Service on its port from the component table. Call with the root context. */}}
{{- define "ecommerce.discoveryUrl" -}}
{{- $port := include "ecommerce.port" (dict "ctx" . "name" "service-discovery") -}}
{{- .Values.discovery.url | default (printf "http://service-discovery:%s/eureka/" $port) -}}
{{- end -}}
{{- define "ecommerce.configServerUrl" -}}
{{- $port := include "ecommerce.port" (dict "ctx" . "name" "cloud-config-server") -}}
{{- .Values.configServer.url | default (printf "http://cloud-config-server:%s" $port) -}}
{{- end -}}
{{- define "ecommerce.jwksUrl" -}}
{{- $storefront := include "ecommerce.component" (dict "ctx" . "name" "proxy-client") | fromYaml -}}
{{- $path := trimSuffix "/actuator" $storefront.actuatorBase -}}
{{- .Values.auth.jwksUrl | default (printf "http://proxy-client:%d%s/.well-known/jwks.json" (int $storefront.port) $path) -}}
{{- end -}}

{{/* A component's port, from the component table. Call with (dict "ctx" $ "name" NAME). */}}
{{- define "ecommerce.port" -}}
{{- (index (.ctx.Files.Get "files/components.yaml" | fromYaml) .name).port -}}
{{- end -}}

{{/* Probe paths, derived from the actuator base (the contract's table) unless given explicitly. */}}
{{- define "ecommerce.livenessPath" -}}
{{- .probePaths.liveness | default (printf "%s/health/liveness" .actuatorBase) -}}
{{- end -}}
{{- define "ecommerce.readinessPath" -}}
{{- .probePaths.readiness | default (printf "%s/health/readiness" .actuatorBase) -}}
{{- end -}}

{{/* The name of the Secret holding a component's database credentials. Call with (dict "name" N "db" DB). */}}
{{- define "ecommerce.dbSecretName" -}}
{{- .db.existingSecret | default (printf "%s-secret" .name) -}}
{{- end -}}

{{/*
A secret value: the explicit value, else the value already stored in the cluster (so upgrades keep it),
else a random one remembered for the rest of this render (so two objects that carry the same password agree).
Call with (dict "ctx" $ "secret" SECRET_NAME "key" KEY "value" EXPLICIT "length" N).
*/}}
{{- define "ecommerce.secretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $memoKey := printf "%s/%s" .secret .key -}}
{{- $store := get .ctx.Values "generatedSecrets" | default dict -}}
{{- if hasKey $store $memoKey -}}
{{- get $store $memoKey -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" (include "ecommerce.namespace" .ctx) .secret -}}
{{- $value := "" -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- $value = index $existing.data .key | b64dec -}}
{{- else -}}
{{- $value = randAlphaNum (.length | default 32) -}}
{{- end -}}
{{- $_ := set $store $memoKey $value -}}
{{- $_ := set .ctx.Values "generatedSecrets" $store -}}
{{- $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A service's database credential (key database.username or database.password of <service>-secret). When the
Secret already exists in the cluster, its current value is kept, whatever the values say: rotate-secrets.sh
changes the role in PostgreSQL together with the Secret, and an upgrade writing the values' username or password
back would lock the service out. Otherwise: the values' username; the values' password, else a generated one.
Call with (dict "ctx" $ "name" N "c" COMPONENT "key" KEY).
*/}}
{{- define "ecommerce.dbCredential" -}}
{{- $secret := printf "%s-secret" .name -}}
{{- $live := lookup "v1" "Secret" (include "ecommerce.namespace" .ctx) $secret -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- index $live.data .key | b64dec -}}
{{- else if eq .key "database.username" -}}
{{- .c.database.username -}}
{{- else -}}
{{- include "ecommerce.secretValue" (dict "ctx" .ctx "secret" $secret "key" .key "value" .c.database.password) -}}
{{- end -}}
{{- end -}}

{{/*
One key of identity-secret: the cluster's value when the Secret exists (rotate-secrets.sh changed it; an upgrade
writing the values back would undo a rotation), else the values', else the generated one.
Call with (dict "ctx" $ "key" KEY "value" FROM_VALUES "generated" RANDOM).
*/}}
{{- define "ecommerce.identityValue" -}}
{{- $live := lookup "v1" "Secret" (include "ecommerce.namespace" .ctx) "identity-secret" -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- index $live.data .key | b64dec -}}
{{- else -}}
{{- .value | default .generated -}}
{{- end -}}
{{- end -}}

{{/* The identity secrets as environment variables (every component). (dict "ctx" $) */}}
{{- define "ecommerce.identityEnv" -}}
{{- $secret := .ctx.Values.identity.existingSecret | default "identity-secret" -}}
{{- range $env, $key := dict "SERVICE_KEYS" "service-keys" "OPERATOR_PASSWORD" "operator-password" "PROMETHEUS_PASSWORD" "prometheus-password" }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* Pod security context shared by every pod of the chart. */}}
{{- define "ecommerce.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context shared by every container of the chart. */}}
{{- define "ecommerce.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The Prometheus-operator / Grafana objects' extra labels (e.g. release: kube-prometheus-stack). */}}
{{- define "ecommerce.monitoringLabels" -}}
{{ include "ecommerce.commonLabels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Name of a monitoring-namespace object, suffixed per environment so dev, qa and prod never overwrite each other. */}}
{{- define "ecommerce.monitoringName" -}}
{{- printf "%s%s" .name .ctx.Values.monitoring.nameSuffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Database credentials from the service's Secret and the URL composed from them. (dict "ctx" $ "name" N "c" C) */}}
{{- define "ecommerce.databaseEnv" -}}
- name: DATABASE_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "ecommerce.dbSecretName" (dict "name" .name "db" .c.database) }}
      key: database.username
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "ecommerce.dbSecretName" (dict "name" .name "db" .c.database) }}
      key: database.password
- name: DATABASE_URL
  value: "postgresql+asyncpg://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)@postgres:5432/{{ .c.database.name }}"
{{- end -}}

{{/* storageClassName line of a PVC: the chart's own class when it creates one, else storage.className, else none. */}}
{{- define "ecommerce.storageClassName" -}}
{{- if .Values.storage.storageClass.create -}}
storageClassName: {{ .Values.storage.storageClass.name }}
{{- else if .Values.storage.className -}}
storageClassName: {{ .Values.storage.className }}
{{- end -}}
{{- end -}}

{{/* Scale up quickly, scale down slowly and gently. */}}
{{- define "ecommerce.hpaBehavior" -}}
scaleUp:
  stabilizationWindowSeconds: 0
  selectPolicy: Max
  policies:
    - type: Percent
      value: 100
      periodSeconds: 30
    - type: Pods
      value: 2
      periodSeconds: 30
scaleDown:
  stabilizationWindowSeconds: {{ .Values.autoscaling.scaleDownStabilizationSeconds }}
  selectPolicy: Max
  policies:
    - type: Percent
      value: 50
      periodSeconds: 60
{{- end -}}
