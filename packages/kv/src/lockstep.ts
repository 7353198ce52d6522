/** Divergence is where two runs fed the same inputs first showed something different. */
export interface Divergence {
  /** 0: before any input; i: after the i-th input. */
  step: number;
  original: string;
  clone: string;
}

/**
 * lockstep feeds every input to `original` and then to `clone` (a copy of it, e.g. a network of cloned cores) and
 * compares what `observe` shows of each right after it, such as the Readys drained since the last look and every core's
 * fingerprint. It returns the first step at which they differ, or undefined when they never do. `observe` also
 * runs before the first input, so a clone that starts off different is caught at step 0. With `cloneOnly`, that
 * input then goes to the clone alone (step `inputs.length + 1`): the original must show what it showed before, and
 * the clone something else.
 */
export function lockstep<S>(
  original: S,
  clone: S,
  inputs: readonly ((s: S) => void)[],
  observe: (s: S) => string,
  cloneOnly?: (s: S) => void,
): Divergence | undefined {
  for (let step = 0; step <= inputs.length; step++) {
    // Each is looked at right after its own input, before the other moves: a clone that shares state with its
    // original shows it then.
    inputs[step - 1]?.(original);
    const o = observe(original);
    inputs[step - 1]?.(clone);
    const c = observe(clone);
    if (o !== c) return { step, original: o, clone: c };
  }
  if (cloneOnly === undefined) return undefined;
  // Independence: an input only the clone gets leaves the original as it was, and changes the clone.
  const before = observe(original);
  cloneOnly(clone);
  const o = observe(original);
  const c = observe(clone);
  return o === before && c !== o ? undefined : { step: inputs.length + 1, original: o, clone: c };
}
