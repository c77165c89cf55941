// Validates custom resources (KEDA, prometheus-operator, cert-manager) against the @kubernetes-models schemas.
// Usage: node validate_crds.mjs NODE_MODULES_DIR < objects.json   (stdin: a JSON array of objects)
// Prints one line per object ("OK kind/name" or "FAIL kind/name: errors") and exits 1 when any object fails.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.mjs",
  "monitoring.coreos.com/v1/ServiceMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
  "cert-manager.io/v1/Issuer": "@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer.mjs",
  "cert-manager.io/v1/ClusterIssuer": "@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer.mjs",
};

const modulesDir = process.argv[2];
let failed = 0;
for (const doc of JSON.parse(readFileSync(0, "utf8"))) {
  const id = `${doc.kind}/${doc.metadata && doc.metadata.name}`;
  const file = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!file) {
    console.log(`FAIL ${id}: no model for ${doc.apiVersion} ${doc.kind}`);
    failed += 1;
    continue;
  }
  const module = await import(pathToFileURL(join(modulesDir, file)).href);
  try {
    new module[doc.kind](doc).validate();
    console.log(`OK ${id}`);
  } catch (err) {
    console.log(`FAIL ${id}: ${err.message}`);
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
