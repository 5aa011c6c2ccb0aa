import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * The small part of `kubectl kustomize` that deploy/ uses, so CI can render the
 * manifests without kubectl: `resources` (files and directories), `namespace`,
 * `images`, and `patches` that name a whole-object strategic-merge file. Any
 * other kustomization field is an error here, so deploy/ cannot quietly grow a
 * feature that this renderer would ignore.
 */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export interface Manifest extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string };
}

const SUPPORTED_FIELDS = new Set(["apiVersion", "kind", "namespace", "resources", "images", "patches"]);
const CLUSTER_SCOPED_KINDS = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"]);

/** Kubernetes' strategic-merge keys for the lists deploy/ may patch; every other list is replaced whole. */
const LIST_MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
};

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every YAML document in a file, as JSON values. */
export function readYamlDocuments(file: string): Json[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
    return document.toJSON() as Json;
  });
}

function asManifest(value: Json, where: string): Manifest {
  if (
    !isObject(value) ||
    typeof value.apiVersion !== "string" ||
    typeof value.kind !== "string" ||
    !isObject(value.metadata) ||
    typeof value.metadata.name !== "string"
  ) {
    throw new Error(`${where}: not a Kubernetes object with apiVersion, kind and metadata.name`);
  }
  return value as Manifest;
}

function stringList(value: Json | undefined, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new Error(`${where}: expected a list of strings`);
  return value as string[];
}

/** Renders the kustomization in `dir`, as `kubectl kustomize dir` would for the fields above. */
export function kustomize(dir: string): Manifest[] {
  const file = join(dir, "kustomization.yaml");
  const [kustomization] = readYamlDocuments(file);
  if (!isObject(kustomization)) throw new Error(`${file}: not a mapping`);
  for (const key of Object.keys(kustomization)) {
    if (!SUPPORTED_FIELDS.has(key)) throw new Error(`${file}: field "${key}" is not supported by this renderer`);
  }
  let objects = stringList(kustomization.resources, `${file} resources`).flatMap((resource) => {
    const path = join(dir, resource);
    return statSync(path).isDirectory() ? kustomize(path) : readYamlDocuments(path).map((doc) => asManifest(doc, path));
  });
  for (const patch of listOf(kustomization.patches, `${file} patches`)) {
    if (!isObject(patch) || typeof patch.path !== "string" || Object.keys(patch).length !== 1) {
      throw new Error(`${file}: a patch must be { path: <whole-object file> }`);
    }
    const path = join(dir, patch.path);
    for (const doc of readYamlDocuments(path)) objects = applyPatch(objects, asManifest(doc, path), path);
  }
  if (typeof kustomization.namespace === "string") objects = objects.map((object) => withNamespace(object, kustomization.namespace as string));
  for (const image of listOf(kustomization.images, `${file} images`)) objects = objects.map((object) => withImage(object, image, file));
  return objects;
}

function listOf(value: Json | undefined, where: string): Json[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}

function sameObject(a: Manifest, b: Manifest): boolean {
  const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");
  return group(a.apiVersion) === group(b.apiVersion) && a.kind === b.kind && a.metadata.name === b.metadata.name;
}

function applyPatch(objects: Manifest[], patch: Manifest, where: string): Manifest[] {
  if (!objects.some((object) => sameObject(object, patch))) throw new Error(`${where}: patches no resource (${patch.kind} ${patch.metadata.name})`);
  return objects.map((object) => (sameObject(object, patch) ? (strategicMerge(object, patch) as Manifest) : object));
}

/** Strategic merge: mappings merge key by key, `null` deletes, keyed lists merge by their key, other lists are replaced. */
export function strategicMerge(base: Json, patch: Json, field = ""): Json {
  if (isObject(base) && isObject(patch)) {
    const merged: JsonObject = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete merged[key];
      else merged[key] = key in base ? strategicMerge(base[key] as Json, value, key) : value;
    }
    return merged;
  }
  const mergeKey = LIST_MERGE_KEYS[field];
  if (Array.isArray(base) && Array.isArray(patch) && mergeKey) {
    const merged = [...base];
    for (const item of patch) {
      const index = merged.findIndex((existing) => isObject(existing) && isObject(item) && existing[mergeKey] === item[mergeKey]);
      if (index >= 0) merged[index] = strategicMerge(merged[index] as Json, item, "");
      else merged.push(item);
    }
    return merged;
  }
  return patch;
}

function withNamespace(object: Manifest, namespace: string): Manifest {
  if (CLUSTER_SCOPED_KINDS.has(object.kind)) return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

/** The pod template's containers of a workload, or of a bare Pod. */
export function podSpecOf(object: Manifest): JsonObject | undefined {
  if (object.kind === "Pod") return isObject(object.spec) ? object.spec : undefined;
  const spec = object.spec;
  if (!isObject(spec) || !isObject(spec.template) || !isObject(spec.template.spec)) return undefined;
  return spec.template.spec;
}

function withImage(object: Manifest, image: Json, where: string): Manifest {
  if (!isObject(image) || typeof image.name !== "string") throw new Error(`${where}: an image needs a name`);
  const podSpec = podSpecOf(object);
  if (!podSpec) return object;
  const copy = structuredClone(object);
  const copySpec = podSpecOf(copy) as JsonObject;
  for (const field of ["containers", "initContainers"]) {
    for (const container of listOf(copySpec[field], field)) {
      if (!isObject(container) || typeof container.image !== "string") continue;
      const name = imageName(container.image);
      if (name !== image.name) continue;
      const newName = typeof image.newName === "string" ? image.newName : name;
      container.image = typeof image.newTag === "string" ? `${newName}:${image.newTag}` : newName;
    }
  }
  return copy;
}

/** An image reference without its tag or digest; a registry's port stays. */
export function imageName(reference: string): string {
  const [withoutDigest = ""] = reference.split("@");
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

export function deployDir(...parts: string[]): string {
  return join(dirname(new URL(import.meta.url).pathname), "..", "..", "deploy", ...parts);
}
