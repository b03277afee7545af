// Stacked areas: each series drawn on the sum of the ones before it, so the top line is the total.

/** Running sums of the columns, bottom (first) to top. */
export function stack(columns: readonly Float64Array[]): Float64Array[] {
  const stacked: Float64Array[] = [];
  let below: Float64Array | undefined;
  for (const column of columns) {
    const sum = new Float64Array(column.length);
    for (let i = 0; i < column.length; i++) sum[i] = (column[i] ?? 0) + (below?.[i] ?? 0);
    stacked.push(sum);
    below = sum;
  }
  return stacked;
}
