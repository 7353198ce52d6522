import type { ClusterHandle } from "../cluster.js";
import { makeClient, optionsFor } from "../load.js";
import type { Variant } from "../profiles.js";
import type { UniquenessRow } from "../results.js";
import { heal, partition, rotated, sleep } from "./common.js";

/**
 * claimUsernames is the seed's username example: clients on both sides of a partition race to claim the same names
 * with put-if-absent (cas expecting absent). A name that more than one client was told it owns is a duplicate —
 * a uniqueness constraint needs linearizable compare-and-set.
 */
export async function claimUsernames(
  cluster: ClusterHandle,
  v: Variant,
  o: { names: number; clientsPerSide: number; partitioned: boolean; minority: string[] },
): Promise<UniquenessRow> {
  const majority = cluster.ids.filter((id) => !o.minority.includes(id));
  const epOf = (ids: string[]) => ids.map((id) => cluster.endpoints[cluster.ids.indexOf(id)]!);
  const sides = o.partitioned ? [epOf(o.minority), epOf(majority)] : [cluster.endpoints, cluster.endpoints];
  const tag = `u${Date.now().toString(36)}`;
  const owners = new Map<string, string[]>();
  let claimsOk = 0;
  let failedClaims = 0;
  if (o.partitioned) await partition(cluster, o.minority, majority);
  const clients = sides.flatMap((eps, si) =>
    Array.from({ length: o.clientsPerSide }, (_, i) => ({
      id: `client-${si}-${i}`,
      c: makeClient(cluster, rotated(eps, i), {
        timeoutMs: 1000,
        process: si * o.clientsPerSide + i,
        pinned: o.partitioned,
      }),
    })),
  );
  await Promise.all(
    clients.map(async ({ id, c }, ci) => {
      for (let j = 0; j < o.names; j++) {
        const name = `${tag}-name-${(j * 7 + ci * 3) % o.names}`;
        try {
          const r = await c.cas(name, null, id, optionsFor("cas", v.requestOptions));
          if (r.swapped) {
            claimsOk++;
            owners.set(name, [...(owners.get(name) ?? []), id]);
          }
        } catch {
          failedClaims++;
        }
      }
    }),
  );
  if (o.partitioned) await heal(cluster);
  await sleep(500);
  await Promise.all(clients.map(({ c }) => c.close()));
  const dups = [...owners.values()].filter((x) => x.length > 1);
  return {
    scenario: "uniqueness",
    engine: v.engine,
    variant: v.variant,
    options: v.options,
    names: o.names,
    clients: clients.length,
    partitioned: o.partitioned,
    claimsOk,
    duplicateNames: dups.length,
    duplicateClaims: dups.reduce((a, x) => a + x.length - 1, 0),
    failedClaims,
  };
}
