// Entry point of a listing worker thread (see threaded.ts): walks one tree, posts its folders.
import { parentPort, workerData } from 'node:worker_threads';
import { type ListJob, listInWorker } from './threaded.js';

await listInWorker(workerData as ListJob, (m, transfer) => parentPort?.postMessage(m, transfer));
