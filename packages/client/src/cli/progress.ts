/**
 * A progress line while `gatehouse-connect login` waits for the browser: a spinner on a terminal, one
 * plain line otherwise (logs, CI), both on stderr so stdout stays parseable.
 */
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Progress {
  stop(finalLine?: string): void;
}

export function startProgress(message: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    stream.write(`${message}\n`);
    return { stop: (finalLine) => void (finalLine && stream.write(`${finalLine}\n`)) };
  }
  let frame = 0;
  const startedAt = Date.now();
  const draw = () => {
    const seconds = Math.floor((Date.now() - startedAt) / 1000);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${message} ${seconds}s`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    stop(finalLine) {
      clearInterval(timer);
      stream.write(`\r\x1b[2K${finalLine ? `${finalLine}\n` : ''}`);
    },
  };
}
