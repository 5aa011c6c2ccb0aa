export interface Contender<T> {
  readonly name: string;
  run(): Promise<T>;
}

/**
 * Runs every contender once per round, in the given order (baseline first),
 * for `rounds` rounds: baseline, subject, …, baseline, subject, … so that a
 * noisy neighbour or a thermal drift affects all of them alike.
 */
export async function alternate<T>(rounds: number, contenders: readonly Contender<T>[], onRun?: (name: string, result: T) => void): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      const result = await contender.run();
      results.get(contender.name)?.push(result);
      onRun?.(contender.name, result);
    }
  }
  return results;
}
