// Entry point of a scan worker thread (see scan-thread.ts): scans one tree, posts it packed.
import { parentPort, workerData } from 'node:worker_threads';
import { type ScanJob, packedScan } from './scan-thread.js';

const reply = await packedScan(workerData as ScanJob);
const transfer = reply.ok ? [reply.entries.nums.buffer, reply.entries.kinds.buffer, reply.excluded.nums.buffer, reply.excluded.kinds.buffer] : [];
parentPort?.postMessage(reply, transfer as ArrayBuffer[]);
