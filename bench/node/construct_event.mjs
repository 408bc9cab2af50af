// Times stripe-node's webhooks.constructEvent on the event bodies in ../data.
//
// For each file the body is signed once with the current time. constructEvent then
// runs on it repeatedly, first as untimed warm-up and then as timed calls. Each timed
// call is measured on its own with process.hrtime.bigint(), and one JSON line per
// file goes to stdout.
//
// The body is passed as a Buffer, which is what express.raw() puts in req.body.
// constructEvent then pays for decoding it to a string.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Stripe from 'stripe';

const SECRET = 'whsec_bench_0123456789abcdefghijklmnopqrstuv';
const DATA_DIR = new URL('../data/', import.meta.url);
const DATA_FILES = ['charge-5k.json', 'charge-100k.json'];

const USAGE = `Usage: node construct_event.mjs [options]

  --seconds S          time budget for the timed calls on each file, in seconds (default: 2)
  --iterations N       run exactly N timed calls per file instead of using --seconds;
                       the whole run must finish within the SDK's 300 s timestamp tolerance
  --warmup-seconds S   untimed calls before the timed ones on each file, in seconds (default: 0.5)`;

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: 'string', default: '2' },
        iterations: { type: 'string' },
        'warmup-seconds': { type: 'string', default: '0.5' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    exitWithUsage(error.message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }

  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values['warmup-seconds']);
  const iterations = values.iterations === undefined ? undefined : Number(values.iterations);
  if (!(seconds > 0)) {
    exitWithUsage(`--seconds must be a positive number, got ${values.seconds}`);
  }
  if (!(warmupSeconds >= 0)) {
    exitWithUsage(`--warmup-seconds must be zero or more, got ${values['warmup-seconds']}`);
  }
  if (iterations !== undefined && !(Number.isInteger(iterations) && iterations >= 1)) {
    exitWithUsage(`--iterations must be an integer of at least 1, got ${values.iterations}`);
  }
  return { seconds, warmupSeconds, iterations };
}

function exitWithUsage(message) {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

// Builds a Stripe-Signature header value: t=<timestamp>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
function sign(body, timestamp) {
  const digest = createHmac('sha256', SECRET)
    .update(`${timestamp}.`)
    .update(body)
    .digest('hex');
  return `t=${timestamp},v1=${digest}`;
}

// Returns the nearest-rank percentile of an ascending array.
function percentile(sorted, fraction) {
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1];
}

// Returns the duration of each timed constructEvent call, in nanoseconds.
function timeCalls(webhooks, body, header, options) {
  const warmupEnd = process.hrtime.bigint() + BigInt(Math.round(options.warmupSeconds * 1e9));
  while (process.hrtime.bigint() < warmupEnd) {
    webhooks.constructEvent(body, header, SECRET);
  }

  const durations = [];
  if (options.iterations !== undefined) {
    for (let i = 0; i < options.iterations; i++) {
      const start = process.hrtime.bigint();
      webhooks.constructEvent(body, header, SECRET);
      durations.push(Number(process.hrtime.bigint() - start));
    }
    return durations;
  }

  const deadline = process.hrtime.bigint() + BigInt(Math.round(options.seconds * 1e9));
  for (;;) {
    const start = process.hrtime.bigint();
    webhooks.constructEvent(body, header, SECRET);
    const end = process.hrtime.bigint();
    durations.push(Number(end - start));
    if (end >= deadline) {
      return durations;
    }
  }
}

function benchFile(stripe, name, options) {
  const body = readFileSync(new URL(name, DATA_DIR));
  const header = sign(body, Math.floor(Date.now() / 1000));

  // Check once, untimed, that verification passes and the event has the file's id.
  const event = stripe.webhooks.constructEvent(body, header, SECRET);
  const expectedId = JSON.parse(body.toString('utf8')).id;
  if (event.id !== expectedId) {
    throw new Error(`${name}: constructEvent returned event ${event.id}, expected ${expectedId}`);
  }

  const durations = timeCalls(stripe.webhooks, body, header, options).sort((a, b) => a - b);
  const totalNs = durations.reduce((sum, value) => sum + value, 0);
  const toMicroseconds = (ns) => Math.round(ns) / 1000;
  return {
    impl: 'stripe-node',
    version: Stripe.PACKAGE_VERSION,
    node: process.versions.node,
    file: name,
    body_bytes: body.length,
    iterations: durations.length,
    mean_us: toMicroseconds(totalNs / durations.length),
    p50_us: toMicroseconds(percentile(durations, 0.5)),
    p99_us: toMicroseconds(percentile(durations, 0.99)),
  };
}

function main() {
  const options = parseOptions();
  // constructEvent makes no API request, so this placeholder key is never used.
  const stripe = new Stripe('sk_test_bench_unused');
  for (const name of DATA_FILES) {
    console.log(JSON.stringify(benchFile(stripe, name, options)));
  }
}

main();
