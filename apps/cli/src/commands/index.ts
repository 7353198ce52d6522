import type { Command } from "commander";
import { registerSim } from "./sim.js";

/** registerCommands adds every clab subcommand. Each command lives in its own file. */
export function registerCommands(program: Command): void {
  registerSim(program);
}
