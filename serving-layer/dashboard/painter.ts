// Data changes on every message; the screen follows at most `maxFps` times a second. One pending
// frame request is the dirty flag: any number of changes before that frame make one paint.
export interface Painter {
  /** Marks the screen stale; the next allowed frame repaints it. */
  invalidate(): void;
  /** Paints done so far. */
  readonly paints: number;
}

export interface FrameSource {
  requestFrame(callback: (now: number) => void): void;
}

export function createPainter(paint: () => void, frames: FrameSource, maxFps = 30): Painter {
  const minInterval = 1000 / maxFps;
  let requested = false;
  let last = Number.NEGATIVE_INFINITY;
  let paints = 0;

  const onFrame = (now: number) => {
    requested = false;
    // Frames come at the display's rate (60 Hz or more): skip those that come too soon.
    if (now - last < minInterval - 1) return request();
    last = now;
    paints++;
    paint();
  };
  const request = () => {
    if (requested) return;
    requested = true;
    frames.requestFrame(onFrame);
  };
  return {
    invalidate() {
      request();
    },
    get paints() {
      return paints;
    },
  };
}
