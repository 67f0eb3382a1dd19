import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines without ever holding more than `maxLineLength` characters: a
 * longer line is delivered in pieces (flagged `truncated`), so a runaway writer cannot grow memory.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private continuing = false;

  constructor(
    private readonly onLine: (line: string, truncated: boolean) => void,
    private readonly maxLineLength = 16 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    let text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      let line = text.slice(0, nl).replace(/\r$/, '');
      text = text.slice(nl + 1);
      while (line.length > this.maxLineLength) {
        this.deliver(line.slice(0, this.maxLineLength), true);
        line = line.slice(this.maxLineLength);
        this.continuing = true;
      }
      this.deliver(line, this.continuing);
      this.continuing = false;
    }
    while (text.length > this.maxLineLength) {
      this.deliver(text.slice(0, this.maxLineLength), true);
      text = text.slice(this.maxLineLength);
      this.continuing = true;
    }
    this.partial = text;
  }

  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest.length > 0) this.deliver(rest, this.continuing);
    this.continuing = false;
  }

  private deliver(line: string, truncated: boolean): void {
    if (line.length === 0 && !truncated) return;
    this.onLine(line, truncated);
  }
}
