import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServeConfig } from "../../src/config/load.js";
import { SETTINGS } from "../../src/config/settings.js";
import { Health as GrpcHealth, HealthCheckResponse_ServingStatus as GrpcStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { startTestService, type TestService } from "../support/service.js";
import { deployDir, isObject, type Json, type JsonObject, kustomize, type Manifest, podSpecOf, readYamlDocuments, strategicMerge } from "./kustomize.js";

/** The JSON-schema validator of each kind deploy/ may contain. */
const MODELS: Readonly<Record<string, (object: Manifest) => { validate(): void }>> = {
  "v1/Namespace": (o) => new Namespace(o as never),
  "v1/ConfigMap": (o) => new ConfigMap(o as never),
  "v1/Secret": (o) => new Secret(o as never),
  "v1/Service": (o) => new Service(o as never),
  "apps/v1/Deployment": (o) => new Deployment(o as never),
  "apps/v1/StatefulSet": (o) => new StatefulSet(o as never),
  "networking.k8s.io/v1/NetworkPolicy": (o) => new NetworkPolicy(o as never),
  "policy/v1/PodDisruptionBudget": (o) => new PodDisruptionBudget(o as never),
};

const NAMESPACE = "armada-jobservice";
const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
const SETTING_NAMES = new Set<string>(SETTINGS.map((s) => s.env));
const KUSTOMIZATIONS = { base: kustomize(deployDir("base")), redis: kustomize(deployDir("redis")) };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

function obj(value: Json | undefined, where: string): JsonObject {
  if (!isObject(value)) throw new Error(`${where}: expected a mapping`);
  return value;
}

function list(value: Json | undefined): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function only(objects: readonly Manifest[], kind: string, name: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0] as Manifest;
}

function selects(selector: Json | undefined, labels: Json | undefined): boolean {
  const matchLabels = obj(obj(selector, "selector").matchLabels, "matchLabels");
  const podLabels = obj(labels, "labels");
  return Object.keys(matchLabels).length > 0 && Object.entries(matchLabels).every(([key, value]) => podLabels[key] === value);
}

const workloads = (objects: readonly Manifest[]) => objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
const podLabelsOf = (workload: Manifest) => obj(obj(obj(workload.spec, "spec").template, "template").metadata, "metadata").labels;
const jobService = (objects: readonly Manifest[]) => only(objects, "Deployment", "armada-jobservice");
const containerOf = (deployment: Manifest) =>
  obj(
    list(podSpecOf(deployment)?.containers).find((c) => c.name === "jobservice"),
    "container jobservice",
  );

/** The container's environment as the kubelet would build it: ConfigMap keys first, `env` entries over them. */
function environment(objects: readonly Manifest[], container: JsonObject): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of list(container.envFrom)) {
    const name = obj(source.configMapRef, "envFrom.configMapRef").name as string;
    Object.assign(env, obj(only(objects, "ConfigMap", name).data, "data"));
  }
  for (const entry of list(container.env)) {
    const name = entry.name as string;
    if (typeof entry.value === "string") env[name] = entry.value;
    const from = isObject(entry.valueFrom) ? entry.valueFrom : {};
    if (isObject(from.secretKeyRef)) {
      const secret = only(objects, "Secret", from.secretKeyRef.name as string);
      env[name] = String(
        { ...(isObject(secret.data) ? secret.data : {}), ...(isObject(secret.stringData) ? secret.stringData : {}) }[from.secretKeyRef.key as string] ?? "",
      );
    }
    if (isObject(from.fieldRef)) env[name] = "pod-name";
  }
  return env;
}

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.stop());

