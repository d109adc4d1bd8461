// A test whose precondition is missing here is skipped with its reason, never passed by returning early; under CI
// (CI=true) it fails instead, as CI's machine must have every tool and fixture.
import type { TestContext } from 'vitest';

/** Skips the running test with `why` (a missing precondition), or throws under CI; does nothing when why is null. */
export function skipUnless(ctx: TestContext, why: string | null): void {
  if (why === null) return;
  if (process.env.CI === 'true') throw new Error(`CI must have what this test needs: ${why}`);
  ctx.skip(why);
}
