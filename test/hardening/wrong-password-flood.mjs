// A flood of wrong basic-auth passwords, run as its own process so that the
// attacker does not share the exporter's event loop: autocannon on URL with
// CONNECTIONS connections for SECONDS seconds, each request a fresh password
// for USER. Prints the count of each status as JSON.
// Usage: node wrong-password-flood.mjs URL USER CONNECTIONS SECONDS
import autocannon from 'autocannon';

const [url, user, connections, seconds] = process.argv.slice(2);
let guess = 0;
const authorization = () => `Basic ${Buffer.from(`${user}:guess-${guess++}`).toString('base64')}`;
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: authorization() } }) }],
});
const counts = { '2xx': result['2xx'] };
for (const [status, { count }] of Object.entries(result.statusCodeStats)) counts[status] = count;
process.stdout.write(JSON.stringify(counts));
