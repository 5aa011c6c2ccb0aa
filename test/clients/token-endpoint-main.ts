// test/support/token-endpoint.ts as a process, for the Python tests (clients/python/tests/conftest.py):
// `node --import tsx test/clients/token-endpoint-main.ts CLIENT_ID CLIENT_SECRET EXPIRES_IN PREFIX`.
// Prints one JSON line, {"issuer", "url"}, then serves until its standard input closes or it is signalled.
import { startTokenEndpoint } from "../support/token-endpoint.js";

const [clientId = "", clientSecret = "", expiresIn = "3600", tokenPrefix = "token"] = process.argv.slice(2);
const endpoint = await startTokenEndpoint({ clientId, clientSecret, expiresInSeconds: Number(expiresIn), tokenPrefix });
process.stdout.write(`${JSON.stringify({ issuer: endpoint.issuer, url: endpoint.url })}\n`);
const stop = (): void => void endpoint.stop().then(() => process.exit(0));
process.stdin.on("end", stop).resume();
process.on("SIGTERM", stop);
