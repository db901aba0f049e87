/** A progress bar on stderr for long work (silent when stderr is not a terminal). */
import cliProgress from 'cli-progress';

export interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

export function progressBar(label: string, total: number, unit = 'bytes'): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | eta {eta}s`, stream: process.stderr, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done: number, t: number) => {
      bar.setTotal(t);
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}
