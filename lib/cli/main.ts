#!/usr/bin/env node
// The `lvmtorch` command: each verb is a thin shell over the library, in a file of its own.
import { Command } from 'commander';

import { doctorCommand } from './doctor.js';

export function program(): Command {
  const cli = new Command('lvmtorch').description('Train, evaluate and serve latent vector models on libtorch');
  cli.addCommand(doctorCommand());
  return cli;
}

program().parseAsync(process.argv).catch((e: Error) => {
  console.error(`lvmtorch: ${e.message}`);
  process.exit(1);
});
