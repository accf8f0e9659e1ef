// A small DNS server for the multi-host tests, run inside the client namespace: it answers
// A queries for one name with the addresses last written to its stdin (one JSON line:
// {"addresses": [...]}), NXDOMAIN for every other name. TTL 0, so nothing caches an answer.
// Plain JavaScript, so that it starts fast.
//   node dns-server.mjs HOST PORT NAME
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const [host, port, name] = process.argv.slice(2);
let addresses = [];

/** The question's name (labels joined by dots) and where the question ends. */
function readQuestion(query) {
  const labels = [];
  let at = 12;
  while (query[at] !== 0) {
    const length = query[at];
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  return { qname: labels.join('.').toLowerCase(), qtype: query.readUInt16BE(at + 1), end: at + 5 };
}

function answer(query) {
  const { qname, qtype, end } = readQuestion(query);
  const ours = qname === name.toLowerCase().replace(/\.$/, '');
  const records = ours && qtype === 1 ? addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (ours ? 0 : 3), 2); // QR, AA, RD copied; NXDOMAIN if not ours
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const answers = records.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the question's name
    record.writeUInt16BE(1, 2); // A
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(0, 6); // TTL
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    return record;
  });
  return Buffer.concat([header, query.subarray(12, end), ...answers]);
}

const socket = dgram.createSocket('udp4');
socket.on('message', (query, from) => {
  try {
    socket.send(answer(query), from.port, from.address);
  } catch {
    // a malformed query: no answer
  }
});
socket.bind(Number(port), host, () => process.stdout.write('ready\n'));
createInterface({ input: process.stdin }).on('line', (line) => {
  addresses = JSON.parse(line).addresses;
  process.stdout.write(`set ${addresses.join(',')}\n`);
});
