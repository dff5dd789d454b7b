import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import type { TestContext, TestContextOptions } from "./context.ts";
import { createTestContext } from "./context.ts";

/** How long one fresh value lives: one test (the default) or the whole file / describe block. */
export interface FreshOptions {
  per?: "test" | "file";
}

/**
 * Registers the hooks that make a fresh value before each test (`per: "test"`) or once (`per: "file"`) and dispose
 * of it after, and returns a stand-in whose every property read goes to the current value — so a file or describe
 * block can write `const f = freshEachTest(() => makeFixture(), (f) => f.cleanup())` instead of a `let` and two hooks.
 * Reading the stand-in outside a test throws.
 */
export function freshEachTest<T extends object>(
  make: () => Promise<T>,
  dispose: (value: T) => Promise<void> | void,
  { per = "test" }: FreshOptions = {},
): T {
  let current: T | undefined;
  const [before, after] = per === "file" ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    current = await make();
  });
  after(async () => {
    if (current) await dispose(current);
  });
  return new Proxy({} as T, {
    get(_target, key) {
      if (!current) throw new Error(`the fresh fixture exists only while a test runs (read of ${String(key)})`);
      return Reflect.get(current, key);
    },
  });
}

/** A fresh createTestContext(options) per test (or per file), cleaned up after: `const t = useTestContext();`. */
export function useTestContext(options: TestContextOptions = {}, fresh: FreshOptions = {}): TestContext {
  return freshEachTest(
    () => createTestContext(options),
    (t) => t.cleanup(),
    fresh,
  );
}
