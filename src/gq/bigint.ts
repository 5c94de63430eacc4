/** Modular arithmetic for GQ. Pure, no I/O. */

/** Arithmetic modulo a fixed n. (Barrett reduction was measured: slower than V8's `%` here.) */
export class ModN {
  constructor(readonly n: bigint) {}
  mul(a: bigint, b: bigint): bigint {
    return (a * b) % this.n;
  }
  pow(base: bigint, exp: bigint): bigint {
    let result = 1n;
    let b = base % this.n;
    let e = exp;
    while (e > 0n) {
      if (e & 1n) result = this.mul(result, b);
      b = this.mul(b, b);
      e >>= 1n;
    }
    return result;
  }
}

const WINDOW = 4;

/**
 * base^e_i mod n for many exponents sharing one base (GQ raises G or Q to t different R_i).
 * A table of base^(d·16^w) turns each exponentiation into at most one multiplication per 4-bit
 * window, with no squarings, which is where most of GQ's time would otherwise go.
 */
export function fixedBasePow(mod: ModN, base: bigint, exps: readonly bigint[], expBits: number): bigint[] {
  const windows = Math.ceil(expBits / WINDOW);
  const digit = (e: bigint, w: number) => Number((e >> BigInt(w * WINDOW)) & 0xfn);
  const table: bigint[][] = [];
  let windowBase = base % mod.n;
  for (let w = 0; w < windows; w++) {
    // Rows stop at the largest digit any exponent uses in this window (often the top window's is 1).
    const top = exps.reduce((m, e) => Math.max(m, digit(e, w)), 0);
    const row: bigint[] = [1n, windowBase];
    for (let d = 2; d <= top; d++) row.push(mod.mul(row[d - 1]!, windowBase));
    table.push(row);
    if (w + 1 < windows) {
      // base^(16^(w+1)): one multiplication from a full row, else four squarings.
      if (top === (1 << WINDOW) - 1) windowBase = mod.mul(row[top]!, windowBase);
      else for (let i = 0; i < WINDOW; i++) windowBase = mod.mul(windowBase, windowBase);
    }
  }
  return exps.map((e) => {
    let acc: bigint | undefined;
    for (let w = 0; w < windows; w++) {
      const d = digit(e, w);
      if (d === 0) continue;
      const f = table[w]![d]!;
      acc = acc === undefined ? f : mod.mul(acc, f);
    }
    return acc ?? 1n;
  });
}
