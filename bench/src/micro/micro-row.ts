/** MicroRow is one figure of a micro-benchmark, as run-all.js tabulates it (CLAB_MICRO_JSON). */
export interface MicroRow {
  bench: string;
  case: string;
  value: number;
  unit: string;
  note?: string;
}
