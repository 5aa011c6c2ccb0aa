import { timingSafeEqual, createHash } from "node:crypto";
import { createContextValues, type ContextValues } from "@connectrpc/connect";
import type { Http2ServerRequest } from "node:http2";
import type { IncomingMessage } from "node:http";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../observability/logger.js";
import { EVERYONE, type StatusViewer } from "../status-page/view-model.js";
import type { JobStore } from "../store/store.js";
import type { ArmadaConnections } from "../armada/connections.js";
import { createArmadaWatchCheck, type ArmadaWatchCheck } from "../armada/watch-check.js";
import { armadaQueueCheck } from "./armada-mode.js";
import { basicAuthenticate, type Authenticate } from "./basic-mode.js";
import { callTransportOf } from "./client-certificate.js";
import { parseAuthorization } from "./credential.js";
import { createDigest } from "./node-digest.js";
import { unauthenticated, type QueueCheck, type Target } from "./identity.js";
import { CALL_TRANSPORT, callerAuthInterceptor } from "./interceptor.js";
import { oidcAuthenticate } from "./oidc.js";
import { AUTH_TUNING, type AuthOptions, type AuthTuning } from "./options.js";
import { parsePermissions, type Permissions } from "./permissions.js";
import { authenticatedCheck, permittedBy } from "./permitted.js";
import { reloadingFile, type ReloadingFile } from "./reloading-file.js";
import { statusViewerFor } from "../status-page/viewer.js";
import { createSubscriptionLimit } from "./subscription-limit.js";
import { parseUsers } from "./users-file.js";
import type { Interceptor } from "@connectrpc/connect";

export type { AuthOptions, AuthTuning } from "./options.js";
export { AUTH_DEFAULTS } from "./options.js";

export interface CallerAuthDeps {
  readonly armadaUrl: string;
  readonly armadaCaFile?: string;
  /** The service's connections to Armada, shared with its other calls; the armada mode opens its own when absent. */
  readonly armadaConnections?: ArmadaConnections;
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Whether a job set is already followed (the subscriber knows); false when unknown. */
  readonly follows?: (target: Target) => boolean;
  readonly now?: () => number;
  /** Tuning that tests shorten; the defaults suit production. */
  readonly tuning?: Partial<AuthTuning>;
}

/** Everything about callers the server wires in: the RPC interceptor, the per-request transport facts and the /metrics guard. */
export interface CallerAuth {
  readonly interceptor: Interceptor;
  /** Per-request transport facts, when the mode needs them (none: the address; client certificates: the subject). */
  readonly contextValues?: (req: IncomingMessage | Http2ServerRequest) => ContextValues;
  /** Whether a GET /metrics with this `authorization` may read the metrics. */
  metricsAuthorized(authorization: string | undefined): boolean;
  /** What a status page viewer with this `authorization` may see of the followed job sets. */
  statusViewer(authorization: string | null, followed: Iterable<Target>): Promise<StatusViewer>;
  close(): void;
}

export function createCallerAuth(options: AuthOptions, deps: CallerAuthDeps): CallerAuth {
  const now = deps.now ?? Date.now;
  const tuning = { ...AUTH_TUNING, ...deps.tuning };
  const digest = createDigest();
  const decisions = new Counter({
    name: "jobservice_auth_decisions_total",
    help: "Caller checks of RPCs that read a queue, by outcome (allowed or the status code of the refusal).",
    labelNames: ["outcome"],
    registers: [deps.metrics],
  });
  const armadaChecks = new Counter({
    name: "jobservice_auth_armada_checks_total",
    help: "Permission questions put to Armada (cache misses), by Armada's verdict.",
    labelNames: ["verdict"],
    registers: [deps.metrics],
  });

  const closers: (() => void)[] = [];
  const permissions: ReloadingFile<Permissions> | undefined = options.permissionsFile
    ? reloadingFile(options.permissionsFile, parsePermissions, { logger: deps.logger, intervalMs: tuning.fileReloadMs, what: "permissions file" })
    : undefined;
  if (permissions) closers.push(permissions.close);
  const decide = permittedBy(permissions);

  let armada: ArmadaWatchCheck | undefined;
  let modeCheck: QueueCheck;
  switch (options.mode) {
    case "none":
      modeCheck = async (caller) => ({ principal: `anonymous@${caller.transport.remoteAddress}`, groups: [] });
      break;
    case "armada":
      armada = createArmadaWatchCheck({
        url: deps.armadaUrl,
        caFile: deps.armadaCaFile,
        timeoutMs: tuning.armadaTimeoutMs,
        maxConcurrent: tuning.armadaMaxConcurrent,
        connections: deps.armadaConnections,
      });
      closers.push(armada.close);
      modeCheck = armadaQueueCheck({
        check: armada,
        digest,
        now,
        cursorOf: async (target) => (await deps.store.readProgress(target))?.cursor ?? "",
        allowedTtlMs: options.cacheSeconds * 1000,
        deniedTtlMs: tuning.deniedTtlMs,
        onAsked: (verdict) => armadaChecks.inc({ verdict }),
      });
      break;
    case "basic":
    case "oidc": {
      let authenticate: Authenticate;
      if (options.mode === "basic") {
        if (!options.usersFile) throw new Error("basic mode needs a users file");
        const users = reloadingFile(options.usersFile, parseUsers, { logger: deps.logger, intervalMs: tuning.fileReloadMs, what: "users file" });
        closers.push(users.close);
        authenticate = basicAuthenticate({ users, digest, now, verifiedTtlMs: options.cacheSeconds * 1000, failedTtlMs: tuning.deniedTtlMs });
      } else {
        if (!options.oidc) throw new Error("oidc mode needs its issuer settings");
        authenticate = oidcAuthenticate(options.oidc, {
          jwksCooldownMs: tuning.jwksCooldownMs,
          fetchTimeoutMs: tuning.armadaTimeoutMs,
          discoveryRetryMs: 1_000,
          now,
        });
      }
      modeCheck = authenticatedCheck(authenticate, decide);
      break;
    }
  }

  // A verified client certificate names the caller; the permissions file decides for it in every mode.
  const check: QueueCheck = async (caller, target) => {
    const certificate = caller.transport.certificate;
    if (certificate && !certificate.verified) throw unauthenticated(`the client certificate is not trusted (${certificate.reason})`);
    if (certificate?.verified && options.mode !== "none") return decide({ principal: certificate.subject, groups: [] }, target);
    return modeCheck(caller, target);
  };

  const metricsDigest = options.metricsToken ? sha256(options.metricsToken) : undefined;
  return {
    interceptor: callerAuthInterceptor({
      check,
      limit: createSubscriptionLimit(options.maxNewSubscriptionsPerMinute, now),
      follows: deps.follows ?? (() => false),
      requireCredentials: options.mode !== "none",
      record: (outcome) => decisions.inc({ outcome }),
      logger: deps.logger,
    }),
    contextValues: options.mode === "none" || options.clientCaFile ? (req) => createContextValues().set(CALL_TRANSPORT, callTransportOf(req)) : undefined,
    metricsAuthorized(authorization) {
      if (!metricsDigest) return true;
      const credential = parseAuthorization(authorization);
      return credential.kind === "bearer" && timingSafeEqual(sha256(credential.token), metricsDigest);
    },
    statusViewer: (authorization, followed) => (options.mode === "none" ? Promise.resolve(EVERYONE) : statusViewerFor(check, authorization, followed)),
    close() {
      for (const close of closers) close();
    },
  };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
