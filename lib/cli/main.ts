#!/usr/bin/env node
// The `lvmtorch` command: each verb is a thin shell over the library, in a file of its own.
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

program().parseAsync(process.argv).catch((e: Error) => {
  // One line, whatever the error: scripts read the first line of stderr.
  console.error(`lvmtorch: ${String(e.message).replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
});
