import { describe, expect, it } from "vitest";
import { formatTable, trainXor } from "./xor.js";

describe("xor", () => {
  const lines: string[] = [];
  const result = trainXor({ log: (line) => lines.push(line) });

  it("learns the truth table to 100% accuracy", () => {
    expect(result.accuracy).toBe(1);
    for (const row of result.table) {
      expect(row.label).toBe(row.a ^ row.b);
      expect(row.predicted).toBe(row.label);
      // Confident, not just on the right side of 0.5.
      expect(Math.abs(row.p1 - row.label)).toBeLessThan(0.05);
    }
  });

  it("reports a falling loss every 50 steps, starting near ln 2", () => {
    expect(result.losses.map(([step]) => step)).toEqual([
      1, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500,
    ]);
    expect(result.losses[0]![1]).toBeGreaterThan(0.5);
    expect(result.finalLoss).toBeLessThan(0.01);
    for (let i = 1; i < result.losses.length; i++) {
      expect(result.losses[i]![1]).toBeLessThan(result.losses[i - 1]![1]);
    }
    expect(lines).toHaveLength(result.losses.length);
    expect(lines[0]).toMatch(/^step +1: loss 0\.\d{5}$/);
  });

  it("prints the truth table", () => {
    const table = formatTable(result.table).split("\n");
    expect(table).toHaveLength(5);
    expect(table[2]).toMatch(/^ 0 {2}1 \| +1 +\| +1 +\| (0\.9\d\d|1\.000)$/);
  });

  it("does not depend on a lucky seed", () => {
    for (const seed of [1, 2, 3]) {
      expect(trainXor({ seed, steps: 300 }).accuracy).toBe(1);
    }
  });
});
