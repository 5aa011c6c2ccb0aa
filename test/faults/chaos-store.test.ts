import { describeChaos } from "./chaos-scenarios.js";

describeChaos("store faults against a bulk load with ground truth", [
  "Redis stops mid-ingest and comes back with its data",
  "Redis restarts empty mid-ingest",
  "a job set's key is evicted, mid-ingest and after",
  "Redis with a small maxmemory and volatile-random eviction, whole run",
  "Upstash gateway answers 429, 5xx and slowly",
]);
