// The journal: every commit group is one record appended to journal-<seq>.log, framed as
// [payload length: u32 LE][CRC32 of the payload: u32 LE][payload: UTF-8 JSON {n, ops}] (LevelDB's
// log format idea: a record is whole or absent). A record cut short or garbled at the very end of
// the last segment is a torn write from a crash: it is cut. A bad record with good data after it is
// corruption: reported with file and offset, never skipped.
import { crc32 } from 'node:zlib';
import type { Op } from './schema.ts';

export const HEADER_BYTES = 8;
/** A record larger than this is not one we wrote. */
const MAX_RECORD_BYTES = 512 * 1024 * 1024;
const NAME = /^journal-(\d+)\.log$/;

export interface JournalRecord {
  /** Commit group number, increasing by one per record across segments. */
  n: number;
  ops: Op[];
}

export function segmentName(seq: number): string {
  return `journal-${String(seq).padStart(8, '0')}.log`;
}

/** Segment numbers found among `names`, ascending. */
export function segmentNumbers(names: readonly string[]): number[] {
  const out: number[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

export function encodeRecord(record: JournalRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

export interface ScanResult {
  records: JournalRecord[];
  /** Bytes of whole, valid records from the start of the segment. */
  validBytes: number;
  /** Set when the segment ends in a torn record: where it starts and why it is not whole. */
  torn: { offset: number; reason: string } | null;
}

export class JournalCorruption extends Error {
  override name = 'JournalCorruption';
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} at offset ${offset}`);
  }
}

function zerosFrom(buf: Buffer, offset: number): boolean {
  for (let i = offset; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Reads every record of one segment. Throws JournalCorruption for a bad record that is not the tail. */
export function scanSegment(buf: Buffer): ScanResult {
  const records: JournalRecord[] = [];
  let offset = 0;
  const torn = (reason: string): ScanResult => ({ records, validBytes: offset, torn: { offset, reason } });
  while (offset < buf.length) {
    if (buf.length - offset < HEADER_BYTES) return torn('partial record header');
    const length = buf.readUInt32LE(offset);
    const crc = buf.readUInt32LE(offset + 4);
    if (length === 0 || length > MAX_RECORD_BYTES) {
      if (zerosFrom(buf, offset)) return torn('zero bytes after the last record');
      throw new JournalCorruption(offset, `record length ${length} is impossible`);
    }
    const end = offset + HEADER_BYTES + length;
    if (end > buf.length)
      return torn(`record of ${length} bytes cut short at ${buf.length - offset - HEADER_BYTES}`);
    const payload = buf.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== crc) {
      if (end === buf.length || zerosFrom(buf, end)) return torn('checksum mismatch in the last record');
      throw new JournalCorruption(offset, 'checksum mismatch');
    }
    let record: JournalRecord;
    try {
      record = JSON.parse(payload.toString('utf8')) as JournalRecord;
    } catch (err) {
      throw new JournalCorruption(offset, `record is not JSON (${(err as Error).message})`);
    }
    if (typeof record?.n !== 'number' || !Array.isArray(record.ops))
      throw new JournalCorruption(offset, 'record has no group number or ops');
    records.push(record);
    offset = end;
  }
  return { records, validBytes: offset, torn: null };
}
