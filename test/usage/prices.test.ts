import { describe, expect, test } from "bun:test";
import { BUILT_IN_PRICES, costOf, PriceTable } from "../../src/usage/prices.ts";

describe("PriceTable", () => {
  test("longest prefix wins: opus 4.5 is not priced as opus 4", () => {
    const table = new PriceTable();
    expect(table.lookup("claude-opus-4-5-20251101")).toEqual({
      price: BUILT_IN_PRICES["claude-opus-4-5"]!,
      isKnown: true,
    });
    expect(table.lookup("claude-opus-4-1-20250805").price.input).toBe(15);
    expect(table.lookup("claude-sonnet-4-5").price.output).toBe(15);
    expect(table.lookup("claude-3-5-haiku-20241022").price.input).toBe(0.8);
    expect(table.lookup("CLAUDE-HAIKU-4-5").isKnown).toBe(true);
  });

  test("an unknown model costs the highest known price of each kind, never nothing", () => {
    const table = new PriceTable({ "my-model": { input: 1, output: 2, cache_write: 100, cache_read: 0 } });
    const { price, isKnown } = table.lookup("claude-opus-9");
    expect(isKnown).toBe(false);
    expect(price).toEqual({ input: 15, output: 75, cache_write: 100, cache_read: 1.5 });
  });

  test("MODEL_PRICES overrides a built-in prefix and adds new ones", () => {
    const table = new PriceTable({ "claude-sonnet-4": { input: 1, output: 1, cache_write: 1, cache_read: 1 } });
    expect(table.lookup("claude-sonnet-4-5").price.input).toBe(1);
  });

  test("costOf: USD per million tokens of each kind", () => {
    const cost = costOf(
      { inputTokens: 1_000_000, outputTokens: 100_000, cacheCreationInputTokens: 10_000, cacheReadInputTokens: 1_000 },
      { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
    );
    expect(cost).toBeCloseTo(3 + 1.5 + 0.0375 + 0.0003, 10);
  });
});
