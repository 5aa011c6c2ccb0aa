import type { Authenticate } from "./basic-mode.js";
import { permissionDenied, type Identity, type QueueCheck, type Target } from "./identity.js";
import type { Permissions } from "./permissions.js";
import type { Versioned } from "./versioned.js";

/** What the permissions file says of a proven caller: the identity again when it may watch the queue, else PERMISSION_DENIED. */
export type Decide = (identity: Identity, target: Target) => Identity;

export function permittedBy(permissions: Versioned<Permissions> | undefined): Decide {
  return (identity, target) => {
    if (!permissions) throw permissionDenied("no permissions file is configured, so no queue may be watched");
    if (!permissions.current().mayWatch(identity, target.queue)) {
      throw permissionDenied(`${JSON.stringify(identity.principal)} may not watch queue ${JSON.stringify(target.queue)}`);
    }
    return identity;
  };
}

/** The oidc and basic modes: prove who the caller is, then the permissions decide. */
export function authenticatedCheck(authenticate: Authenticate, decide: Decide): QueueCheck {
  return async (caller, target) => decide(await authenticate(caller.authorization), target);
}
