/** Where a command tried to listen, and the setting a user changes to move it. */
export interface ListenTarget {
  readonly host: string;
  readonly port: number;
  /** How the port is set, e.g. `JOBSERVICE_PORT (--port)`. */
  readonly portSetting: string;
  /** How the address is set, e.g. `JOBSERVICE_HOST (--host)`; absent where it is fixed. */
  readonly hostSetting?: string;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/**
 * One line saying why listening failed and what to change, for the failures a
 * user can fix by choosing another address or port; undefined for the rest,
 * which are not the user's to fix and keep their stack trace.
 */
export function describeListenFailure(error: unknown, target: ListenTarget): string | undefined {
  const chooseHost = target.hostSetting ? `; choose another with ${target.hostSetting}` : "";
  const where = `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
  const code = errorCode(error);
  if (code === "EADDRINUSE") {
    return `cannot listen on ${where}: the port is already in use, most likely by another jobservice (npm start, demo, simulate) or another program; choose another port with ${target.portSetting}, or 0 for a free one`;
  }
  if (code === "EACCES") return `cannot listen on ${where}: not permitted (ports below 1024 need privileges); choose another port with ${target.portSetting}`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${where}: ${target.host} is not an address of this machine${chooseHost}`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot listen on ${where}: cannot resolve host "${target.host}"${chooseHost}`;
  return undefined;
}
