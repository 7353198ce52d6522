/** push appends `v` to the list under `k`, creating the list on first use. */
export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  let l = m.get(k);
  if (!l) {
    l = [];
    m.set(k, l);
  }
  l.push(v);
}
