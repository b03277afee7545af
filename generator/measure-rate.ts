// Single-core generation rate. Usage: node --import tsx generator/measure-rate.ts [count]
import { generate } from './index.ts';

const count = Number(process.argv[2] ?? 1_000_000);
const options = { seed: 7, count, lateFraction: 0.02, duplicateFraction: 0.01, badFraction: 0.01 };
// Warm up the JIT so the figure reflects steady state.
for (const _ of generate({ ...options, count: 50_000 }));
const started = process.hrtime.bigint();
const cpuBefore = process.cpuUsage();
let bytes = 0;
for (const record of generate(options)) bytes += record.value.length;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
// CPU time as well: on a shared machine wall time also measures the neighbours.
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(
  `${count} records in ${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU: ` +
    `${Math.round(count / seconds)} records/s wall, ${Math.round(count / cpuSeconds)} records/s CPU, ` +
    `${(bytes / count).toFixed(0)} bytes/record`,
);
