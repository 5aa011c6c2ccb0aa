import { describeChaos } from "./chaos-scenarios.js";

describeChaos("process and Armada faults against a bulk load with ground truth", [
  "kill -9 mid-ingest, restart",
  "Armada drops every stream every 3 s, then stalls them silently",
  "two replicas, SIGKILL one mid-ingest",
  "two replicas, SIGSTOP one past its lease, then SIGCONT",
]);
