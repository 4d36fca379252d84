/** cachestat(2) raw/checked pair: page-cache residency of a file range (how the suite counts guest_memfd pages). */
import * as libc from '../ffi/libc.js';
import { SYSCALL } from '../uapi/index.js';
import { getField, pack } from '../uapi/struct.js';
import { check } from './errors.js';

/** The counters of struct cachestat, in pages. */
export interface CacheStatCounts {
  /** nr_cache: pages in the page cache. */ cache: bigint;
  /** nr_dirty. */ dirty: bigint;
  /** nr_writeback. */ writeback: bigint;
  /** nr_evicted. */ evicted: bigint;
  /** nr_recently_evicted. */ recentlyEvicted: bigint;
}

/** Raw cachestat(2) over [offset, offset+length) of fd (length 0: to the end of the file); counts when it succeeded. */
export function __cachestat(
  fd: number,
  offset: bigint = 0n,
  length: bigint = 0n,
): libc.RawBig & { counts?: CacheStatCounts } {
  const range = pack('cachestat_range', { off: offset, len: length });
  const out = pack('cachestat');
  const r = libc.syscall(SYSCALL.cachestat, fd, range, out, 0);
  if (r.ret !== 0n) return r;
  const f = (name: string) => getField('cachestat', out, name);
  return {
    ...r,
    counts: {
      cache: f('nr_cache'),
      dirty: f('nr_dirty'),
      writeback: f('nr_writeback'),
      evicted: f('nr_evicted'),
      recentlyEvicted: f('nr_recently_evicted'),
    },
  };
}

/** Checked cachestat(2): the counters of the range. */
export function cachestat(fd: number, offset: bigint = 0n, length: bigint = 0n): CacheStatCounts {
  const r = __cachestat(fd, offset, length);
  check('cachestat', r, `fd ${fd}, range [${offset}, +${length})`);
  return r.counts as CacheStatCounts;
}
