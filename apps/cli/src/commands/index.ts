import type { Command } from "commander";
import { registerAdmin } from "./admin.js";
import { registerBench } from "./bench.js";
import { registerCheck } from "./check.js";
import { registerCluster } from "./cluster.js";
import { registerFault } from "./fault.js";
import { registerKv } from "./kv.js";
import { registerNemesis } from "./nemesis.js";
import { registerNode } from "./node.js";
import { registerSim } from "./sim.js";
import { registerStatus } from "./status.js";

/** registerCommands adds every clab subcommand. Each command lives in its own file. */
export function registerCommands(program: Command): void {
  registerSim(program);
  registerBench(program);
  registerNode(program);
  registerCluster(program);
  registerStatus(program);
  registerKv(program);
  registerFault(program);
  registerAdmin(program);
  registerCheck(program);
  registerNemesis(program);
}
