// The seed server's TMD code: [domain 0-15, task 0-31, modifier 0-63] as a 16-D vector appended to every step of
// a 768-D sequence, for models that read 784-D input (its LatentMamba). Bit i of the domain sets dim i (0-3), bit
// i of the task dim 4 + i (4-8), bit i of the modifier dim 9 + i (9-14); dim 15 is always 0.
export const TMD_DIM = 16;
export const TMD_RANGES = [['domain', 15], ['task', 31], ['modifier', 63]] as const;

/** The 16-D encoding of one code, written into `out` at `offset` (zeros where a bit is clear). */
export function writeTmd(codes: readonly number[], out: Float32Array, offset: number): void {
  const [domain, task, modifier] = codes;
  for (let i = 0; i < 4; i++) out[offset + i] = (domain >> i) & 1;
  for (let i = 0; i < 5; i++) out[offset + 4 + i] = (task >> i) & 1;
  for (let i = 0; i < 6; i++) out[offset + 9 + i] = (modifier >> i) & 1;
  out[offset + 15] = 0;
}

/** Why a TMD code is out of range (as the seed words it), or null. */
export function tmdProblem(codes: readonly number[]): string | null {
  for (let i = 0; i < TMD_RANGES.length; i++) {
    const [name, max] = TMD_RANGES[i];
    if (!(codes[i] >= 0 && codes[i] <= max)) return `${name[0].toUpperCase()}${name.slice(1)} code must be 0-${max}, got ${codes[i]}`;
  }
  return null;
}