describe("deploy/", () => {
  it("uses every YAML file it holds from a kustomization", () => {
    const used = new Set<string>();
    for (const file of yamlFiles(deployDir()).filter((f) => f.endsWith("kustomization.yaml"))) {
      const [kustomization] = readYamlDocuments(file);
      const dir = join(file, "..");
      used.add(file);
      for (const entry of [
        ...list(obj(kustomization, file).patches).map((p) => p.path),
        ...((obj(kustomization, file).resources as Json[] | undefined) ?? []),
      ]) {
        if (typeof entry === "string" && entry.endsWith(".yaml")) used.add(join(dir, entry));
      }
    }
    expect(
      yamlFiles(deployDir())
        .map((f) => relative(deployDir(), f))
        .sort(),
    ).toEqual([...used].map((f) => relative(deployDir(), f)).sort());
  });

  it("renders like kustomize's strategic merge: lists merge by their key, null deletes", () => {
    const base: Json = { spec: { maxUnavailable: 1, containers: [{ name: "a", image: "x", env: [{ name: "E", value: "1" }] }] } };
    const patch: Json = { spec: { maxUnavailable: null, minAvailable: 1, containers: [{ name: "a", env: [{ name: "F", value: "2" }] }] } };
    expect(strategicMerge(base, patch)).toEqual({
      spec: {
        minAvailable: 1,
        containers: [
          {
            name: "a",
            image: "x",
            env: [
              { name: "E", value: "1" },
              { name: "F", value: "2" },
            ],
          },
        ],
      },
    });
  });
});

