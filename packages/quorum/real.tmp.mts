import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvClient } from "../client/dist/index.js";
import { startLocalCluster } from "../node/dist/index.js";
import { quorumEngine } from "./dist/index.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const dir = await mkdtemp(join(tmpdir(), "clab-q-"));
const c = await startLocalCluster({ engine: quorumEngine, nodes: 5, dataDir: dir, logger: silent });
const client = new KvClient({ endpoints: c.endpoints, token: c.token, timeoutMs: 5000 });
try {
  await client.put("x", "1");
  console.log("get", await client.get("x"));
  console.log("cas", await client.cas("x", "1", "2"));
  console.log("get", await client.get("x"));
  await client.put("x", "3");
  console.log("get after blind-or-context put", await client.get("x"));
  await c.stopNode("n2");
  await c.stopNode("n3");
  for (let i = 0; i < 10; i++) {
    try {
      await client.put(`k${i}`, `v${i}`);
    } catch (e: any) {
      console.log("put", i, e.code);
    }
  }
  await c.startNode("n2");
  await c.startNode("n3");
  await new Promise((r) => setTimeout(r, 2000));
  for (let i = 0; i < 10; i++) console.log(i, (await client.get(`k${i}`)).value);
  console.log(c.nodes.map((n) => n.status()));
} finally {
  await client.close();
  await c.stop();
  await rm(dir, { recursive: true, force: true });
}
