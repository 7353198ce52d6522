import type { Command } from "commander";
import { registerSim } from "./sim.js";
import { registerNode } from "./node.js";
import { registerCluster } from "./cluster.js";

/** registerCommands adds every clab subcommand. Each command lives in its own file. */
export function registerCommands(program: Command): void {
  registerSim(program);
  registerNode(program);
  registerCluster(program);
}
