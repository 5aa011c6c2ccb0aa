import { describeChaos } from "./chaos-scenarios.js";

describeChaos("a store that goes back in time after the ingest, against a bulk load with ground truth", [
  "Redis restarted from an older snapshot after the ingest",
  "Redis replica cut off mid-ingest, master killed, replica promoted by hand",
  "Redis Cluster replica cut off mid-ingest, its master killed, replica promoted",
]);
