// The `lvmtorch` command as a function: each verb is a thin shell over the library, in a file of its own; run()
// parses an argv as the command line would and settles when the verb has finished, so tests drive it in-process.
import { Command } from 'commander';

import { buildCommand } from './build.js';
import { dataCommand } from './data.js';
import { doctorCommand } from './doctor.js';
import { evalCommand } from './eval.js';
import { inspectCommand } from './inspect.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

export function program(): Command {
  const cli = new Command('lvmtorch').description('Train, evaluate and serve latent vector models on libtorch');
  cli.addCommand(doctorCommand());
  cli.addCommand(inspectCommand());
  cli.addCommand(trainCommand());
  cli.addCommand(evalCommand());
  cli.addCommand(serveCommand());
  cli.addCommand(dataCommand());
  cli.addCommand(buildCommand());
  return cli;
}

/**
 * Runs one command line (the arguments after `lvmtorch`, e.g. `['inspect', '--json', 'best_model.pt']`). A bad
 * argument or a failed verb rejects with its error; commander's usage errors (an unknown option) too, instead of
 * ending the process.
 */
export async function run(argv: string[]): Promise<void> {
  const cli = program();
  for (const c of [cli, ...cli.commands]) c.exitOverride();
  await cli.parseAsync(argv, { from: 'user' });
}
