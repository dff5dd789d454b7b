import type { ModelPrice } from "../config.ts";

export type { ModelPrice };

/**
 * List prices of Claude models in USD per million tokens (Anthropic's pricing page, checked 2026-12):
 * cache_write is the 5-minute cache write, cache_read a cache hit. Keys are model-name prefixes; the longest
 * matching prefix wins, so `claude-opus-4-5` beats `claude-opus-4`. MODEL_PRICES adds to and overrides this.
 */
export const BUILT_IN_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  "claude-opus-4": { input: 15, output: 75, cache_write: 18.75, cache_read: 1.5 },
  "claude-opus-4-5": { input: 5, output: 25, cache_write: 6.25, cache_read: 0.5 },
  "claude-sonnet-4": { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
  "claude-haiku-4": { input: 1, output: 5, cache_write: 1.25, cache_read: 0.1 },
  "claude-3-opus": { input: 15, output: 75, cache_write: 18.75, cache_read: 1.5 },
  "claude-3-7-sonnet": { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
  "claude-3-5-sonnet": { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cache_write: 1, cache_read: 0.08 },
  "claude-3-haiku": { input: 0.25, output: 1.25, cache_write: 0.3, cache_read: 0.03 },
});

/** The tokens of one model answer, as its `usage` reported them. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** A price looked up for a model: `isKnown` false means no prefix matched and the highest known price applies. */
export interface PriceLookup {
  price: ModelPrice;
  isKnown: boolean;
}

/** Prices of one process: the built-in table under the operator's MODEL_PRICES. */
export class PriceTable {
  private readonly entries: [string, ModelPrice][];
  /** Each kind's highest rate over every known model: what an unknown model costs (never free). */
  readonly highest: ModelPrice;

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    const merged = { ...BUILT_IN_PRICES, ...overrides };
    this.entries = Object.entries(merged).sort(([a], [b]) => b.length - a.length);
    const max = (kind: keyof ModelPrice) => Math.max(...this.entries.map(([, p]) => p[kind]));
    this.highest = {
      input: max("input"),
      output: max("output"),
      cache_write: max("cache_write"),
      cache_read: max("cache_read"),
    };
  }

  /** The price of a model by its longest matching prefix (case-insensitive), else the highest known price. */
  lookup(model: string): PriceLookup {
    const name = model.toLowerCase();
    for (const [prefix, price] of this.entries) {
      if (name.startsWith(prefix.toLowerCase())) return { price, isKnown: true };
    }
    return { price: this.highest, isKnown: false };
  }
}

/** What the tokens cost at a price (USD). */
export function costOf(tokens: TokenCounts, price: ModelPrice): number {
  return (
    (tokens.inputTokens * price.input +
      tokens.outputTokens * price.output +
      tokens.cacheCreationInputTokens * price.cache_write +
      tokens.cacheReadInputTokens * price.cache_read) /
    1_000_000
  );
}
