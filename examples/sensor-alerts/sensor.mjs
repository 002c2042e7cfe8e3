// A simulated sensor, so the example runs anywhere: a slow wave around `base` with a little seeded noise.
// Replace `readSensor` with your hardware read; the app only needs `(sensor, now) => number`.

/** A reader whose value swings ±`amplitude` around `base` once per `periodMs`, plus noise (seeded, repeatable). */
export function simulatedSensors({ base = 22, amplitude = 10, periodMs = 20_000, noise = 1, seed = 1 } = {}) {
  let state = seed >>> 0;
  const random = () => {
    // mulberry32: small, fast and good enough for a demo signal
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (sensor, now) => {
    const phase = [...sensor].reduce((sum, c) => sum + c.charCodeAt(0), 0); // sensors are out of step
    const wave = Math.sin((2 * Math.PI * now) / periodMs + phase);
    return Math.round((base + amplitude * wave + noise * (random() * 2 - 1)) * 100) / 100;
  };
}