describe.each(Object.entries(KUSTOMIZATIONS))("kubectl apply -k deploy/%s", (_name, objects) => {
  it("holds only objects that pass their kind's Kubernetes API schema", () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(model, `a schema for ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => model?.(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it("puts everything in one namespace, each object once", () => {
    only(objects, "Namespace", NAMESPACE);
    for (const object of objects.filter((o) => o.kind !== "Namespace")) expect(object.metadata.namespace, object.metadata.name).toBe(NAMESPACE);
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("runs the image of this version", () => {
    expect(containerOf(jobService(objects)).image).toBe(`armada-jobservice:${VERSION}`);
  });

  it("probes liveness and readiness over grpc.health.v1 on the service port, with names the service answers SERVING", async () => {
    const container = containerOf(jobService(objects));
    const port = list(container.ports).find((p) => p.name === "grpc");
    expect(port?.containerPort).toBe(Number(environment(objects, container).JOBSERVICE_PORT ?? "60003"));
    const health = createClient(GrpcHealth, createGrpcTransport({ baseUrl: service.url }));
    const names: string[] = [];
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      const grpc = obj(obj(container[probe], probe).grpc, `${probe}.grpc`);
      expect(grpc.port, probe).toBe(port?.containerPort);
      const name = typeof grpc.service === "string" ? grpc.service : "";
      names.push(name);
      expect((await health.check({ service: name })).status, `${probe} service "${name}"`).toBe(GrpcStatus.SERVING);
    }
    // Liveness must not depend on Armada or the store; readiness must.
    expect(names).toEqual(["liveness", ""]);
  });

  it("runs every container as non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp, with resources", () => {
    for (const workload of workloads(objects)) {
      const pod = obj(podSpecOf(workload), workload.metadata.name);
      const podSecurity = obj(pod.securityContext, "securityContext");
      expect(podSecurity.runAsNonRoot, workload.metadata.name).toBe(true);
      expect(podSecurity.runAsUser).toBeGreaterThan(0);
      expect(obj(podSecurity.seccompProfile, "seccompProfile").type).toBe("RuntimeDefault");
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.enableServiceLinks, "no injected service variables").toBe(false);
      for (const container of list(pod.containers)) {
        const where = `${workload.metadata.name}/${String(container.name)}`;
        const security = obj(container.securityContext, `${where} securityContext`);
        expect(security.allowPrivilegeEscalation, where).toBe(false);
        expect(security.readOnlyRootFilesystem, where).toBe(true);
        expect(security.runAsNonRoot, where).toBe(true);
        expect(obj(security.capabilities, "capabilities").drop, where).toEqual(["ALL"]);
        const resources = obj(container.resources, `${where} resources`);
        expect(Object.keys(obj(resources.requests, "requests")).sort(), where).toEqual(["cpu", "memory"]);
        expect(obj(resources.limits, "limits").memory, where).toBeDefined();
      }
    }
  });

  it("has a PodDisruptionBudget that selects the Job Service's pods and no others, and lets a drain proceed", () => {
    const deployment = jobService(objects);
    const pdb = only(objects, "PodDisruptionBudget", "armada-jobservice");
    const spec = obj(pdb.spec, "spec");
    expect(selects(spec.selector, podLabelsOf(deployment))).toBe(true);
    for (const other of workloads(objects).filter((w) => w !== deployment)) expect(selects(spec.selector, podLabelsOf(other)), other.metadata.name).toBe(false);
    const replicas = obj(deployment.spec, "spec").replicas as number;
    const allowed = spec.maxUnavailable !== undefined ? (spec.maxUnavailable as number) : replicas - (spec.minAvailable as number);
    expect(spec.maxUnavailable === undefined || spec.minAvailable === undefined, "one of minAvailable and maxUnavailable").toBe(true);
    expect(allowed).toBeGreaterThanOrEqual(1);
  });

  it("has Services that select exactly their workload's pods and target a port the container opens", () => {
    for (const svc of objects.filter((o) => o.kind === "Service")) {
      const spec = obj(svc.spec, "spec");
      const targets = workloads(objects).filter((w) => selects({ matchLabels: spec.selector as Json }, podLabelsOf(w)));
      expect(targets, `Service ${svc.metadata.name}`).toHaveLength(1);
      const containerPorts = list(podSpecOf(targets[0] as Manifest)?.containers).flatMap((c) => list(c.ports));
      for (const port of list(spec.ports)) {
        expect(
          containerPorts.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort),
          `${svc.metadata.name} → ${String(port.targetPort)}`,
        ).toBe(true);
      }
    }
    const jobServicePort = list(obj(only(objects, "Service", "armada-jobservice").spec, "spec").ports)[0];
    expect(jobServicePort?.port).toBe(60003);
  });

  it("references only ConfigMaps, Secrets and keys that exist", () => {
    for (const workload of workloads(objects)) {
      for (const container of list(podSpecOf(workload)?.containers)) {
        for (const source of list(container.envFrom)) only(objects, "ConfigMap", obj(source.configMapRef, "configMapRef").name as string);
        for (const entry of list(container.env)) {
          const ref = isObject(entry.valueFrom) ? entry.valueFrom.secretKeyRef : undefined;
          if (!isObject(ref)) continue;
          const secret = only(objects, "Secret", ref.name as string);
          const keys = [...Object.keys(isObject(secret.data) ? secret.data : {}), ...Object.keys(isObject(secret.stringData) ? secret.stringData : {})];
          expect(keys, `${String(entry.name)} from Secret ${String(ref.name)}`).toContain(ref.key);
        }
      }
    }
  });

  it("sets only real settings, with values `jobservice serve` accepts", () => {
    const env = environment(objects, containerOf(jobService(objects)));
    for (const name of Object.keys(env)) expect(SETTING_NAMES.has(name), `${name} is a setting in src/config/settings.ts`).toBe(true);
    expect(() => loadServeConfig(env, [])).not.toThrow();
  });

  it("listens on every address itself, not relying on the image's environment (the command line defaults to loopback)", () => {
    expect(environment(objects, containerOf(jobService(objects))).JOBSERVICE_HOST).toBe("0.0.0.0");
  });

  it("runs one replica with the memory store and several only with a shared store", () => {
    const config = loadServeConfig(environment(objects, containerOf(jobService(objects))), []);
    const replicas = obj(jobService(objects).spec, "spec").replicas as number;
    if (config.store.kind === "memory") expect(replicas).toBe(1);
    else expect(replicas).toBeGreaterThanOrEqual(2);
  });
});

describe("deploy/redis", () => {
  const objects = KUSTOMIZATIONS.redis;

  it("runs at least two replicas against the Redis it ships, through that Redis's Service", () => {
    expect(obj(jobService(objects).spec, "spec").replicas).toBeGreaterThanOrEqual(2);
    const config = loadServeConfig(environment(objects, containerOf(jobService(objects))), []);
    expect(config.store.kind).toBe("redis");
    const url = new URL(config.store.kind === "redis" ? config.store.url : "");
    const redisService = only(objects, "Service", url.hostname);
    expect(list(obj(redisService.spec, "spec").ports).map((p) => p.port)).toContain(Number(url.port));
    only(objects, "StatefulSet", url.hostname);
  });

  it("lets only the Job Service's pods reach Redis", () => {
    const policy = only(objects, "NetworkPolicy", "armada-jobservice-redis");
    const spec = obj(policy.spec, "spec");
    expect(selects(spec.podSelector, podLabelsOf(only(objects, "StatefulSet", "armada-jobservice-redis")))).toBe(true);
    const from = list(list(spec.ingress)[0]?.from);
    expect(from).toHaveLength(1);
    expect(selects(from[0]?.podSelector, podLabelsOf(jobService(objects)))).toBe(true);
  });
});
