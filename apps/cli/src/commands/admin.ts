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
 * sendToNode sends an admin command to `node` itself: for commands that act on the node receiving them, such as
 * single-leader's manual failover, which must work while the old leader is down.
 */
export async function sendToNode(
  s: AdminSession,
  node: NodeId,
  cmd: Omit<AdminCommand, "id">,
): Promise<ClientReply> {
  const c = await s.node(node);
  // Raft's "promote" is a membership change sent to the leader; sent to a node it would be misread.
  const st = await c.status();
  if (typeof st.engine === "string" && st.engine.startsWith("raft")) {
    throw new KvError(
      "KV_NOT_SUPPORTED",
      "raft elects its leader; use `clab admin transfer-leader NODE` to move leadership, " +
        "`clab admin promote-learner NODE` to make a learner a voter",
    );
  }
  return c.admin({ ...cmd, id: `admin.${Date.now()}` });
}

/**
 * registerAdmin adds the operator commands passed to the engine core's `admin` (KV_NOT_SUPPORTED when the engine
 * has none): `promote` (single-leader manual failover, sent to the node to promote), and `transfer-leader`,
 * `add-learner`, `promote-learner`, `add-member`, `remove-member` (Raft membership, sent to the leader).
 */
export function registerAdmin(program: Command): void {
  const admin = program
    .command("admin")
    .description("operator commands for engines that expose them (admin token)");

  // Manual failover (single-leader, failover=manual): NODE starts an election that it wins with a majority's
  // votes. Sent to NODE, not the leader, which is usually the node that is down.
  withClientFlags(
    admin
      .command("promote")
      .argument("<node>")
      .description(
        "make NODE the leader (single-leader manual failover); sent to NODE itself, which needs a majority up",
      ),
    true,
  ).action((node: string, flags: ClientFlags) =>
    runAdmin(flags, [{ command: "promote", args: { to: node } }], node),
  );
  const toLeader: [string, string, string][] = [
    ["transfer-leader", "transfer-leader", "hand leadership to NODE (raft; sent to the leader)"],
    ["add-learner", "add-learner", "add NODE as a non-voting learner (raft; sent to the leader)"],
    ["promote-learner", "promote", "make learner NODE a voter (raft; sent to the leader)"],
    ["remove-member", "remove-member", "remove NODE from the cluster (raft; sent to the leader)"],
  ];
  for (const [name, command, description] of toLeader) {
    withClientFlags(admin.command(name).argument("<node>").description(description), true).action(
      (node: string, flags: ClientFlags) => runAdmin(flags, [{ command, args: { to: node } }]),
    );
  }
  // A voting member joins as a learner and is promoted once added (Raft thesis §4.2.1: catch up first, then vote).
  withClientFlags(
    admin
      .command("add-member")
      .argument("<node>")
      .description("add NODE as a voter (raft: learner, then promote-learner; sent to the leader)"),
    true,
  ).action((node: string, flags: ClientFlags) =>
    runAdmin(flags, [
      { command: "add-learner", args: { to: node } },
      { command: "promote", args: { to: node } },
    ]),
  );
}

/** runAdmin sends each command to `node` when given, else to the leader, and prints its outcome. */
async function runAdmin(flags: ClientFlags, cmds: Omit<AdminCommand, "id">[], node?: NodeId): Promise<void> {
  let session: AdminSession | undefined;
  try {
    session = await openAdminSession(endpointsOf(flags), adminToken(flags), timeoutOf(flags), tlsOf(flags));
    for (const cmd of cmds) {
      const reply =
        node === undefined ? await sendToLeader(session, cmd) : await sendToNode(session, node, cmd);
      if (reply.error) throw KvError.from(reply.error);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(reply)}\n`
          : node === undefined
            ? `${cmd.command} ${String(cmd.args?.to)}: ok\n`
            : `${node} is the leader\n`,
      );
    }
  } catch (e) {
    reportFailure(e);
  } finally {
    await session?.close();
  }
}
