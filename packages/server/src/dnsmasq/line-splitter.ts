/**
 * Splits a byte stream into lines without ever holding more than `maxLineLength` bytes of an
 * unfinished line: a longer line is delivered in pieces (flagged `truncated`), so a runaway writer
 * cannot grow memory. Each line is decoded on its own into a fresh string (UTF-8 never has a
 * newline byte inside a character): strings cut out of a large decoded chunk would keep the whole
 * chunk alive for as long as any event holds a piece of it.
 */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialLength = 0;
  private continuing = false;

  constructor(
    private readonly onLine: (line: string, truncated: boolean) => void,
    private readonly maxLineLength = 16 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(10, start)) >= 0) {
      this.finishLine(buf.subarray(start, nl));
      start = nl + 1;
    }
    if (start < buf.length) {
      // Copied: the caller may reuse its buffer, and a small copy frees the big chunk.
      this.partial.push(Buffer.from(buf.subarray(start)));
      this.partialLength += buf.length - start;
      while (this.partialLength > this.maxLineLength) {
        const all = Buffer.concat(this.partial);
        this.deliver(all.subarray(0, this.maxLineLength), true);
        const rest = Buffer.from(all.subarray(this.maxLineLength));
        this.partial = [rest];
        this.partialLength = rest.length;
        this.continuing = true;
      }
    }
  }

  end(): void {
    if (this.partialLength > 0) this.finishLine(Buffer.alloc(0));
    this.partial = [];
    this.partialLength = 0;
    this.continuing = false;
  }

  private finishLine(tail: Buffer): void {
    let line = this.partialLength > 0 ? Buffer.concat([...this.partial, tail]) : tail;
    this.partial = [];
    this.partialLength = 0;
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    while (line.length > this.maxLineLength) {
      this.deliver(line.subarray(0, this.maxLineLength), true);
      line = line.subarray(this.maxLineLength);
      this.continuing = true;
    }
    this.deliver(line, this.continuing);
    this.continuing = false;
  }

  private deliver(bytes: Buffer, truncated: boolean): void {
    if (bytes.length === 0 && !truncated) return;
    this.onLine(bytes.toString('utf8'), truncated);
  }
}
