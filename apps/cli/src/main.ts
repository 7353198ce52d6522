#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.js";

/**
 * clab — the consistency-lab command (ARCHITECTURE §5). Exit codes: 0 ok, 1 a failure the command found
 * (violations, a KvError), 2 bad arguments or input.
 */
const program = new Command("clab")
  .description(
    "consistency-lab: replicated KV stores, a deterministic simulator, a history checker and a bench",
  )
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; every other parse problem is a bad argument.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof UsageError) {
    process.stderr.write(`clab: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`clab: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}

import { UsageError } from "./usage-error.js";
