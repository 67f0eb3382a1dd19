/**
 * Binary search over a sorted sequence of `length` items: the first index whose item is not
 * before the one sought (`length` if all are), where `isBefore(i)` says whether item i is.
 */
export function lowerBound(length: number, isBefore: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (isBefore(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
