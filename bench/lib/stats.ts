export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Half the range over the median: how far rounds strayed, as a fraction. */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return 0
  const m = median(values)
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / 2 / m
}
