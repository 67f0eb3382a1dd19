/**
 * A Server-Sent Events parser (the WHATWG "event stream interpretation"): bytes in, messages out.
 * Kept apart from the network so it can be fed arbitrary chunk boundaries in tests.
 */

export interface SseMessage {
  /** `event:` field, "message" when absent. */
  event: string;
  data: string;
  /** The last `id:` seen so far on this stream (ids persist across messages, as in the spec). */
  id: string;
}

export interface SseOutput {
  messages: SseMessage[];
  /** A `retry:` field asked for this reconnection delay (ms). */
  retry?: number;
  /** Comment lines seen (servers send them as heartbeats). */
  comments: number;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private pendingCR = false;
  private firstChunk = true;
  private data: string[] = [];
  private eventType = '';
  lastEventId = '';

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
  }

  push(chunk: Uint8Array | string): SseOutput {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.firstChunk && text.length) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.firstChunk = false;
    }
    // A CR ending the previous chunk and an LF starting this one are a single line break.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;

    const out: SseOutput = { messages: [], comments: 0 };
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (ch === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseOutput): void {
    if (line === '') return this.dispatch(out);
    if (line.startsWith(':')) {
      out.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) out.retry = Number(value);
        break;
      default:
        // unknown fields are ignored, as the spec says
        break;
    }
  }

  private dispatch(out: SseOutput): void {
    if (this.data.length) out.messages.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId });
    this.data = [];
    this.eventType = '';
  }
}
