// kafkajs 2.2.4's Connection.processData reassembles each response from the socket's reads by
// gathering the reads, concatenating them once the response is complete, and keeping the bytes
// after it as a view of that concatenation. Between responses that view is empty but still holds
// the whole buffer: in the all-in-one soak each fetching connection kept its last 24 MB fetch
// alive until the next one had arrived, beside the reads of the next and their concatenation (a
// heap snapshot late in a run: 48 MB of the ~300 MB of live buffers; docs/soak.md). Here a
// response's buffer is allocated once its size is known and each read is copied into it as it
// comes: the same one copy per byte, one response's bytes alive rather than three, and nothing of
// it held once it is handed over.

/** What processData touches of kafkajs's Connection. */
export interface ConnectionInternals {
  authHandlers: unknown;
  chunks: Buffer[];
  bytesBuffered: number;
  bytesNeeded: number;
  requestQueue: { fulfillRequest(response: { size: number; correlationId: number; payload: Buffer }): void };
  socket: { destroy(error: Error): void } | null;
  /** The response being filled, and how much of it is. */
  pendingResponse?: Buffer | undefined;
  pendingFilled?: number;
}

type ProcessData = (this: ConnectionInternals, data: Buffer) => unknown;

const SIZE_BYTES = 4;

function hand(connection: ConnectionInternals, response: Buffer): void {
  connection.requestQueue.fulfillRequest({
    size: response.length,
    correlationId: response.readInt32BE(0),
    payload: response.subarray(SIZE_BYTES),
  });
}

/**
 * processData for kafkajs's Connection. While the connection authenticates (SASL), kafkajs's own
 * runs: it hands raw reads to the handshake. Bytes it left gathered are read first.
 */
export function reassemblingProcessData(original: ProcessData): ProcessData {
  return function processData(this: ConnectionInternals, data: Buffer) {
    if (this.authHandlers) return original.call(this, data);
    let rest = data;
    if (this.chunks.length > 0) {
      rest = Buffer.concat([...this.chunks, data]);
      this.chunks = [];
      this.bytesBuffered = 0;
    }
    while (rest.length > 0) {
      let response = this.pendingResponse;
      if (response === undefined) {
        if (rest.length < SIZE_BYTES) {
          // A copy: a view would hold the whole read.
          this.chunks = [Buffer.from(rest)];
          this.bytesBuffered = rest.length;
          return;
        }
        const size = rest.readInt32BE(0);
        if (size < SIZE_BYTES) {
          // Every response starts with its correlation id: a smaller size is a broken stream, and
          // nothing after it can be framed. kafkajs's error handler rejects what is waiting for a
          // response and reconnects. (kafkajs's own code threw here, out of the socket's data
          // handler: an uncaught exception.)
          this.chunks = [];
          this.bytesBuffered = 0;
          this.socket?.destroy(new Error(`a Kafka response of ${size} bytes cannot be read`));
          return;
        }
        if (rest.length >= SIZE_BYTES + size) {
          // The whole response in this read, as most small responses come: a view of the read.
          hand(this, rest.subarray(SIZE_BYTES, SIZE_BYTES + size));
          rest = rest.subarray(SIZE_BYTES + size);
          continue;
        }
        response = Buffer.allocUnsafe(size);
        this.pendingResponse = response;
        this.pendingFilled = 0;
        rest = rest.subarray(SIZE_BYTES);
      }
      const filled = this.pendingFilled ?? 0;
      const taken = Math.min(rest.length, response.length - filled);
      rest.copy(response, filled, 0, taken);
      rest = rest.subarray(taken);
      this.pendingFilled = filled + taken;
      if (this.pendingFilled === response.length) {
        this.pendingResponse = undefined;
        this.pendingFilled = 0;
        hand(this, response);
      }
    }
  };
}
