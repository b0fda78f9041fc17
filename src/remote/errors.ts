import { UsageError } from '../errors.js';

/** A connection that cannot be made at all: bad host key, unreachable host, refused login (exit 2 at start). */
export class ConnectError extends UsageError {}

/** The connection to a remote tree dropped: every operation on it fails with this until it is reopened. */
export class ConnectionLost extends Error {
  readonly code = 'ECONNRESET';
}
