import { type AdminCommand, type ClientReply, KvError, type NodeId } from "@consistency-lab/kv";
import type { Command } from "commander";
import { type AdminSession, openAdminSession } from "./fault.js";
import {
  adminToken,
  type ClientFlags,
  endpointsOf,
  reportFailure,
  timeoutOf,
  tlsOf,
  withClientFlags,
} from "./kv.js";

/**
 * sendToLeader sends an admin command to the node that leads (asking each member's status, then following
 * KV_NOT_LEADER hints a few times), since membership and transfer commands are leader operations.
 */
export async function sendToLeader(s: AdminSession, cmd: Omit<AdminCommand, "id">): Promise<ClientReply> {
  const ids = Object.keys(s.members).sort();
  let target: NodeId | undefined;
  for (const id of ids) {
    try {
      const st = await (await s.node(id)).status();
      if (st.role === "leader" || st.role === "single") {
        target = id;
        break;
      }
      if (typeof st.leader === "string" && s.members[st.leader]) target ??= st.leader;
    } catch {
      // Unreachable member: ask the next one.
    }
  }
  let to: NodeId = target ?? ids[0]!;
  let reply: ClientReply | undefined;
  for (let hop = 0; hop < 4; hop++) {
    const r: ClientReply = await (await s.node(to)).admin({ ...cmd, id: `admin.${Date.now()}.${hop}` });
    reply = r;
    const hint: string | undefined = r.error?.code === "KV_NOT_LEADER" ? r.error.leader : undefined;
    if (!hint || hint === to || !s.members[hint]) break;
    to = hint;
  }
  return reply!;
}

/**
 * registerAdmin adds `clab admin transfer-leader|add-member|add-learner|remove-member|promote` — operator commands
 * passed to the engine core's `admin` (KV_NOT_SUPPORTED when the engine has none), sent to the leader.
 */
export function registerAdmin(program: Command): void {
  const admin = program
    .command("admin")
    .description("operator commands for engines that expose them (admin token)");

  const simple: [string, string, string][] = [
    ["transfer-leader", "transfer-leader", "hand leadership to NODE"],
    ["add-learner", "add-learner", "add NODE as a non-voting learner"],
    ["promote", "promote", "promote learner NODE to voter"],
    ["remove-member", "remove-member", "remove NODE from the cluster"],
  ];
  for (const [name, command, description] of simple) {
    withClientFlags(admin.command(name).argument("<node>").description(description), true).action(
      (node: string, flags: ClientFlags) => runAdmin(flags, [{ command, args: { to: node } }]),
    );
  }
  // A voting member joins as a learner and is promoted once added (Raft thesis §4.2.1: catch up first, then vote).
  withClientFlags(
    admin.command("add-member").argument("<node>").description("add NODE as a voter (learner, then promote)"),
    true,
  ).action((node: string, flags: ClientFlags) =>
    runAdmin(flags, [
      { command: "add-learner", args: { to: node } },
      { command: "promote", args: { to: node } },
    ]),
  );
}

async function runAdmin(flags: ClientFlags, cmds: Omit<AdminCommand, "id">[]): Promise<void> {
  let session: AdminSession | undefined;
  try {
    session = await openAdminSession(endpointsOf(flags), adminToken(flags), timeoutOf(flags), tlsOf(flags));
    for (const cmd of cmds) {
      const reply = await sendToLeader(session, cmd);
      if (reply.error) throw KvError.from(reply.error);
      process.stdout.write(
        flags.json ? `${JSON.stringify(reply)}\n` : `${cmd.command} ${String(cmd.args?.to)}: ok\n`,
      );
    }
  } catch (e) {
    reportFailure(e);
  } finally {
    await session?.close();
  }
}
