// The system tools some tests need, which no npm package ships: iproute2's `ip netns` and
// nftables' `nft` for the multi-host tests, openssl to make their TLS certificates,
// redis-server and redis-cli for the shared store's tests. `npm test` installs them with apt-get when it runs as root
// and they are missing (CI runs as root on Debian); otherwise those tests report themselves
// as skipped, with the reason, in the summary.
import { spawnSync } from 'node:child_process';

const TOOLS = [
  { command: 'ip', probe: ['-V'], debianPackage: 'iproute2' },
  { command: 'nft', probe: ['--version'], debianPackage: 'nftables' },
  { command: 'openssl', probe: ['version'], debianPackage: 'openssl' },
  { command: 'redis-server', probe: ['--version'], debianPackage: 'redis-server' },
  // Forms the Redis Cluster of the topology tests, and checks a server inside a namespace.
  { command: 'redis-cli', probe: ['--version'], debianPackage: 'redis-tools' },
];

const present = (tool) => !spawnSync(tool.command, tool.probe, { stdio: 'ignore' }).error;

export function provisionTestTools() {
  const missing = TOOLS.filter((tool) => !present(tool));
  if (missing.length === 0) return;
  const packages = missing.map((tool) => tool.debianPackage);
  const isRoot = process.getuid?.() === 0;
  const hasApt = !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error;
  if (!isRoot || !hasApt) {
    console.error(`run-tests: ${missing.map((t) => t.command).join(' and ')} missing (${packages.join(', ')}); the tests that need them will be skipped${isRoot ? ' (no apt-get to install them)' : ' (installing them needs root)'}`);
    return;
  }
  console.error(`run-tests: installing ${packages.join(' ')} for the tests`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (install.status !== 0) console.error(`run-tests: could not install ${packages.join(' ')}; the tests that need them will be skipped`);
}
