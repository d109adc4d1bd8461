// At the end of a run, says how many tests were skipped and why (the note given to ctx.skip(note)), so a CI log
// shows what was not tested. Registered beside the default reporter in vitest.config.ts.
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';

const NO_REASON = 'no reason given (it.skip, it.todo, left out by -t or .only, or its beforeAll failed)';
/** Tests named under one reason when there are more; the rest are counted. */
const NAMES_PER_REASON = 3;

export default class SkipReporter implements Reporter {
  #vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const byReason = new Map<string, TestCase[]>();
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        const result = test.result();
        const reason = (result.state === 'skipped' && result.note) || NO_REASON;
        byReason.set(reason, [...(byReason.get(reason) ?? []), test]);
      }
    }
    const total = [...byReason.values()].reduce((n, tests) => n + tests.length, 0);
    const lines = ['', `skipped: ${total}`];
    for (const [reason, tests] of [...byReason].sort((a, b) => b[1].length - a[1].length)) {
      lines.push(`  ${tests.length} × ${reason}`);
      const shown = tests.length > NAMES_PER_REASON + 1 ? NAMES_PER_REASON : tests.length;
      for (const test of tests.slice(0, shown)) lines.push(`      ${name(test, this.#vitest)}`);
      if (shown < tests.length) lines.push(`      and ${tests.length - shown} more`);
    }
    const log = this.#vitest?.logger;
    for (const line of lines) {
      if (log) log.log(line);
      else console.log(line);
    }
  }
}

function name(test: TestCase, vitest: Vitest | undefined): string {
  const root = vitest?.config.root;
  const file = root && test.module.moduleId.startsWith(`${root}/`) ? test.module.moduleId.slice(root.length + 1) : test.module.moduleId;
  return `${file} > ${test.fullName}`;
}
