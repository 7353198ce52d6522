import type { Command } from "commander";

/** registerCommands adds every clab subcommand. Each command lives in its own file. */
export function registerCommands(program: Command): void {
  void program;
}
