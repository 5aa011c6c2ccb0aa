import { describe, expect, it } from "vitest";
import { QUICK } from "../../chaos/env.js";
import { runScenario } from "../../chaos/runner.js";
import { SCENARIOS } from "../../chaos/scenarios.js";

/**
 * The chaos scenarios at their quick size (4 job sets × 100 jobs): the same
 * code as `npm run chaos`, with shorter faults. Every count must be 0.
 */
export function describeChaos(title: string, names: readonly string[]): void {
  describe(title, () => {
    for (const name of names) {
      const scenario = SCENARIOS.find((s) => s.name === name);
      it(`${name}: 0 mismatches after recovery and 0 wrong answers while it lasts`, { timeout: 90_000 }, async () => {
        expect(scenario, `no chaos scenario named "${name}"`).toBeDefined();
        const result = await runScenario(scenario!, QUICK, () => undefined);
        expect(result.notes.filter((note) => note.startsWith("FAILED") || note.startsWith("ingest did not"))).toEqual([]);
        expect({ mismatches: result.mismatches, wrong: result.wrong }).toEqual({ mismatches: 0, wrong: 0 });
        expect(result.poller.answers).toBeGreaterThan(0);
      });
    }
  });
}
