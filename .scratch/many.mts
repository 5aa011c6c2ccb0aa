import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService } from "/work/wt/api/src/gen/jobservice/jobservice_pb.js";
const client = createClient(JobService, createGrpcTransport({ baseUrl: process.argv[2]! }));
const n = Number(process.argv[3]);
let opened = 0, failed = 0; let first = "";
const ctl = new AbortController();
await Promise.race([Promise.all(Array.from({ length: n }, async (_, i) => {
  try { for await (const _m of client.watchJobStatus({ queue: "q", jobSetId: "s", jobId: `j${i}` }, { signal: ctl.signal })) { opened++; break; } }
  catch (e) { failed++; first ||= String(e); }
})), new Promise((r) => setTimeout(r, 15000))]);
console.log({ opened, failed, first });
ctl.abort(); process.exit(0);
